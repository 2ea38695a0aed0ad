/**
 * ADD, MUL, RELU, RELU6, PRELU, and the table activations LOGISTIC, HARD_SWISH, LEAKY_RELU:
 * element-wise operators on activations of one shape (MUL also of a map by one value per
 * channel); and CONCATENATION along channels.
 */
import type { IrFunction, IrOp } from '../../onnx/ir.js';
import { preluSlopes } from '../../prelu-slopes.js';
import { actInput, checkSameDomain, constInput, opError, outputTensor, produce, tensorText, valueInput, type ActInput, type OpCall } from '../context.js';
import { floatConst } from '../tensors.js';
import { ADD_OPTIONS, BuiltinOptions, CONCATENATION_OPTIONS, LEAKY_RELU_OPTIONS, MUL_OPTIONS } from '../schema.js';
import { fusedActivation, options } from './options.js';

export function add(c: OpCall): void {
  const a = actInput(c, 0),
    b = actInput(c, 1);
  if (a.shape.h !== b.shape.h || a.shape.w !== b.shape.w || a.shape.c !== b.shape.c) {
    throw opError(c, `adds [${a.tensor.shape}] and [${b.tensor.shape}]`, 'tinytrain adds tensors of equal shape (no broadcasting)');
  }
  const activation = fusedActivation(c, options(c, BuiltinOptions.AddOptions, 'AddOptions').int8(ADD_OPTIONS.fusedActivation));
  checkSameDomain(c, [a.tensor, b.tensor], outputTensor(c));
  produce(c, { kind: 'add', inputs: [a.act, b.act], activation }, a.shape);
}

/**
 * MUL of two activations: of one shape, or a map by a [1, 1, 1, C] one (squeeze-excitation),
 * either operand order (the mul layer takes the full-size tensor first). int8: TFLite's
 * arithmetic, (a - za) * (b - zb) * s_a s_b / s_y, with tinytrain's rounding (within one
 * step of the interpreter's). A constant operand is refused.
 */
export function mul(c: OpCall): void {
  for (const k of [0, 1]) {
    if (valueInput(c, k).value.kind === 'const') throw opError(c, `multiplies by a constant (input ${k})`, 'tinytrain imports MUL of two computed tensors');
  }
  const a = actInput(c, 0),
    b = actInput(c, 1);
  const same = a.shape.h === b.shape.h && a.shape.w === b.shape.w && a.shape.c === b.shape.c;
  const gate = (g: ActInput, full: ActInput): boolean => g.shape.h * g.shape.w === 1 && g.shape.c === full.shape.c;
  const order = same || gate(b, a) ? [a, b] : gate(a, b) ? [b, a] : undefined;
  if (!order) {
    throw opError(c, `multiplies [${a.tensor.shape}] and [${b.tensor.shape}]`, 'tinytrain multiplies tensors of equal shape, or a map by one value per channel [1, 1, 1, C]');
  }
  const activation = fusedActivation(c, options(c, BuiltinOptions.MulOptions, 'MulOptions').int8(MUL_OPTIONS.fusedActivation));
  checkSameDomain(c, [a.tensor, b.tensor], outputTensor(c));
  produce(c, { kind: 'mul', inputs: order.map((x) => x.act), activation }, order[0]!.shape);
}

/**
 * CONCATENATION along the channels (the last axis of NHWC maps of one height and width, or
 * of [1, N] vectors), 2 to 8 inputs, no fused activation. int8: each input requantised onto
 * the output's grid, or copied when it is on it (TFLite's int8 kernel requires that).
 */
export function concatenation(c: OpCall): void {
  const n = c.op.inputs.length;
  if (n < 2 || n > 8) throw opError(c, `joins ${n} tensor(s)`, 'tinytrain concatenates 2 to 8 tensors');
  const xs = c.op.inputs.map((_, k) => actInput(c, k));
  const o = options(c, BuiltinOptions.ConcatenationOptions, 'ConcatenationOptions');
  const rank = xs[0]!.tensor.shape.length;
  const axis = o.int32(CONCATENATION_OPTIONS.axis, 0);
  const hint = 'tinytrain concatenates along channels: the last axis (3 or -1 of NHWC maps of one height and width)';
  if ((axis < 0 ? axis + rank : axis) !== rank - 1) throw opError(c, `joins along axis ${axis} of rank-${rank} tensors`, hint);
  const [h, w] = [xs[0]!.shape.h, xs[0]!.shape.w];
  if (!xs.every((x) => x.shape.h === h && x.shape.w === w)) throw opError(c, `joins tensors of shapes ${xs.map((x) => `[${x.tensor.shape}]`).join(', ')}`, hint);
  if (fusedActivation(c, o.int8(CONCATENATION_OPTIONS.fusedActivation)) !== 'none') {
    throw opError(c, 'has a fused activation', 'tinytrain concatenates without one (put a RELU after it)');
  }
  checkSameDomain(
    c,
    xs.map((x) => x.tensor),
    outputTensor(c),
  );
  produce(c, { kind: 'concat', inputs: xs.map((x) => x.act), activation: 'none' }, { kind: 'map', h, w, c: xs.reduce((s, x) => s + x.shape.c, 0) });
}

function clamp(c: OpCall, kind: 'relu' | 'relu6'): void {
  const x = actInput(c, 0);
  checkSameDomain(c, [x.tensor], outputTensor(c));
  produce(c, { kind, inputs: [x.act], activation: 'none' }, x.shape);
}

export const relu = (c: OpCall): void => clamp(c, 'relu');
export const relu6 = (c: OpCall): void => clamp(c, 'relu6');

/**
 * A table activation (compiler/ops/table-activation.ts). int8: the output keeps the model's
 * own quantisation (LOGISTIC's is TFLite's fixed 1/256, -128), so the table is made between
 * the model's two grids.
 */
function tableActivation(c: OpCall, kind: IrFunction, fn?: IrOp['fn']): void {
  const x = actInput(c, 0);
  checkSameDomain(c, [x.tensor], outputTensor(c));
  produce(c, { kind, inputs: [x.act], activation: 'none', ...(fn && { fn }) }, x.shape);
}

export const logistic = (c: OpCall): void => tableActivation(c, 'sigmoid');
export const hardSwish = (c: OpCall): void => tableActivation(c, 'hardswish');
/**
 * MAXIMUM of an activation and one constant value (either operand order): max(x, c), the
 * clampmin table activation (Keras' `tf.maximum(x, c)` after an activation, as openWakeWord's
 * embedding model clamps each leaky ReLU at -0.4). Of two activations, or by a constant that
 * varies, refused.
 */
export function maximum(c: OpCall): void {
  const k = [0, 1].find((i) => valueInput(c, i).value.kind === 'const');
  if (k === undefined) throw opError(c, 'takes the maximum of two computed tensors', 'tinytrain imports MAXIMUM of an activation and one constant value');
  const t = constInput(c, k, 'constant operand')!;
  const { data } = floatConst(c, t);
  if (data.length !== 1 || !Number.isFinite(data[0]!)) {
    throw opError(c, `takes the maximum with ${tensorText(t)} of ${data.length} values`, 'tinytrain imports MAXIMUM of an activation and one constant value');
  }
  const x = actInput(c, 1 - k);
  checkSameDomain(c, [x.tensor], outputTensor(c));
  produce(c, { kind: 'clampmin', inputs: [x.act], activation: 'none', fn: { alpha: data[0]! } }, x.shape);
}

/** LeakyReluOptions.alpha: the schema's default is 0. */
export const leakyRelu = (c: OpCall): void =>
  tableActivation(c, 'leakyrelu', { alpha: options(c, BuiltinOptions.LeakyReluOptions, 'LeakyReluOptions').float32(LEAKY_RELU_OPTIONS.alpha, 0) });

/**
 * PRELU: y = x < 0 ? alpha * x : x, alpha a constant that broadcasts to the NHWC input (one
 * value, [C], [1, 1, C], or any shape up to the input's), as one prelu layer. An int8
 * model's alpha is int8 with its own scale and zero point: read as the real slopes it
 * stands for (the layer's int8 forward makes its own multipliers from them: within one step
 * of TFLite's arithmetic on the same input, compiler/ops/prelu.ts).
 */
export function prelu(c: OpCall): void {
  const x = actInput(c, 0);
  const t = constInput(c, 1, 'alpha');
  if (!t) throw opError(c, 'its alpha (input 1) is missing');
  const alpha = floatConst(c, t);
  const slopes = preluSlopes(alpha, x.tensor.shape, 'nhwc');
  if (typeof slopes === 'string') throw opError(c, slopes, 'tinytrain takes an alpha that broadcasts to the input: one value, one per channel ([1, 1, C]) or one per element');
  checkSameDomain(c, [x.tensor], outputTensor(c));
  produce(c, { kind: 'prelu', inputs: [x.act], activation: 'none', slopes }, x.shape);
}
