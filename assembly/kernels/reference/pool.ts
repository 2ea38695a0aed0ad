// Reference average pool (padded or not; global pooling is one window over the input).
// Taps outside the input are skipped; a window divides by PH * PW, or, with a `counts`
// table (forward) / byValidTaps (backward), by the taps inside the input.
// Backward float order: each gx element gets gy * (1 / count) from its windows with
// output positions ascending (the shipped order).

import { zeroF32__ref } from './common';
import { qs8_requant__ref } from './requant';
import { AvgpoolBackwardRecord, AvgpoolForwardRecord } from '../records';

/** Taps of the window at (oh, ow) inside the input. */
function validTaps(oh: i32, ow: i32, strideH: i32, strideW: i32, padH: i32, padW: i32, PH: i32, PW: i32, H: i32, W: i32): i32 {
  let k = 0;
  for (let kh = 0; kh < PH; kh++)
    for (let kw = 0; kw < PW; kw++) {
      const ih = oh * strideH - padH + kh;
      const iw = ow * strideW - padW + kw;
      if (ih >= 0 && ih < H && iw >= 0 && iw < W) k++;
    }
  return k;
}

/** avgpoolForwardS8: the window sum of x - zx, requantised by (m, n) (or the window count's pair) onto the output's zero point. */
export function qs8_avgpool_fwd__ref(record: usize): void {
  const r = changetype<AvgpoolForwardRecord>(record);
  for (let oh = 0; oh < r.OH; oh++)
    for (let ow = 0; ow < r.OW; ow++)
      for (let c = 0; c < r.C; c++) {
        let sum: i64 = 0;
        for (let kh = 0; kh < r.PH; kh++)
          for (let kw = 0; kw < r.PW; kw++) {
            const ih = oh * r.strideH - r.padH + kh;
            const iw = ow * r.strideW - r.padW + kw;
            if (ih < 0 || ih >= r.H || iw < 0 || iw >= r.W) continue;
            sum += <i64>(<i32>load<i8>(r.x + <usize>((ih * r.W + iw) * r.C + c)) - r.zx);
          }
        if (r.mean != 0) {
          // TFLite's integer mean of the raw inputs (zx == zy): sum + count * zx, divided
          // by the count, half away from zero, clamped to int8
          const inputs: i64 = <i64>validTaps(oh, ow, r.strideH, r.strideW, r.padH, r.padW, r.PH, r.PW, r.H, r.W);
          const count: i64 = r.mean == 2 ? inputs : <i64>(r.PH * r.PW);
          const raw: i64 = sum + inputs * <i64>r.zx;
          const mag: i64 = ((raw < 0 ? -raw : raw) + count / 2) / count;
          const q: i64 = raw < 0 ? -mag : mag;
          store<i8>(r.y + <usize>((oh * r.OW + ow) * r.C + c), <i8>(q < -128 ? -128 : q > 127 ? 127 : q));
          continue;
        }
        let m = r.m;
        let n = r.n;
        if (r.counts != 0) {
          const k = validTaps(oh, ow, r.strideH, r.strideW, r.padH, r.padW, r.PH, r.PW, r.H, r.W);
          m = load<i32>(r.counts + <usize>(8 * (k - 1)));
          n = load<i32>(r.counts + <usize>(8 * (k - 1) + 4));
        }
        store<i8>(r.y + <usize>((oh * r.OW + ow) * r.C + c), <i8>qs8_requant__ref(sum * <i64>m, n, r.zy, -128, 127));
      }
}

/** avgpoolBackwardF32: gx (+)= each window's gy / count, over its taps inside the input. */
export function f32_avgpool_bwd__ref(record: usize): void {
  const r = changetype<AvgpoolBackwardRecord>(record);
  if (!r.accumulate) zeroF32__ref(r.gx, r.H * r.W * r.C);
  for (let oh = 0; oh < r.OH; oh++)
    for (let ow = 0; ow < r.OW; ow++) {
      const count = r.byValidTaps ? validTaps(oh, ow, r.strideH, r.strideW, r.padH, r.padW, r.PH, r.PW, r.H, r.W) : r.PH * r.PW;
      const inv: f32 = 1.0 / <f32>count;
      for (let c = 0; c < r.C; c++) {
        const g = load<f32>(r.gy + (<usize>((oh * r.OW + ow) * r.C + c) << 2)) * inv;
        for (let kh = 0; kh < r.PH; kh++)
          for (let kw = 0; kw < r.PW; kw++) {
            const ih = oh * r.strideH - r.padH + kh;
            const iw = ow * r.strideW - r.padW + kw;
            if (ih < 0 || ih >= r.H || iw < 0 || iw >= r.W) continue;
            const p = r.gx + (<usize>((ih * r.W + iw) * r.C + c) << 2);
            store<f32>(p, load<f32>(p) + g);
          }
      }
    }
}
