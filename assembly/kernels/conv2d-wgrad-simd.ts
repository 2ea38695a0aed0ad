// SIMD weight and bias gradients (called from conv2d.ts only inside `if (ASC_FEATURE_SIMD)`).
// Each gradient element is the scalar sum in the scalar order (positions ascending, from
// 0, the same f32 products); lanes are independent elements: input channels of a dense
// weight, channels of a depthwise weight, output channels of a bias. Fused updates are
// applied element by element in the scalar index order, so the stochastic rounding draws
// the same random numbers.

import { integerGradient, withMomentum, stepInt8 } from './update';

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
function denseGrad4(
  gy: usize, OH: i32, OW: i32, CO: i32, co: i32,
  x: usize, H: i32, W: i32, XC: i32, ci: i32, vz: v128,
  kh: i32, kw: i32, stride: i32, pad: i32,
): v128 {
  let acc = f32x4.splat(0);
  for (let oh = 0; oh < OH; oh++) {
    const ih = oh * stride - pad + kh;
    if (ih < 0 || ih >= H) continue;
    for (let ow = 0; ow < OW; ow++) {
      const iw = ow * stride - pad + kw;
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
function denseGrad16Into(
  gy: usize, OH: i32, OW: i32, CO: i32, co: i32,
  x: usize, H: i32, W: i32, XC: i32, ci: i32, zx: i32,
  kh: i32, kw: i32, stride: i32, pad: i32, sx: f32, dst: usize,
): void {
  const vz16 = i16x8.splat(<i16>zx);
  let a0 = f32x4.splat(0); let a1 = f32x4.splat(0); let a2 = f32x4.splat(0); let a3 = f32x4.splat(0);
  for (let oh = 0; oh < OH; oh++) {
    const ih = oh * stride - pad + kh;
    if (ih < 0 || ih >= H) continue;
    for (let ow = 0; ow < OW; ow++) {
      const iw = ow * stride - pad + kw;
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
 * conv2dWeightGradF32 for a dense conv: out[co, kh, kw, ci] for ci < K in blocks of 16
 * and 4; returns the first ci the caller must still do (the scalar tail).
 */
export function denseWeightGradF32(
  gy: usize, OH: i32, OW: i32, CO: i32,
  x: usize, H: i32, W: i32, XC: i32, zx: i32, sx: f32,
  KH: i32, KW: i32, stride: i32, pad: i32, K: i32, out: usize,
): i32 {
  const vz = i32x4.splat(zx);
  const sv = f32x4.splat(sx);
  const K4 = K & ~3;
  for (let co = 0; co < CO; co++) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const row = out + (<usize>(((co * KH + kh) * KW + kw) * K) << 2);
        let ci = 0;
        for (; ci + 16 <= K; ci += 16) denseGrad16Into(gy, OH, OW, CO, co, x, H, W, XC, ci, zx, kh, kw, stride, pad, sx, row + (<usize>ci << 2));
        for (; ci < K4; ci += 4) {
          v128.store(row + (<usize>ci << 2), f32x4.mul(denseGrad4(gy, OH, OW, CO, co, x, H, W, XC, ci, vz, kh, kw, stride, pad), sv));
        }
      }
    }
  }
  return K4;
}

/** The fused update of one weight element (the body of the scalar conv2dWeightUpdateS8 loop). */
// @ts-ignore: decorator
@inline
function updateAt(g: f32, s: f32, idx: i32, w: usize, vel: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const dir = withMomentum(integerGradient(g, s, qas), vel == 0 ? 0 : vel + (<usize>idx << 2), mu);
  const wp = w + <usize>idx;
  store<i8>(wp, <i8>stepInt8(<i32>load<i8>(wp), dir, lr, rng));
}

// @ts-ignore: decorator
@inline
function update4(gv: v128, s: f32, idx: i32, w: usize, vel: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  updateAt(f32x4.extract_lane(gv, 0), s, idx, w, vel, lr, mu, qas, rng);
  updateAt(f32x4.extract_lane(gv, 1), s, idx + 1, w, vel, lr, mu, qas, rng);
  updateAt(f32x4.extract_lane(gv, 2), s, idx + 2, w, vel, lr, mu, qas, rng);
  updateAt(f32x4.extract_lane(gv, 3), s, idx + 3, w, vel, lr, mu, qas, rng);
}

/**
 * conv2dWeightUpdateS8 for a dense conv, weight (co, kh, kw), channels ci < K in blocks of
 * 4 (the gradient of 4 elements, then their 4 updates in index order). Returns the first
 * ci the caller must still do (the scalar tail).
 */
export function denseWeightUpdate4(
  gy: usize, OH: i32, OW: i32, CO: i32,
  x: usize, H: i32, W: i32, XC: i32, zx: i32, sx: f32,
  w: usize, wScale: usize, vel: usize,
  KH: i32, KW: i32, stride: i32, pad: i32, K: i32,
  lr: f32, mu: f32, qas: bool, rng: usize, co: i32, kh: i32, kw: i32,
): i32 {
  const vz = i32x4.splat(zx);
  const sv = f32x4.splat(sx);
  const s = load<f32>(wScale + (<usize>co << 2));
  const base = ((co * KH + kh) * KW + kw) * K;
  const vz16 = i16x8.splat(<i16>zx);
  let ci = 0;
  for (; ci + 16 <= K; ci += 16) {
    // 16 channels: one gy broadcast and one 16-byte x load per position feed 16 sums
    let a0 = f32x4.splat(0); let a1 = f32x4.splat(0); let a2 = f32x4.splat(0); let a3 = f32x4.splat(0);
    for (let oh = 0; oh < OH; oh++) {
      const ih = oh * stride - pad + kh;
      if (ih < 0 || ih >= H) continue;
      for (let ow = 0; ow < OW; ow++) {
        const iw = ow * stride - pad + kw;
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
    const gv = f32x4.mul(denseGrad4(gy, OH, OW, CO, co, x, H, W, XC, ci, vz, kh, kw, stride, pad), sv);
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
function depthwiseGrad4(
  gy: usize, OH: i32, OW: i32, CO: i32, c: i32,
  x: usize, H: i32, W: i32, XC: i32, vz: v128,
  kh: i32, kw: i32, stride: i32, pad: i32,
): v128 {
  let acc = f32x4.splat(0);
  for (let oh = 0; oh < OH; oh++) {
    const ih = oh * stride - pad + kh;
    if (ih < 0 || ih >= H) continue;
    for (let ow = 0; ow < OW; ow++) {
      const iw = ow * stride - pad + kw;
      if (iw < 0 || iw >= W) continue;
      const gv = v128.load(gy + (<usize>((oh * OW + ow) * CO + c) << 2));
      acc = f32x4.add(acc, f32x4.mul(gv, xMinusZ4(x + <usize>((ih * W + iw) * XC + c), vz)));
    }
  }
  return acc;
}

/** conv2dWeightGradF32 for depthwise channels [0, K4), K4 a multiple of 4. */
export function depthwiseWeightGradF32(
  gy: usize, OH: i32, OW: i32, CO: i32,
  x: usize, H: i32, W: i32, XC: i32, zx: i32, sx: f32,
  KH: i32, KW: i32, stride: i32, pad: i32, K4: i32, out: usize,
): void {
  const vz = i32x4.splat(zx);
  const sv = f32x4.splat(sx);
  const taps = KH * KW;
  for (let c = 0; c < K4; c += 4) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const gv = f32x4.mul(depthwiseGrad4(gy, OH, OW, CO, c, x, H, W, XC, vz, kh, kw, stride, pad), sv);
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

/**
 * conv2dWeightUpdateS8 for depthwise 3x3 channels [0, K4), K4 a multiple of 4: the 9 tap
 * gradients of 4 channels are formed first (9 vectors), then the 36 updates are applied
 * channel-major, tap-minor: the scalar index order.
 */
export function depthwise3x3WeightUpdate(
  gy: usize, OH: i32, OW: i32, CO: i32,
  x: usize, H: i32, W: i32, XC: i32, zx: i32, sx: f32,
  w: usize, wScale: usize, vel: usize, stride: i32, pad: i32, K4: i32,
  lr: f32, mu: f32, qas: bool, rng: usize,
): void {
  const vz = i32x4.splat(zx);
  const sv = f32x4.splat(sx);
  for (let c = 0; c < K4; c += 4) {
    const t0 = f32x4.mul(depthwiseGrad4(gy, OH, OW, CO, c, x, H, W, XC, vz, 0, 0, stride, pad), sv);
    const t1 = f32x4.mul(depthwiseGrad4(gy, OH, OW, CO, c, x, H, W, XC, vz, 0, 1, stride, pad), sv);
    const t2 = f32x4.mul(depthwiseGrad4(gy, OH, OW, CO, c, x, H, W, XC, vz, 0, 2, stride, pad), sv);
    const t3 = f32x4.mul(depthwiseGrad4(gy, OH, OW, CO, c, x, H, W, XC, vz, 1, 0, stride, pad), sv);
    const t4 = f32x4.mul(depthwiseGrad4(gy, OH, OW, CO, c, x, H, W, XC, vz, 1, 1, stride, pad), sv);
    const t5 = f32x4.mul(depthwiseGrad4(gy, OH, OW, CO, c, x, H, W, XC, vz, 1, 2, stride, pad), sv);
    const t6 = f32x4.mul(depthwiseGrad4(gy, OH, OW, CO, c, x, H, W, XC, vz, 2, 0, stride, pad), sv);
    const t7 = f32x4.mul(depthwiseGrad4(gy, OH, OW, CO, c, x, H, W, XC, vz, 2, 1, stride, pad), sv);
    const t8 = f32x4.mul(depthwiseGrad4(gy, OH, OW, CO, c, x, H, W, XC, vz, 2, 2, stride, pad), sv);
    for (let l = 0; l < 4; l++) {
      const s = load<f32>(wScale + (<usize>(c + l) << 2));
      const base = (c + l) * 9;
      updateAt(lane(t0, l), s, base, w, vel, lr, mu, qas, rng);
      updateAt(lane(t1, l), s, base + 1, w, vel, lr, mu, qas, rng);
      updateAt(lane(t2, l), s, base + 2, w, vel, lr, mu, qas, rng);
      updateAt(lane(t3, l), s, base + 3, w, vel, lr, mu, qas, rng);
      updateAt(lane(t4, l), s, base + 4, w, vel, lr, mu, qas, rng);
      updateAt(lane(t5, l), s, base + 5, w, vel, lr, mu, qas, rng);
      updateAt(lane(t6, l), s, base + 6, w, vel, lr, mu, qas, rng);
      updateAt(lane(t7, l), s, base + 7, w, vel, lr, mu, qas, rng);
      updateAt(lane(t8, l), s, base + 8, w, vel, lr, mu, qas, rng);
    }
  }
}

/** Bias gradient sums of channels co..co+3 (positions ascending). */
export function biasGrad4(gy: usize, P: i32, CO: i32, co: i32): v128 {
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
