/**
 * A graph's boundary as tinytrain reads it: the initializers (weights) by name, exactly
 * one runtime input (a float [1, C, H, W] or [1, N]) and exactly one output, whose shape,
 * where the file declares it, must be the one the import computes.
 */
import { TinytrainError } from '../../errors.js';
import type { ActShape } from './ir.js';
import { DataType, type OnnxGraph, type OnnxValueInfo } from './proto.js';
import { dtypeName, MAX_ELEMENTS } from './tensor.js';
import { chooseOutput } from '../outputs.js';

export interface GraphIo {
  /** Initializer index by tensor name. */
  initializers: Map<string, number>;
  /** Names of sparse initializers (refused where a node reads one). */
  sparse: Set<string>;
  inputName: string;
  inShape: ActShape;
  outputName: string;
}

/**
 * `pinned`: the input's dimensions from --input-shape, in the file's order, for its dynamic
 * ones. `output`: the output to train (--model-output), required when there are several.
 */
export function graphIo(graph: OnnxGraph, where: string, pinned?: readonly number[], output?: string): GraphIo {
  const initializers = new Map<string, number>();
  graph.initializer.forEach((t, i) => {
    if (!t.name) throw new TinytrainError(`${where}: initializer ${i} has no name`);
    initializers.set(t.name, i);
  });
  const sparse = new Set(graph.sparse_initializer.map((t) => String((t as { values?: { name?: string } }).values?.name ?? '')));
  const runtimeInputs = graph.input.filter((v) => !initializers.has(v.name ?? ''));
  if (runtimeInputs.length !== 1) {
    throw new TinytrainError(
      `${where}: the model has ${runtimeInputs.length} inputs (${runtimeInputs.map((v) => `'${v.name}'`).join(', ') || 'none'})`,
      'tinytrain models take exactly one input tensor; weights must be initializers',
    );
  }
  const inShape = inputShape(runtimeInputs[0]!, where, pinned);
  const outputName = chooseOutput(
    graph.output.map((v) => v.name ?? ''),
    output,
    where,
  );
  return { initializers, sparse, inputName: runtimeInputs[0]!.name ?? '', inShape, outputName };
}

/**
 * One float input, [1, C, H, W], [1, C, L] (a sequence: a map of one row) or [1, N]; a symbolic batch dimension means 1. `pinned`
 * (--input-shape, in the file's order) gives the dynamic dimensions and must agree with
 * the static ones.
 */
function inputShape(v: OnnxValueInfo, where: string, pinned?: readonly number[]): ActShape {
  const name = `'${v.name}'`;
  const t = v.type?.tensor_type;
  if (!t) throw new TinytrainError(`${where}: input ${name} is not a tensor`, 'the model input must be a float tensor');
  if (t.elem_type !== DataType.FLOAT) {
    throw new TinytrainError(`${where}: input ${name} is ${dtypeName(t.elem_type)}`, 'the model input must be FLOAT (float32); quantised inputs are taken through QuantizeLinear');
  }
  const dims = t.shape?.dim ?? pinned?.map(() => ({}) as { dim_value?: number; dim_param?: string });
  if (!dims) throw new TinytrainError(`${where}: input ${name} has no shape`, 'export with a fixed input shape, or give it: --input-shape N,C,H,W');
  if (pinned && pinned.length !== dims.length) {
    throw new TinytrainError(
      `${where}: --input-shape has ${pinned.length} dimensions, input ${name} has ${dims.length}`,
      `give all ${dims.length}, in the file's order (N,C,H,W for an image)`,
    );
  }
  const vals = dims.map((d, i) => {
    const fixed = d.dim_value !== undefined && d.dim_value > 0 && Number.isSafeInteger(d.dim_value);
    if (pinned) {
      if (fixed && d.dim_value !== pinned[i]) {
        throw new TinytrainError(
          `${where}: --input-shape gives dimension ${i} of input ${name} as ${pinned[i]}, the file fixes it at ${d.dim_value}`,
          'pin only what the file leaves open; keep its fixed dimensions',
        );
      }
      return pinned[i]!;
    }
    if (fixed) return d.dim_value!;
    if (i === 0 && (d.dim_value === undefined || d.dim_value === 0)) return 1; // symbolic/unknown batch
    if (d.dim_value !== undefined && d.dim_value !== 0) throw new TinytrainError(`${where}: input ${name} has an invalid dimension ${d.dim_value}`);
    throw new TinytrainError(
      `${where}: input ${name} has a dynamic dimension ${i}${d.dim_param ? ` ('${d.dim_param}')` : ''}`,
      "tinytrain compiles static shapes: pin them with --input-shape (e.g. 1,3,96,96, in the file's order), or export with fixed height, width and channels",
    );
  });
  if (vals.length < 2 || vals.length > 4) {
    throw new TinytrainError(`${where}: input ${name} has shape [${vals.join(', ')}]`, 'tinytrain takes an image [1, C, H, W], a sequence [1, C, L] or a vector [1, N]');
  }
  if (vals[0] !== 1) {
    throw new TinytrainError(`${where}: input ${name} has batch size ${vals[0]}`, 'tinytrain models take one sample: export with batch 1 (or a symbolic batch dimension)');
  }
  const size = vals.reduce((p, q) => p * q, 1);
  if (size > MAX_ELEMENTS) throw new TinytrainError(`${where}: input ${name} of shape [${vals}] is too large`);
  if (vals.length === 4) return { kind: 'map', c: vals[1]!, h: vals[2]!, w: vals[3]! };
  if (vals.length === 3) return { kind: 'map', c: vals[1]!, h: 1, w: vals[2]!, oneD: true };
  return { kind: 'flat', n: vals[1]!, chw: null };
}

/** The output shape the file declares (where static) must be the one we computed. */
export function checkDeclaredOutput(v: OnnxValueInfo, dims: number[], where: string): void {
  const d = v.type?.tensor_type?.shape?.dim;
  if (!d) return;
  const declared = d.map((x, i) => (i === 0 ? 1 : x.dim_value));
  const match = declared.length === dims.length && declared.every((x, i) => x === undefined || x === 0 || x === dims[i]);
  if (!match) {
    throw new TinytrainError(
      `${where}: the output '${v.name}' is declared as [${d.map((x) => x.dim_value ?? x.dim_param ?? '?').join(', ')}] but computes [${dims.join(', ')}]`,
      'the model file is inconsistent; re-export it',
    );
  }
}
