/**
 * Stride, dilation and padding of a conv or pool window, as tinytrain's one stride and one
 * symmetric pad.
 *
 * TFLite's SAME padding gives an output of ceil(in / stride) and pads
 * total = max((out - 1) * stride + k - in, 0), the smaller half before. When the total
 * is even the pad is symmetric, total / 2, and tinytrain's floor((in + 2p - k) / s) + 1
 * is that same output size. An odd total (a 3x3 stride-2 conv on an even size) pads one
 * more row after than before: tinytrain's layers pad symmetrically, so it is refused here.
 */
import { LIMITS } from '../../../ir/limits.js';
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
  stride: number;
  pad: number;
  oh: number;
  ow: number;
}

/** Total SAME padding along one axis. */
function sameTotal(size: number, k: number, stride: number): number {
  const out = Math.ceil(size / stride);
  return Math.max((out - 1) * stride + k - size, 0);
}

export function windowOf(c: OpCall, o: Options, f: WindowFields, x: MapShape, kh: number, kw: number): Window {
  const sh = o.int32(f.strideH),
    sw = o.int32(f.strideW);
  if (sh !== sw) throw opError(c, `strides differ (height ${sh}, width ${sw})`, 'tinytrain takes one stride for both axes');
  if (!(sh >= 1 && sh <= LIMITS.maxStride)) throw opError(c, `stride ${sh} is not supported`, `strides are 1-${LIMITS.maxStride}`);
  const dh = f.dilationH === undefined ? 1 : o.int32(f.dilationH, 1),
    dw = f.dilationW === undefined ? 1 : o.int32(f.dilationW, 1);
  if (dh !== 1 || dw !== 1) throw opError(c, `dilation ${dh}x${dw} is not supported`, 'tinytrain convolves without dilation');
  if (kh > x.h || kw > x.w) throw opError(c, `the ${kh}x${kw} window is larger than the ${x.h}x${x.w} input`);
  const padding = o.int8(f.padding);
  let pad = 0;
  if (padding === Padding.SAME) {
    const th = sameTotal(x.h, kh, sh),
      tw = sameTotal(x.w, kw, sh);
    if (th % 2 !== 0 || tw % 2 !== 0) {
      const t = th % 2 !== 0 ? th : tw;
      throw opError(
        c,
        `SAME padding here is asymmetric (${(t - 1) / 2} before, ${(t + 1) / 2} after along ${th % 2 !== 0 ? 'height' : 'width'}: ${kh}x${kw} window, stride ${sh}, ${x.h}x${x.w} input)`,
        'tinytrain pads symmetrically for now; an odd input size (or stride 1 with an odd kernel) pads symmetrically',
      );
    }
    if (th !== tw) throw opError(c, `SAME padding differs between height (${th / 2}) and width (${tw / 2})`, 'tinytrain takes one pad for both axes');
    pad = th / 2;
  } else if (padding !== Padding.VALID) throw opError(c, `padding ${padding} is neither SAME nor VALID`);
  const oh = Math.floor((x.h + 2 * pad - kh) / sh) + 1,
    ow = Math.floor((x.w + 2 * pad - kw) / sh) + 1;
  return { stride: sh, pad, oh, ow };
}
