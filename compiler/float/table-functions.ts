/**
 * The element-wise functions the table activations compute (compiler/ops/table-activation.ts),
 * and their derivatives: the float32 reference's definition, and what the int8 tables are
 * made from (each table entry is one of these at one dequantised byte).
 *
 * Derivatives at kinks are PyTorch's (its *_backward kernels), so a model fine-tuned here
 * and there takes the same steps:
 *   hardsigmoid: alpha strictly inside (0 < alpha x + beta < 1), 0 at and beyond the kinks;
 *   hardswish:   0 below -3, x / 3 + 1/2 on [-3, 3] (so -1/2 at -3 and 3/2 at 3), 1 above 3;
 *   leakyrelu:   1 for x > 0, alpha for x <= 0 (alpha at 0);
 *   clampmin:    1 for x >= min, 0 below (torch.clamp(x, min=...): the gradient passes at the
 *                kink; TF.js's maximum(x, c) agrees).
 * Computed in float64 and rounded once into float32 by the caller's array.
 */
import type { FnAttrs } from '../ir/graph.js';

/** The closed set of table functions. */
export type TableFunction = 'sigmoid' | 'hardsigmoid' | 'hardswish' | 'silu' | 'leakyrelu' | 'clampmin';

export interface ElementwiseFunction {
  f(x: number, a: FnAttrs): number;
  /** d f / d x at x. */
  df(x: number, a: FnAttrs): number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export const TABLE_FUNCTIONS: { readonly [K in TableFunction]: ElementwiseFunction } = {
  sigmoid: { f: sigmoid, df: (x) => sigmoid(x) * (1 - sigmoid(x)) },
  hardsigmoid: {
    f: (x, { alpha, beta }) => Math.min(1, Math.max(0, alpha * x + beta)),
    df: (x, { alpha, beta }) => (alpha * x + beta > 0 && alpha * x + beta < 1 ? alpha : 0),
  },
  hardswish: {
    f: (x) => (x * Math.min(6, Math.max(0, x + 3))) / 6,
    df: (x) => (x < -3 ? 0 : x <= 3 ? x / 3 + 0.5 : 1),
  },
  silu: { f: (x) => x * sigmoid(x), df: (x) => sigmoid(x) * (1 + x * (1 - sigmoid(x))) },
  leakyrelu: { f: (x, { alpha }) => (x > 0 ? x : alpha * x), df: (x, { alpha }) => (x > 0 ? 1 : alpha) },
  // y = max(x, min), min held in alpha
  clampmin: { f: (x, { alpha }) => Math.max(x, alpha), df: (x, { alpha }) => (x >= alpha ? 1 : 0) },
};

// Plain loops, not Float32Array.from(x, fn): V8 runs that through the iterator protocol,
// and it was a quarter of pretraining a model with table activations (same values: each
// element is f of it, rounded once into float32 by the store).

/** y = f(x), element by element. */
export function applyFunction(fn: TableFunction, a: FnAttrs, x: Float32Array): Float32Array {
  const { f } = TABLE_FUNCTIONS[fn];
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = f(x[i]!, a);
  return y;
}

/** gx = gy * f'(x), element by element. */
export function functionBackward(fn: TableFunction, a: FnAttrs, x: Float32Array, gy: Float32Array): Float32Array {
  const { df } = TABLE_FUNCTIONS[fn];
  const gx = new Float32Array(gy.length);
  for (let i = 0; i < gy.length; i++) gx[i] = gy[i]! * Math.fround(df(x[i]!, a));
  return gx;
}
