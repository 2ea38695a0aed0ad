/**
 * ADD, RELU, RELU6, and the table activations LOGISTIC, HARD_SWISH, LEAKY_RELU: element-wise
 * operators on activations of one shape.
 */
import type { IrFunction, IrOp } from '../../onnx/ir.js';
import { actInput, checkSameDomain, opError, outputTensor, produce, type OpCall } from '../context.js';
import { ADD_OPTIONS, BuiltinOptions, LEAKY_RELU_OPTIONS } from '../schema.js';
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
/** LeakyReluOptions.alpha: the schema's default is 0. */
export const leakyRelu = (c: OpCall): void =>
  tableActivation(c, 'leakyrelu', { alpha: options(c, BuiltinOptions.LeakyReluOptions, 'LeakyReluOptions').float32(LEAKY_RELU_OPTIONS.alpha, 0) });
