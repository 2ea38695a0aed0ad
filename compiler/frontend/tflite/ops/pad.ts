/**
 * PAD and PADV2 -> nothing of their own: constant padding on height and width, which the
 * CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D or MAX_POOL_2D reading it folds into its
 * window (context.ts windowInput; the rules for each reader are at window.ts foldPad).
 * PAD pads with zeros (int8: the zero point, the same real 0); PADV2 with its constant.
 * Refused: pads on the batch or channel axes, negative pads, any other reader.
 */
import { actInput, actQuant, bind, constInput, opError, outputTensor, tensorText, type OpCall } from '../context.js';
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
  if (n0 || n1 || c0 || c1) throw opError(c, `pads the batch or channel axis (paddings [${p.join(', ')}])`, 'tinytrain folds padding on height and width only');
  if (p.some((v) => v < 0)) throw opError(c, `negative paddings [${p.join(', ')}]`);
  const vt = constInput(c, 2, 'constant value');
  const value = vt ? floatConst(c, vt).data[0]! : 0;
  const out = outputTensor(c);
  const qIn = actQuant(c, x.tensor, ''),
    qOut = actQuant(c, out, '');
  if (qIn && qOut && (qIn.scale !== qOut.scale || qIn.zp !== qOut.zp)) {
    throw opError(c, `requantises from (${qIn.scale}, ${qIn.zp}) to (${qOut.scale}, ${qOut.zp})`, "a folded PAD keeps its input's (scale, zero point)");
  }
  bind(c, out, { kind: 'padded', act: x.act, pads: [top, left, bottom, right], value, by: c.label });
}
