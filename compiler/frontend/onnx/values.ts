/**
 * The value of every tensor name while the nodes are imported: the model input is
 * activation 0, node outputs are set as their node is imported, and initializers are
 * read on first use. A name that resolves to nothing is an error that says why.
 */
import { nodeError, type Value } from './ir.js';
import type { GraphIo } from './graph-io.js';
import type { OnnxGraph } from './proto.js';
import { readTensor } from './tensor.js';

export class TensorValues {
  private readonly env: Map<string, Value>;

  constructor(
    private readonly graph: OnnxGraph,
    private readonly io: GraphIo,
    /** Producer of every node output, to tell "later node" from "undefined". */
    private readonly producer: ReadonlyMap<string, number>,
    private readonly where: string,
  ) {
    this.env = new Map<string, Value>([[io.inputName, { kind: 'act', act: 0 }]]);
  }

  set(name: string, v: Value): void {
    this.env.set(name, v);
  }

  /** The value of `name`, read by `who` (for the error). */
  get(name: string, who: string): Value {
    const v = this.env.get(name);
    if (v) return v;
    const ii = this.io.initializers.get(name);
    if (ii !== undefined) {
      const c: Value = { kind: 'const', t: readTensor(this.graph.initializer[ii]!, `${this.where}: initializer '${name}'`) };
      this.env.set(name, c);
      return c;
    }
    if (this.io.sparse.has(name)) throw nodeError(who, `input '${name}' is a sparse initializer`, 'store weights as dense initializers');
    if (this.producer.has(name)) throw nodeError(who, `input '${name}' is produced by a later node`, 'the graph must be topologically sorted');
    throw nodeError(who, `input '${name}' is not defined by any node, initializer or graph input`);
  }
}
