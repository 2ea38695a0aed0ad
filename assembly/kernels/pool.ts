// Average pooling, padded or not (global average pooling is the PH=H, PW=W case). Each
// window is clipped to the input; a padded pool that divides by the inputs a window holds
// picks that count's rescale from the `counts` table. A pool whose input and output share one
// quantisation (`mean`) takes TFLite's integer mean instead: no rescale, the raw window sum
// divided by the window's size or its inputs' count, rounded half away from zero.

import { requant } from './requant';
import { AvgpoolBackwardRecord, AvgpoolForwardRecord } from './records';

export function avgpoolForwardS8(record: usize): void {
  const r = changetype<AvgpoolForwardRecord>(record);
  const x = r.x; const H = r.H; const W = r.W; const C = r.C; const zx = r.zx;
  const y = r.y; const OH = r.OH; const OW = r.OW; const zy = r.zy;
  const PH = r.PH; const PW = r.PW; const strideH = r.strideH; const strideW = r.strideW; const padH = r.padH; const padW = r.padW; const counts = r.counts;
  let m = r.m; let n = r.n; const mean = r.mean;
  if (mean) {
    meanForward(r);
    return;
  }
  for (let oh = 0; oh < OH; oh++) {
    const h0 = max(oh * strideH - padH, 0); const h1 = min(oh * strideH - padH + PH, H);
    for (let ow = 0; ow < OW; ow++) {
      const w0 = max(ow * strideW - padW, 0); const w1 = min(ow * strideW - padW + PW, W);
      if (counts) {
        const k = (h1 - h0) * (w1 - w0);
        m = load<i32>(counts + (<usize>(k - 1) << 3));
        n = load<i32>(counts + (<usize>(k - 1) << 3), 4);
      }
      for (let c = 0; c < C; c++) {
        let acc: i32 = 0;
        for (let ih = h0; ih < h1; ih++) {
          for (let iw = w0; iw < w1; iw++) {
            acc += <i32>load<i8>(x + <usize>((ih * W + iw) * C + c)) - zx;
          }
        }
        store<i8>(y + <usize>((oh * OW + ow) * C + c), <i8>requant(acc, m, n, zy, -128, 127));
      }
    }
  }
}

/** TFLite's int8 average: sum of the raw inputs, divided by the count, half away from zero (zx == zy). */
function meanForward(r: AvgpoolForwardRecord): void {
  const x = r.x; const H = r.H; const W = r.W; const C = r.C;
  const y = r.y; const OH = r.OH; const OW = r.OW;
  const PH = r.PH; const PW = r.PW; const strideH = r.strideH; const strideW = r.strideW; const padH = r.padH; const padW = r.padW;
  const byInputs = r.mean == 2;
  for (let oh = 0; oh < OH; oh++) {
    const h0 = max(oh * strideH - padH, 0); const h1 = min(oh * strideH - padH + PH, H);
    for (let ow = 0; ow < OW; ow++) {
      const w0 = max(ow * strideW - padW, 0); const w1 = min(ow * strideW - padW + PW, W);
      const k = byInputs ? (h1 - h0) * (w1 - w0) : PH * PW;
      const half = k >> 1;
      for (let c = 0; c < C; c++) {
        let acc: i32 = 0;
        for (let ih = h0; ih < h1; ih++) {
          for (let iw = w0; iw < w1; iw++) {
            acc += <i32>load<i8>(x + <usize>((ih * W + iw) * C + c));
          }
        }
        // i32 division truncates toward zero, so the +-half rounds half away from zero
        let q = k > 0 ? (acc > 0 ? (acc + half) / k : (acc - half) / k) : 0;
        q = min(max(q, -128), 127);
        store<i8>(y + <usize>((oh * OW + ow) * C + c), <i8>q);
      }
    }
  }
}

export function avgpoolBackwardF32(record: usize): void {
  const r = changetype<AvgpoolBackwardRecord>(record);
  const gy = r.gy; const OH = r.OH; const OW = r.OW;
  const gx = r.gx; const H = r.H; const W = r.W; const C = r.C;
  const PH = r.PH; const PW = r.PW; const strideH = r.strideH; const strideW = r.strideW; const padH = r.padH; const padW = r.padW; const byValidTaps = r.byValidTaps;
  if (!r.accumulate) memory.fill(gx, 0, <usize>(H * W * C) << 2);
  let inv: f32 = 1.0 / <f32>(PH * PW);
  for (let oh = 0; oh < OH; oh++) {
    const h0 = max(oh * strideH - padH, 0); const h1 = min(oh * strideH - padH + PH, H);
    for (let ow = 0; ow < OW; ow++) {
      const w0 = max(ow * strideW - padW, 0); const w1 = min(ow * strideW - padW + PW, W);
      if (byValidTaps) inv = 1.0 / <f32>((h1 - h0) * (w1 - w0));
      for (let c = 0; c < C; c++) {
        const g = load<f32>(gy + (<usize>((oh * OW + ow) * C + c) << 2)) * inv;
        for (let ih = h0; ih < h1; ih++) {
          for (let iw = w0; iw < w1; iw++) {
            const p = gx + (<usize>((ih * W + iw) * C + c) << 2);
            store<f32>(p, load<f32>(p) + g);
          }
        }
      }
    }
  }
}
