/** ADD, RELU and RELU6: element-wise operators on activations of one shape. */
import { actInput, checkSameDomain, opError, outputTensor, produce, type OpCall } from '../context.js';
import { ADD_OPTIONS, BuiltinOptions } from '../schema.js';
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
