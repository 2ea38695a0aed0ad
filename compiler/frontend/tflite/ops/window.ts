/**
 * Stride, dilation and padding of a conv or pool window, as tinytrain's strides per axis
 * and per-side pads.
 *
 * TFLite's SAME padding gives an output of ceil(in / stride) and pads
 * total = max((out - 1) * stride + k - in, 0), the smaller half before
 * (compiler/ops/padding.ts samePads): an odd total (a 3x3 stride-2 conv on an even size)
 * pads one more row after than before, which the layers' per-side padding says as it is.
 */
import { LIMITS } from '../../../ir/limits.js';
import { NO_PADS, paddedOutput, samePads, type Pads } from '../../../ops/padding.js';
import type { MapShape } from '../../onnx/ir.js';
import { opError, type OpCall } from '../context.js';
import { Padding } from '../schema.js';
import type { Options } from './options.js';

export interface WindowFields {
  padding: number;
  strideW: number;
  strideH: number;
  dilationW?: number;
  dilationH?: number;
}

export interface Window {
  /** Strides between rows and between columns. */
  sh: number;
  sw: number;
  /** Its own SAME pads plus those of a PAD it reads through. */
  pads: Pads;
  /** Whether SAME padding added any of them. */
  ownPads: boolean;
  oh: number;
  ow: number;
}

/** The window over `x` as a folded PAD (`pre`) leaves it: TFLite's rules on the padded size, the PAD's pads added. */
export function windowOf(c: OpCall, o: Options, f: WindowFields, x: MapShape, kh: number, kw: number, pre?: { pads: Pads }): Window {
  const p = pre?.pads ?? NO_PADS;
  const w = windowOnPadded(c, o, f, { ...x, h: x.h + p[0] + p[2], w: x.w + p[1] + p[3] }, kh, kw);
  return { ...w, pads: [w.pads[0] + p[0], w.pads[1] + p[1], w.pads[2] + p[2], w.pads[3] + p[3]], ownPads: w.pads.some((v) => v > 0) };
}

/**
 * A PAD's value where a window reads it: a conv or average pool reads zeros (an average
 * then counts them, so its own SAME padding, which it does not count, cannot be added);
 * a max pool ignores padding, so it folds a PAD whose value is never a window's max:
 * -inf (the int8 minimum), or 0 on the output of a RELU/RELU6.
 */
export function foldPad(c: OpCall, reader: 'conv' | 'avgpool' | 'maxpool', pre: { value: number; by: string; act: number }, own: boolean): void {
  if (reader === 'maxpool') {
    const producer = c.ctx.ops.find((op) => !op.removed && op.output === pre.act);
    const relu = producer !== undefined && (producer.kind === 'relu' || producer.kind === 'relu6' || producer.activation === 'relu' || producer.activation === 'relu6');
    const lowest = pre.value <= -3.4e38 || minOfInt8(c, pre.act) === pre.value;
    if (!lowest && !(pre.value === 0 && relu)) {
      throw opError(
        c,
        `reads ${pre.by}, which pads with ${pre.value}`,
        'tinytrain folds a PAD into MAX_POOL_2D when its value is -inf (the int8 minimum), or 0 on the output of a RELU',
      );
    }
    return;
  }
  if (pre.value !== 0) throw opError(c, `reads ${pre.by}, which pads with ${pre.value}`, 'tinytrain folds a PAD with zeros into a conv or an average pool');
  if (reader === 'avgpool' && own)
    throw opError(c, `SAME padding it does not count on top of ${pre.by}, whose zeros count`, 'tinytrain divides every window of a pool by one rule');
}

/** The real value of int8 -128 on act's grid (NaN for a float activation). */
function minOfInt8(c: OpCall, act: number): number {
  const q = c.ctx.acts[act]!.quant;
  return q ? (-128 - q.zp) * q.scale : NaN;
}

function windowOnPadded(c: OpCall, o: Options, f: WindowFields, x: MapShape, kh: number, kw: number): Omit<Window, 'ownPads'> {
  const sh = o.int32(f.strideH),
    sw = o.int32(f.strideW);
  for (const s of [sh, sw]) if (!(s >= 1 && s <= LIMITS.maxStride)) throw opError(c, `stride ${s} is not supported`, `strides are 1-${LIMITS.maxStride}`);
  const dh = f.dilationH === undefined ? 1 : o.int32(f.dilationH, 1),
    dw = f.dilationW === undefined ? 1 : o.int32(f.dilationW, 1);
  if (dh !== 1 || dw !== 1) throw opError(c, `dilation ${dh}x${dw} is not supported`, 'tinytrain convolves without dilation');
  const padding = o.int8(f.padding);
  if (padding !== Padding.SAME && padding !== Padding.VALID) throw opError(c, `padding ${padding} is neither SAME nor VALID`);
  if (padding === Padding.VALID && (kh > x.h || kw > x.w)) throw opError(c, `the ${kh}x${kw} window is larger than the ${x.h}x${x.w} input`);
  const pads = padding === Padding.SAME ? samePads([x.h, x.w], kh, kw, [sh, sw]) : NO_PADS;
  const [oh, ow] = paddedOutput([x.h, x.w], kh, kw, [sh, sw], pads);
  return { sh, sw, pads, oh, ow };
}
