/**
 * The operators at the edges of an int8 model, which tinytrain turns into facts rather
 * than layers:
 *
 *  - QUANTIZE of the float input: the input is int8 with that (scale, zero point) (the
 *    `quantization.tensors.input` entry); of a uint8 input onto the same grid shifted by
 *    128: the same real values, so the same int8 input. Requantising int8 -> int8 with
 *    other parameters would need a layer tinytrain does not have, and is refused.
 *  - DEQUANTIZE: an int8 activation seen as float is the same activation; a constant
 *    (float16 or int8 weights) is read as its real values.
 *  - SOFTMAX, last: recorded as the model's outputActivation (inference applies it;
 *    training's loss is softmax cross-entropy on the logits before it).
 */
import { actInput, actQuant, bind, opError, outputTensor, setActQuant, tensorText, valueInput, type OpCall } from '../context.js';
import { BuiltinOptions, SOFTMAX_OPTIONS, TensorType } from '../schema.js';
import { options } from './options.js';

export function quantize(c: OpCall): void {
  const x = actInput(c, 0);
  const out = outputTensor(c);
  const q = actQuant(c, out, '');
  if (!q) throw opError(c, `quantises to ${tensorText(out)}, which is float32`);
  if (x.tensor.type === TensorType.UINT8) {
    const u = x.tensor.quant;
    if (!u || u.scale.length !== 1 || u.scale[0] !== q.scale || (u.zeroPoint[0] ?? 0) - 128 !== q.zp) {
      throw opError(c, `moves uint8 ${tensorText(x.tensor)} to int8 onto a different grid`, 'tinytrain takes a uint8 input only when QUANTIZE shifts it by 128 (same scale)');
    }
    c.ctx.notes.push(`${c.label}: the model's uint8 input is shifted to int8 (value - 128, same scale); tinytrain's runtime takes the int8 values`);
  } else actQuant(c, x.tensor, ''); // float32, or int8 (then setActQuant refuses a different grid)
  setActQuant(c, x.act, q);
  bind(c, out, { kind: 'act', act: x.act });
}

export function dequantize(c: OpCall): void {
  const { value, tensor } = valueInput(c, 0);
  const out = outputTensor(c);
  if (out.type !== TensorType.FLOAT32) throw opError(c, `dequantises to ${tensorText(out)}, which is not float32`);
  if (value.kind === 'act' && !actQuant(c, tensor, '')) throw opError(c, `dequantises ${tensorText(tensor)}, which is already float32`);
  bind(c, out, value);
}

export function softmax(c: OpCall): void {
  const x = actInput(c, 0);
  const beta = options(c, BuiltinOptions.SoftmaxOptions, 'SoftmaxOptions').float32(SOFTMAX_OPTIONS.beta);
  if (beta !== 1) throw opError(c, `SOFTMAX with beta ${beta} is not supported`, 'tinytrain applies softmax with beta 1 to the logits');
  if (x.shape.h !== 1 || x.shape.w !== 1)
    throw opError(c, `normalises each position of a [${x.tensor.shape}] feature map`, 'tinytrain applies SOFTMAX only to the logits, as the last operator');
  const out = outputTensor(c);
  if (actQuant(c, out, '')) c.ctx.notes.push(`${c.label}: the model's int8 softmax output is not reproduced (inference applies softmax in float to the logits)`);
  bind(c, out, { kind: 'post', fn: 'softmax', act: x.act, by: c.label });
}
