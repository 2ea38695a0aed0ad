// Max pooling (compiler/ops/maxpool.ts): int8 forward in the input's quantisation, writing
// each output's argmax for backward; the float input gradient routed by that mask.
//
// Ties go to the first max in row-major window order: positions are visited kh, then kw,
// and a later one replaces the max only when strictly larger. Padded positions ('same')
// are skipped, never the max.

import { MaxpoolBackwardRecord, MaxpoolForwardRecord } from './records';

/**
 * y[c] = max(y[c], p[c]) for C channels, and where p[c] is strictly larger, m[c] = idx
 * (m = 0: no mask). SIMD: 16 channels at a time, then the tail.
 */
// @ts-ignore: decorator
@inline function maxInto(y: usize, m: usize, p: usize, C: i32, idx: i32): void {
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const vi = i8x16.splat(<i8>idx);
    for (; c + 16 <= C; c += 16) {
      const v = v128.load(p + <usize>c);
      const best = v128.load(y + <usize>c);
      const gt = i8x16.gt_s(v, best);
      v128.store(y + <usize>c, v128.bitselect(v, best, gt));
      if (m) v128.store(m + <usize>c, v128.bitselect(vi, v128.load(m + <usize>c), gt));
    }
  }
  for (; c < C; c++) {
    const v = load<i8>(p + <usize>c);
    if (v > load<i8>(y + <usize>c)) {
      store<i8>(y + <usize>c, v);
      if (m) store<u8>(m + <usize>c, <u8>idx);
    }
  }
}

export function maxpoolForwardS8(record: usize): void {
  const r = changetype<MaxpoolForwardRecord>(record);
  const x = r.x; const H = r.H; const W = r.W; const C = r.C;
  const y = r.y; const OH = r.OH; const OW = r.OW; const mask = r.mask;
  const PH = r.PH; const PW = r.PW; const strideH = r.strideH; const strideW = r.strideW; const padH = r.padH; const padW = r.padW;
  for (let oh = 0; oh < OH; oh++) {
    const h0 = oh * strideH - padH;
    const kh0 = max<i32>(0, -h0); const kh1 = min<i32>(PH, H - h0);
    for (let ow = 0; ow < OW; ow++) {
      const w0 = ow * strideW - padW;
      const kw0 = max<i32>(0, -w0); const kw1 = min<i32>(PW, W - w0);
      const o = <usize>((oh * OW + ow) * C);
      // The window's first position inside the input starts the max.
      memory.copy(y + o, x + <usize>(((h0 + kh0) * W + w0 + kw0) * C), <usize>C);
      if (mask) memory.fill(mask + o, <u8>(kh0 * PW + kw0), <usize>C);
      const m = mask ? mask + o : 0;
      for (let kh = kh0; kh < kh1; kh++) {
        for (let kw = kh == kh0 ? kw0 + 1 : kw0; kw < kw1; kw++) {
          maxInto(y + o, m, x + <usize>(((h0 + kh) * W + w0 + kw) * C), C, kh * PW + kw);
        }
      }
    }
  }
}

export function maxpoolBackwardF32(record: usize): void {
  const r = changetype<MaxpoolBackwardRecord>(record);
  const gy = r.gy; const OH = r.OH; const OW = r.OW; const mask = r.mask;
  const gx = r.gx; const H = r.H; const W = r.W; const C = r.C;
  const PW = r.PW; const strideH = r.strideH; const strideW = r.strideW; const padH = r.padH; const padW = r.padW;
  if (!r.accumulate) memory.fill(gx, 0, <usize>(H * W * C) << 2);
  for (let oh = 0; oh < OH; oh++) {
    const h0 = oh * strideH - padH;
    for (let ow = 0; ow < OW; ow++) {
      const w0 = ow * strideW - padW;
      const o = (oh * OW + ow) * C;
      for (let c = 0; c < C; c++) {
        const k = <i32>load<u8>(mask + <usize>(o + c));
        const p = gx + (<usize>(((h0 + k / PW) * W + w0 + k % PW) * C + c) << 2);
        store<f32>(p, load<f32>(p) + load<f32>(gy + (<usize>(o + c) << 2)));
      }
    }
  }
}
