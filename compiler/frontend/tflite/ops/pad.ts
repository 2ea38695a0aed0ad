/**
 * PAD and PADV2 -> nothing of their own: constant padding on height and width, which the
 * CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D or MAX_POOL_2D reading it folds into its
 * window (context.ts windowInput; the rules for each reader are at window.ts foldPad).
 * PAD pads with zeros (int8: the zero point, the same real 0); PADV2 with its constant.
 * Zeros appended on the channel axis alone (BlazeFace's shortcuts) -> padchannels
 * (compiler/ops/pad-channels.ts), a layer of its own.
 * Refused: pads on the batch axis, channels before the input's, channels and height or
 * width in one PAD, a non-zero constant on channels, negative pads, any other reader of a
 * height/width pad.
 */
import { actInput, actQuant, bind, constInput, opError, outputTensor, produce, tensorText, type OpCall } from '../context.js';
import { floatConst, intConst } from '../tensors.js';

export function pad(c: OpCall): void {
  const x = actInput(c, 0);
  if (x.tensor.shape.length !== 4)
    throw opError(c, `pads ${tensorText(x.tensor)} of shape [${x.tensor.shape}]`, 'tinytrain folds PAD on a [1, H, W, C] feature map into the conv or pool after it');
  const t = constInput(c, 1, 'paddings');
  if (!t) throw opError(c, 'the paddings (input 1) are missing');
  const p = intConst(c, t, 'paddings', 8);
  if (p.length !== 8) throw opError(c, `its paddings have ${p.length} values, expected [4, 2]`);
  const [n0, n1, top, bottom, left, right, c0, c1] = p as [number, number, number, number, number, number, number, number];
  if (p.some((v) => v < 0)) throw opError(c, `negative paddings [${p.join(', ')}]`);
  const hint = "tinytrain takes zero channels appended after the input's (its padchannels layer), or padding on height and width";
  if (n0 || n1 || c0) throw opError(c, `pads the batch axis or channels before the input's (paddings [${p.join(', ')}])`, hint);
  const vt = constInput(c, 2, 'constant value');
  const value = vt ? floatConst(c, vt).data[0]! : 0;
  if (c1) {
    if (top || bottom || left || right) throw opError(c, `pads channels and height or width at once (paddings [${p.join(', ')}])`, hint);
    if (value !== 0) throw opError(c, `pads channels with ${value}`, hint);
    produce(c, { kind: 'padchannels', inputs: [x.act], activation: 'none', padAfter: c1 }, { ...x.shape, c: x.shape.c + c1 });
    return;
  }
  const out = outputTensor(c);
  const qIn = actQuant(c, x.tensor, ''),
    qOut = actQuant(c, out, '');
  if (qIn && qOut && (qIn.scale !== qOut.scale || qIn.zp !== qOut.zp)) {
    throw opError(c, `requantises from (${qIn.scale}, ${qIn.zp}) to (${qOut.scale}, ${qOut.zp})`, "a folded PAD keeps its input's (scale, zero point)");
  }
  bind(c, out, { kind: 'padded', act: x.act, pads: [top, left, bottom, right], value, by: c.label });
}
