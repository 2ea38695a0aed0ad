/** Reading a node's attributes with types checked (a mistyped attribute is the model's error, named). */
import type { OnnxAttribute, OnnxNode } from './proto.js';
import { readTensor, type ConstTensor } from './tensor.js';
import { nodeError } from './ir.js';

// AttributeProto.AttributeType
const FLOAT = 1,
  INT = 2,
  STRING = 3,
  TENSOR = 4,
  FLOATS = 6,
  INTS = 7;

export class Attrs {
  private readonly byName = new Map<string, OnnxAttribute>();

  constructor(
    node: OnnxNode,
    private readonly label: string,
  ) {
    for (const a of node.attribute ?? []) {
      if (!a.name) throw nodeError(label, 'has an attribute without a name');
      if (this.byName.has(a.name)) throw nodeError(label, `attribute '${a.name}' is given twice`);
      if (a.ref_attr_name) throw nodeError(label, `attribute '${a.name}' refers to a function attribute, which only functions may do`);
      this.byName.set(a.name, a);
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }
  names(): string[] {
    return [...this.byName.keys()];
  }

  private get(name: string, type: number, typeName: string): OnnxAttribute | undefined {
    const a = this.byName.get(name);
    if (a && a.type !== undefined && a.type !== type) throw nodeError(this.label, `attribute '${name}' must be ${typeName} (AttributeProto type ${type}), found type ${a.type}`);
    return a;
  }

  int(name: string, dflt: number): number {
    const a = this.get(name, INT, 'an int');
    const v = a?.i ?? dflt;
    if (!Number.isSafeInteger(v)) throw nodeError(this.label, `attribute '${name}' = ${v} is out of range`);
    return v;
  }

  ints(name: string): number[] | undefined {
    const a = this.get(name, INTS, 'a list of ints');
    if (!a) return undefined;
    for (const v of a.ints) if (!Number.isSafeInteger(v)) throw nodeError(this.label, `attribute '${name}' has an out-of-range value ${v}`);
    return a.ints.map(Number);
  }

  float(name: string, dflt: number): number {
    return this.get(name, FLOAT, 'a float')?.f ?? dflt;
  }

  floats(name: string): number[] | undefined {
    return this.get(name, FLOATS, 'a list of floats')?.floats;
  }

  string(name: string, dflt: string): string {
    const a = this.get(name, STRING, 'a string');
    return a?.s ? Buffer.from(a.s).toString('utf8') : dflt;
  }

  tensor(name: string): ConstTensor | undefined {
    const a = this.get(name, TENSOR, 'a tensor');
    if (!a) return undefined;
    if (!a.t) throw nodeError(this.label, `attribute '${name}' holds no tensor`);
    return readTensor(a.t, `ONNX node ${this.label}, attribute '${name}'`);
  }

  /** Refuse attributes the importer does not implement when they are set to anything but their neutral value. */
  only(allowed: readonly string[]): void {
    for (const n of this.byName.keys()) {
      if (!allowed.includes(n)) throw nodeError(this.label, `attribute '${n}' is not supported`, `supported attributes: ${allowed.join(', ') || 'none'}`);
    }
  }
}
