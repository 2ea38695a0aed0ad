/**
 * Which operator definitions the importer implements.
 *
 * A model declares an opset version per domain; each node then means the newest
 * definition of its op whose `since_version` is <= that opset. We implement the
 * definitions in effect anywhere in opsets MIN_OPSET..MAX_OPSET (so e.g. Relu-6, the
 * definition in effect at opset 11, is accepted even in a model that declares opset 6,
 * while Conv-1 is not, because Conv-11 replaced it). Version histories are those of the
 * vendored schema's release (ONNX 1.17, onnx.defs); a model declaring a newer opset is
 * refused rather than guessed at.
 */
export const MIN_OPSET = 11;
export const MAX_OPSET = 22;

/** since_version history of every op the importer knows, from onnx 1.17's onnx.defs. */
const HISTORY: Record<string, readonly number[]> = {
  Conv: [1, 11, 22],
  Gemm: [1, 6, 7, 9, 11, 13],
  MatMul: [1, 9, 13],
  Relu: [1, 6, 13, 14],
  Clip: [1, 6, 11, 12, 13],
  Add: [1, 6, 7, 13, 14],
  AveragePool: [1, 7, 10, 11, 19, 22],
  GlobalAveragePool: [1, 22],
  MaxPool: [1, 8, 10, 11, 12, 22],
  Pad: [1, 2, 11, 13, 18, 19, 21],
  Sigmoid: [1, 6, 13],
  HardSigmoid: [1, 6, 22],
  HardSwish: [14, 22],
  LeakyRelu: [1, 6, 16],
  PRelu: [1, 6, 7, 9, 16],
  Mul: [1, 6, 7, 13, 14],
  Sub: [1, 6, 7, 13, 14],
  Div: [1, 6, 7, 13, 14],
  Flatten: [1, 9, 11, 13, 21],
  Reshape: [1, 5, 13, 14, 19, 21],
  BatchNormalization: [1, 6, 7, 9, 14, 15],
  Softmax: [1, 11, 13],
  LogSoftmax: [1, 11, 13],
  Identity: [1, 13, 14, 16, 19, 21],
  Dropout: [1, 6, 7, 10, 12, 13, 22],
  QuantizeLinear: [10, 13, 19, 21],
  DequantizeLinear: [10, 13, 19, 21],
  // Shape arithmetic, evaluated at compile time on constants only.
  Constant: [1, 9, 11, 12, 13, 19, 21],
  Shape: [1, 13, 15, 19, 21],
  Gather: [1, 11, 13],
  Slice: [1, 10, 11, 13],
  Unsqueeze: [1, 11, 13, 21],
  Squeeze: [1, 11, 13, 21],
  Concat: [1, 4, 11, 13],
  Cast: [1, 6, 9, 13, 19, 21],
};

/** The ops a model may use (for error hints), grouped as the README lists them. */
export const SUPPORTED_OPS = Object.keys(HISTORY);
export const SUPPORTED_OPS_TEXT =
  'Conv (groups 1 or = channels; pads, auto_pad), Gemm, MatMul (constant right operand), Relu, Clip (as ReLU/ReLU6), Add, AveragePool and MaxPool (pads, auto_pad), ' +
  'Pad (constant, on H/W, folded into the Conv/pool after it), Sigmoid, HardSigmoid, HardSwish, LeakyRelu, PRelu (a constant slope: one, per channel or per element), Mul (same shape or per channel; by a constant, folded), ' +
  'Sub/Div (by a constant, folded), Concat (along channels), GlobalAveragePool, Flatten, Reshape (as a flatten), BatchNormalization (folded), Softmax/LogSoftmax (last op), Identity, Dropout, ' +
  'QuantizeLinear/DequantizeLinear, and Constant/Shape/Gather/Slice/Unsqueeze/Squeeze/Concat/Cast on compile-time constants';

export function isKnownOp(op: string): boolean {
  return Object.prototype.hasOwnProperty.call(HISTORY, op);
}

/** The definition (since_version) a node of `op` means in a model of opset `opset`. */
export function resolveVersion(op: string, opset: number): number | undefined {
  const h = HISTORY[op];
  if (!h) return undefined;
  let v: number | undefined;
  for (const s of h) if (s <= opset) v = s;
  return v;
}

/** True when that definition is one of those in effect in MIN_OPSET..MAX_OPSET. */
export function isSupportedVersion(op: string, version: number): boolean {
  // An op born after MIN_OPSET (HardSwish-14): every definition it has had.
  const first = resolveVersion(op, MIN_OPSET) ?? HISTORY[op]?.[0];
  return first !== undefined && version >= first;
}
