// SIMD weight and bias gradients (called from conv2d.ts only inside `if (ASC_FEATURE_SIMD)`).
// Tails (channels past the last block of 4/16) run the scalar loops in conv2d.ts, which
// the scalar build runs too: test/kernels-reference.test.ts, not SIMD == scalar, checks them.
// Each gradient element is the scalar sum in the scalar order (positions ascending, from
// 0, the same f32 products); lanes are independent elements: input channels of a dense
// weight, channels of a depthwise weight, output channels of a bias. Fused updates are
// applied element by element in the scalar index order, so the stochastic rounding draws
// the same random numbers.

import { stepDirection, stepInt8At, velAt } from './update';
import { WeightGradRecord } from './records';

/** int8 x[0..3] - zx as f32x4. */
// @ts-ignore: decorator
@inline
function xMinusZ4(p: usize, vz: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p))), vz));
}

/**
 * Gradient sums (before sx) of a dense weight (co, kh, kw) for input channels ci..ci+3:
 * sum over output positions of gy[co] * (x[ci..ci+3] - zx).
 */
// @ts-ignore: decorator
@inline
function denseGrad4(r: WeightGradRecord, co: i32, ci: i32, kh: i32, kw: i32): v128 {
  const gy = r.gy; const OH = r.OH; const OW = r.OW; const CO = r.CO;
  const x = r.x; const H = r.H; const W = r.W; const XC = r.XC; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW;
  const vz = i32x4.splat(r.zx);
  let acc = f32x4.splat(0);
  for (let oh = 0; oh < OH; oh++) {
    const ih = oh * sh - ph + kh;
    if (ih < 0 || ih >= H) continue;
    for (let ow = 0; ow < OW; ow++) {
      const iw = ow * sw - pw + kw;
      if (iw < 0 || iw >= W) continue;
      const gv = f32x4.splat(load<f32>(gy + (<usize>((oh * OW + ow) * CO + co) << 2)));
      acc = f32x4.add(acc, f32x4.mul(gv, xMinusZ4(x + <usize>((ih * W + iw) * XC + ci), vz)));
    }
  }
  return acc;
}

/**
 * The same for 16 input channels at once (4 accumulators: one gy broadcast and one
 * 16-byte x load feed 16 sums), multiplied by sx and stored at dst[0..15].
 */
function denseGrad16Into(r: WeightGradRecord, co: i32, ci: i32, kh: i32, kw: i32, dst: usize): void {
  const gy = r.gy; const OH = r.OH; const OW = r.OW; const CO = r.CO;
  const x = r.x; const H = r.H; const W = r.W; const XC = r.XC; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW; const sx = r.sx;
  const vz16 = i16x8.splat(<i16>r.zx);
  let a0 = f32x4.splat(0); let a1 = f32x4.splat(0); let a2 = f32x4.splat(0); let a3 = f32x4.splat(0);
  for (let oh = 0; oh < OH; oh++) {
    const ih = oh * sh - ph + kh;
    if (ih < 0 || ih >= H) continue;
    for (let ow = 0; ow < OW; ow++) {
      const iw = ow * sw - pw + kw;
      if (iw < 0 || iw >= W) continue;
      const gv = f32x4.splat(load<f32>(gy + (<usize>((oh * OW + ow) * CO + co) << 2)));
      const xb = v128.load(x + <usize>((ih * W + iw) * XC + ci));
      const xl = i16x8.sub(i16x8.extend_low_i8x16_s(xb), vz16);
      const xh = i16x8.sub(i16x8.extend_high_i8x16_s(xb), vz16);
      a0 = f32x4.add(a0, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(xl))));
      a1 = f32x4.add(a1, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(xl))));
      a2 = f32x4.add(a2, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(xh))));
      a3 = f32x4.add(a3, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(xh))));
    }
  }
  const sv = f32x4.splat(sx);
  v128.store(dst, f32x4.mul(a0, sv)); v128.store(dst, f32x4.mul(a1, sv), 16);
  v128.store(dst, f32x4.mul(a2, sv), 32); v128.store(dst, f32x4.mul(a3, sv), 48);
}

/**
 * denseGrad16Into for output channels co and co + 1 at once (8 accumulators): each x
 * conversion feeds both. Results at dstA and at dstB, channel co + 1's row of the gradient.
 */
function denseGrad16x2Into(r: WeightGradRecord, co: i32, ci: i32, kh: i32, kw: i32, dstA: usize): void {
  const gy = r.gy; const OH = r.OH; const OW = r.OW; const CO = r.CO;
  const x = r.x; const H = r.H; const W = r.W; const XC = r.XC; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW; const sx = r.sx;
  const dstB = dstA + (<usize>(r.KH * r.KW * r.K) << 2);
  const vz16 = i16x8.splat(<i16>r.zx);
  let a0 = f32x4.splat(0); let a1 = f32x4.splat(0); let a2 = f32x4.splat(0); let a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0); let b1 = f32x4.splat(0); let b2 = f32x4.splat(0); let b3 = f32x4.splat(0);
  for (let oh = 0; oh < OH; oh++) {
    const ih = oh * sh - ph + kh;
    if (ih < 0 || ih >= H) continue;
    for (let ow = 0; ow < OW; ow++) {
      const iw = ow * sw - pw + kw;
      if (iw < 0 || iw >= W) continue;
      const gp = gy + (<usize>((oh * OW + ow) * CO + co) << 2);
      const ga = f32x4.splat(load<f32>(gp));
      const gb = f32x4.splat(load<f32>(gp, 4));
      const xb = v128.load(x + <usize>((ih * W + iw) * XC + ci));
      const xl = i16x8.sub(i16x8.extend_low_i8x16_s(xb), vz16);
      const xh = i16x8.sub(i16x8.extend_high_i8x16_s(xb), vz16);
      const x0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(xl));
      const x1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(xl));
      const x2 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(xh));
      const x3 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(xh));
      a0 = f32x4.add(a0, f32x4.mul(ga, x0)); a1 = f32x4.add(a1, f32x4.mul(ga, x1));
      a2 = f32x4.add(a2, f32x4.mul(ga, x2)); a3 = f32x4.add(a3, f32x4.mul(ga, x3));
      b0 = f32x4.add(b0, f32x4.mul(gb, x0)); b1 = f32x4.add(b1, f32x4.mul(gb, x1));
      b2 = f32x4.add(b2, f32x4.mul(gb, x2)); b3 = f32x4.add(b3, f32x4.mul(gb, x3));
    }
  }
  const sv = f32x4.splat(sx);
  v128.store(dstA, f32x4.mul(a0, sv)); v128.store(dstA, f32x4.mul(a1, sv), 16);
  v128.store(dstA, f32x4.mul(a2, sv), 32); v128.store(dstA, f32x4.mul(a3, sv), 48);
  v128.store(dstB, f32x4.mul(b0, sv)); v128.store(dstB, f32x4.mul(b1, sv), 16);
  v128.store(dstB, f32x4.mul(b2, sv), 32); v128.store(dstB, f32x4.mul(b3, sv), 48);
}

/**
 * conv2dWeightGradF32 for a dense conv: out[co, kh, kw, ci] for ci < K in blocks of 16
 * and 4; returns the first ci the caller must still do (the scalar tail).
 */
export function denseWeightGradF32(r: WeightGradRecord): i32 {
  const CO = r.CO; const KH = r.KH; const KW = r.KW; const K = r.K; const out = r.out;
  const sv = f32x4.splat(r.sx);
  const K4 = K & ~3;
  const K16 = K & ~15;
  for (let co = 0; co < CO; co++) {
    // pairs of output channels share the x conversions of the 16-channel blocks
    const pair = (co & 1) == 0 && co + 1 < CO;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const row = out + (<usize>(((co * KH + kh) * KW + kw) * K) << 2);
        let ci = 0;
        if ((co & 1) == 1 && co > 0) ci = K16; // done with the pair's first channel
        if (pair) {
          for (; ci + 16 <= K; ci += 16) denseGrad16x2Into(r, co, ci, kh, kw, row + (<usize>ci << 2));
        }
        for (; ci + 16 <= K; ci += 16) denseGrad16Into(r, co, ci, kh, kw, row + (<usize>ci << 2));
        for (; ci < K4; ci += 4) v128.store(row + (<usize>ci << 2), f32x4.mul(denseGrad4(r, co, ci, kh, kw), sv));
      }
    }
  }
  return K4;
}

/**
 * The fused update of 4 weight elements idx..idx+3, in index order, from their gradients
 * gv (the body of the scalar update loop, lane by lane). Must inline: a call per 4
 * weights of the update kernels' hot loop, its operands already in registers there.
 */
// @ts-ignore: decorator
@inline
function update4(gv: v128, s: f32, idx: i32, w: usize, vel: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  stepInt8At(w + <usize>idx, stepDirection(f32x4.extract_lane(gv, 0), s, qas, velAt(vel, idx), mu), lr, rng);
  stepInt8At(w + <usize>(idx + 1), stepDirection(f32x4.extract_lane(gv, 1), s, qas, velAt(vel, idx + 1), mu), lr, rng);
  stepInt8At(w + <usize>(idx + 2), stepDirection(f32x4.extract_lane(gv, 2), s, qas, velAt(vel, idx + 2), mu), lr, rng);
  stepInt8At(w + <usize>(idx + 3), stepDirection(f32x4.extract_lane(gv, 3), s, qas, velAt(vel, idx + 3), mu), lr, rng);
}

/**
 * conv2dWeightUpdateS8 for a dense conv, weight row `row` = (co*KH + kh)*KW + kw,
 * channels ci < K in blocks of 4 (the gradient of 4 elements, then their 4 updates in
 * index order). Returns the first ci the caller must still do (the scalar tail).
 */
export function denseWeightUpdate4(r: WeightGradRecord, row: i32, lr: f32, mu: f32, qas: bool, rng: usize): i32 {
  const gy = r.gy; const OH = r.OH; const OW = r.OW; const CO = r.CO;
  const x = r.x; const H = r.H; const W = r.W; const XC = r.XC; const zx = r.zx;
  const w = r.w; const vel = r.vel; const KH = r.KH; const KW = r.KW; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW; const K = r.K;
  const taps = KH * KW;
  const co = row / taps;
  const kh = (row - co * taps) / KW;
  const kw = row - co * taps - kh * KW;
  const sv = f32x4.splat(r.sx);
  const s = load<f32>(r.wScale + (<usize>co << 2));
  const base = row * K;
  const vz16 = i16x8.splat(<i16>zx);
  let ci = 0;
  for (; ci + 16 <= K; ci += 16) {
    // 16 channels: one gy broadcast and one 16-byte x load per position feed 16 sums
    let a0 = f32x4.splat(0); let a1 = f32x4.splat(0); let a2 = f32x4.splat(0); let a3 = f32x4.splat(0);
    for (let oh = 0; oh < OH; oh++) {
      const ih = oh * sh - ph + kh;
      if (ih < 0 || ih >= H) continue;
      for (let ow = 0; ow < OW; ow++) {
        const iw = ow * sw - pw + kw;
        if (iw < 0 || iw >= W) continue;
        const gv = f32x4.splat(load<f32>(gy + (<usize>((oh * OW + ow) * CO + co) << 2)));
        const xb = v128.load(x + <usize>((ih * W + iw) * XC + ci));
        const xl = i16x8.sub(i16x8.extend_low_i8x16_s(xb), vz16);
        const xh = i16x8.sub(i16x8.extend_high_i8x16_s(xb), vz16);
        a0 = f32x4.add(a0, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(xl))));
        a1 = f32x4.add(a1, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(xl))));
        a2 = f32x4.add(a2, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(xh))));
        a3 = f32x4.add(a3, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(xh))));
      }
    }
    update4(f32x4.mul(a0, sv), s, base + ci, w, vel, lr, mu, qas, rng);
    update4(f32x4.mul(a1, sv), s, base + ci + 4, w, vel, lr, mu, qas, rng);
    update4(f32x4.mul(a2, sv), s, base + ci + 8, w, vel, lr, mu, qas, rng);
    update4(f32x4.mul(a3, sv), s, base + ci + 12, w, vel, lr, mu, qas, rng);
  }
  for (; ci + 4 <= K; ci += 4) {
    const gv = f32x4.mul(denseGrad4(r, co, ci, kh, kw), sv);
    update4(gv, s, base + ci, w, vel, lr, mu, qas, rng);
  }
  return ci;
}

/**
 * Depthwise weight gradient sums (before sx) of tap (kh, kw) for channels c..c+3: sum over
 * output positions of gy[c..c+3] * (x[c..c+3] - zx).
 */
// @ts-ignore: decorator
@inline
function depthwiseGrad4(r: WeightGradRecord, c: i32, kh: i32, kw: i32): v128 {
  const gy = r.gy; const OH = r.OH; const OW = r.OW; const CO = r.CO;
  const x = r.x; const H = r.H; const W = r.W; const XC = r.XC; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW;
  const vz = i32x4.splat(r.zx);
  let acc = f32x4.splat(0);
  for (let oh = 0; oh < OH; oh++) {
    const ih = oh * sh - ph + kh;
    if (ih < 0 || ih >= H) continue;
    for (let ow = 0; ow < OW; ow++) {
      const iw = ow * sw - pw + kw;
      if (iw < 0 || iw >= W) continue;
      const gv = v128.load(gy + (<usize>((oh * OW + ow) * CO + c) << 2));
      acc = f32x4.add(acc, f32x4.mul(gv, xMinusZ4(x + <usize>((ih * W + iw) * XC + c), vz)));
    }
  }
  return acc;
}

/** conv2dWeightGradF32 for depthwise channels [0, K4), K4 a multiple of 4. */
export function depthwiseWeightGradF32(r: WeightGradRecord, K4: i32): void {
  const KH = r.KH; const KW = r.KW; const out = r.out;
  const sv = f32x4.splat(r.sx);
  const taps = KH * KW;
  for (let c = 0; c < K4; c += 4) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const gv = f32x4.mul(depthwiseGrad4(r, c, kh, kw), sv);
        const o = out + (<usize>(c * taps + kh * KW + kw) << 2);
        const step = <usize>taps << 2;
        store<f32>(o, f32x4.extract_lane(gv, 0));
        store<f32>(o + step, f32x4.extract_lane(gv, 1));
        store<f32>(o + 2 * step, f32x4.extract_lane(gv, 2));
        store<f32>(o + 3 * step, f32x4.extract_lane(gv, 3));
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function lane(v: v128, i: i32): f32 {
  return i == 0 ? f32x4.extract_lane(v, 0) : i == 1 ? f32x4.extract_lane(v, 1) : i == 2 ? f32x4.extract_lane(v, 2) : f32x4.extract_lane(v, 3);
}

/** n / stride for n >= 0, without a division for the usual strides 1 and 2. */
// @ts-ignore: decorator
@inline
function divBy(n: i32, stride: i32): i32 {
  return stride == 1 ? n : stride == 2 ? n >> 1 : n / stride;
}

/** n % stride == 0 for n >= 0, likewise. */
// @ts-ignore: decorator
@inline
function onGrid(n: i32, stride: i32): bool {
  return stride == 1 ? true : stride == 2 ? (n & 1) == 0 : n % stride == 0;
}

/** acc + gy[oh, ow, c..c+3] * xv when tap row and column are valid (see depthwise3x3WeightGrads). */
// @ts-ignore: decorator
@inline
function tapAdd(valid: bool, acc: v128, gp: usize, xv: v128): v128 {
  return valid ? f32x4.add(acc, f32x4.mul(v128.load(gp), xv)) : acc;
}

/**
 * Depthwise 3x3 weight gradients of channels [0, K4) (K4 a multiple of 4), either stored
 * (r.out != 0, conv2dWeightGradF32's layout) or applied as the fused update (r.out == 0).
 * Input positions are the outer loop: each x vector is converted once and feeds the 9
 * taps' sums (9 accumulators). For a fixed tap, input positions in ascending order meet
 * the output positions in ascending order, so every sum is taken in the scalar order.
 * Updates are applied channel-major, tap-minor: the scalar index order.
 */
export function depthwise3x3WeightGrads(r: WeightGradRecord, K4: i32, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const gy = r.gy; const OH = r.OH; const OW = r.OW; const CO = r.CO;
  const x = r.x; const H = r.H; const W = r.W; const XC = r.XC; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW;
  const out = r.out; const w = r.w; const wScale = r.wScale; const vel = r.vel;
  const vz = i32x4.splat(r.zx);
  const sv = f32x4.splat(r.sx);
  const rowStride = <usize>(OW * CO) << 2;
  const colStride = <usize>CO << 2;
  for (let c = 0; c < K4; c += 4) {
    let t0 = f32x4.splat(0); let t1 = f32x4.splat(0); let t2 = f32x4.splat(0);
    let t3 = f32x4.splat(0); let t4 = f32x4.splat(0); let t5 = f32x4.splat(0);
    let t6 = f32x4.splat(0); let t7 = f32x4.splat(0); let t8 = f32x4.splat(0);
    const gc = gy + (<usize>c << 2);
    for (let ih = 0; ih < H; ih++) {
      // output row of tap row kh: (ih + padH - kh) / strideH when it divides and is in range
      const e0 = ih + ph; const e1 = e0 - 1; const e2 = e0 - 2;
      const v0 = e0 >= 0 && onGrid(e0, sh) && divBy(e0, sh) < OH;
      const v1 = e1 >= 0 && onGrid(e1, sh) && divBy(e1, sh) < OH;
      const v2 = e2 >= 0 && onGrid(e2, sh) && divBy(e2, sh) < OH;
      if (!(v0 || v1 || v2)) continue;
      const g0 = gc + <usize>(v0 ? divBy(e0, sh) : <i32>0) * rowStride;
      const g1 = gc + <usize>(v1 ? divBy(e1, sh) : <i32>0) * rowStride;
      const g2 = gc + <usize>(v2 ? divBy(e2, sh) : <i32>0) * rowStride;
      for (let iw = 0; iw < W; iw++) {
        const f0 = iw + pw; const f1 = f0 - 1; const f2 = f0 - 2;
        const u0 = f0 >= 0 && onGrid(f0, sw) && divBy(f0, sw) < OW;
        const u1 = f1 >= 0 && onGrid(f1, sw) && divBy(f1, sw) < OW;
        const u2 = f2 >= 0 && onGrid(f2, sw) && divBy(f2, sw) < OW;
        if (!(u0 || u1 || u2)) continue;
        const o0 = <usize>(u0 ? divBy(f0, sw) : <i32>0) * colStride;
        const o1 = <usize>(u1 ? divBy(f1, sw) : <i32>0) * colStride;
        const o2 = <usize>(u2 ? divBy(f2, sw) : <i32>0) * colStride;
        const xv = xMinusZ4(x + <usize>((ih * W + iw) * XC + c), vz);
        // tap (kh, kw) reads output (e_kh / stride, f_kw / stride)
        if (v0 && v1 && v2 && u0 && u1 && u2) {
          // all 9 taps (stride-1 interior): no branches
          t0 = f32x4.add(t0, f32x4.mul(v128.load(g0 + o0), xv)); t1 = f32x4.add(t1, f32x4.mul(v128.load(g0 + o1), xv));
          t2 = f32x4.add(t2, f32x4.mul(v128.load(g0 + o2), xv)); t3 = f32x4.add(t3, f32x4.mul(v128.load(g1 + o0), xv));
          t4 = f32x4.add(t4, f32x4.mul(v128.load(g1 + o1), xv)); t5 = f32x4.add(t5, f32x4.mul(v128.load(g1 + o2), xv));
          t6 = f32x4.add(t6, f32x4.mul(v128.load(g2 + o0), xv)); t7 = f32x4.add(t7, f32x4.mul(v128.load(g2 + o1), xv));
          t8 = f32x4.add(t8, f32x4.mul(v128.load(g2 + o2), xv));
          continue;
        }
        t0 = tapAdd(v0 && u0, t0, g0 + o0, xv); t1 = tapAdd(v0 && u1, t1, g0 + o1, xv); t2 = tapAdd(v0 && u2, t2, g0 + o2, xv);
        t3 = tapAdd(v1 && u0, t3, g1 + o0, xv); t4 = tapAdd(v1 && u1, t4, g1 + o1, xv); t5 = tapAdd(v1 && u2, t5, g1 + o2, xv);
        t6 = tapAdd(v2 && u0, t6, g2 + o0, xv); t7 = tapAdd(v2 && u1, t7, g2 + o1, xv); t8 = tapAdd(v2 && u2, t8, g2 + o2, xv);
      }
    }
    t0 = f32x4.mul(t0, sv); t1 = f32x4.mul(t1, sv); t2 = f32x4.mul(t2, sv);
    t3 = f32x4.mul(t3, sv); t4 = f32x4.mul(t4, sv); t5 = f32x4.mul(t5, sv);
    t6 = f32x4.mul(t6, sv); t7 = f32x4.mul(t7, sv); t8 = f32x4.mul(t8, sv);
    for (let l = 0; l < 4; l++) {
      const base = (c + l) * 9;
      if (out != 0) {
        const o = out + (<usize>base << 2);
        store<f32>(o, lane(t0, l)); store<f32>(o, lane(t1, l), 4); store<f32>(o, lane(t2, l), 8);
        store<f32>(o, lane(t3, l), 12); store<f32>(o, lane(t4, l), 16); store<f32>(o, lane(t5, l), 20);
        store<f32>(o, lane(t6, l), 24); store<f32>(o, lane(t7, l), 28); store<f32>(o, lane(t8, l), 32);
        continue;
      }
      // the 9 taps of channel c + l, in index order
      const s = load<f32>(wScale + (<usize>(c + l) << 2));
      stepInt8At(w + <usize>base, stepDirection(lane(t0, l), s, qas, velAt(vel, base), mu), lr, rng);
      stepInt8At(w + <usize>(base + 1), stepDirection(lane(t1, l), s, qas, velAt(vel, base + 1), mu), lr, rng);
      stepInt8At(w + <usize>(base + 2), stepDirection(lane(t2, l), s, qas, velAt(vel, base + 2), mu), lr, rng);
      stepInt8At(w + <usize>(base + 3), stepDirection(lane(t3, l), s, qas, velAt(vel, base + 3), mu), lr, rng);
      stepInt8At(w + <usize>(base + 4), stepDirection(lane(t4, l), s, qas, velAt(vel, base + 4), mu), lr, rng);
      stepInt8At(w + <usize>(base + 5), stepDirection(lane(t5, l), s, qas, velAt(vel, base + 5), mu), lr, rng);
      stepInt8At(w + <usize>(base + 6), stepDirection(lane(t6, l), s, qas, velAt(vel, base + 6), mu), lr, rng);
      stepInt8At(w + <usize>(base + 7), stepDirection(lane(t7, l), s, qas, velAt(vel, base + 7), mu), lr, rng);
      stepInt8At(w + <usize>(base + 8), stepDirection(lane(t8, l), s, qas, velAt(vel, base + 8), mu), lr, rng);
    }
  }
}

/** Bias gradient sums of channels co..co+3 (positions ascending): the 4-channel twin of conv2d.ts's f32_bias_grad_1x__scalar. */
export function f32_bias_grad_4x__wasmsimd(gy: usize, P: i32, CO: i32, co: i32): v128 {
  let acc = f32x4.splat(0);
  for (let p = 0; p < P; p++) acc = f32x4.add(acc, v128.load(gy + (<usize>(p * CO + co) << 2)));
  return acc;
}

/** lane i of v (i in 0..3, not a constant). */
// @ts-ignore: decorator
@inline
export function laneOf(v: v128, i: i32): f32 {
  return lane(v, i);
}
