// Element-wise int8 forward ops and float gradient plumbing.

import { requantPair } from './requant';

/** Residual add: y = requant((a - za)*ma + (b - zb)*mb), clamped to [lo, hi]. */
export function addS8(
  a: usize, za: i32, ma: i32, b: usize, zb: i32, mb: i32, n: i32,
  y: usize, zy: i32, lo: i32, hi: i32, count: i32,
): void {
  for (let i = 0; i < count; i++) {
    const va = <i32>load<i8>(a + <usize>i) - za;
    const vb = <i32>load<i8>(b + <usize>i) - zb;
    store<i8>(y + <usize>i, <i8>requantPair(va, ma, vb, mb, n, zy, lo, hi));
  }
}

/** Standalone ReLU/ReLU6 on int8 (same scale in and out). */
export function clampS8(x: usize, y: usize, count: i32, lo: i32, hi: i32): void {
  for (let i = 0; i < count; i++) {
    let v = <i32>load<i8>(x + <usize>i);
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    store<i8>(y + <usize>i, <i8>v);
  }
}

/**
 * Backward of a clamp, from the clamped int8 output: the gradient passes where the
 * output is strictly inside (lo, hi). In place.
 */
export function clampBackwardF32(g: usize, y: usize, count: i32, lo: i32, hi: i32): void {
  for (let i = 0; i < count; i++) {
    const v = <i32>load<i8>(y + <usize>i);
    if (v <= lo || v >= hi) store<f32>(g + (<usize>i << 2), 0);
  }
}

/** dst = src, or dst += src. */
export function gradInto(src: usize, dst: usize, count: i32, accumulate: bool): void {
  if (!accumulate) {
    memory.copy(dst, src, <usize>count << 2);
    return;
  }
  for (let i = 0; i < count; i++) {
    const p = dst + (<usize>i << 2);
    store<f32>(p, load<f32>(p) + load<f32>(src + (<usize>i << 2)));
  }
}

export function argmaxS8(x: usize, count: i32): i32 {
  let best = 0;
  let bestV = <i32>load<i8>(x);
  for (let i = 1; i < count; i++) {
    const v = <i32>load<i8>(x + <usize>i);
    if (v > bestV) { best = i; bestV = v; }
  }
  return best;
}

/** Keeps the first K of C channels at each of P positions (the input a sparse weight gradient needs). */
export function saveChannelsS8(x: usize, P: i32, C: i32, K: i32, out: usize): void {
  for (let p = 0; p < P; p++) memory.copy(out + <usize>(p * K), x + <usize>(p * C), <usize>K);
}

/** 1 bit per element: set where lo < y < hi, i.e. where the clamp lets gradient through. */
export function saveMaskBits(y: usize, count: i32, lo: i32, hi: i32, bits: usize): void {
  for (let i = 0; i < count; i += 8) {
    let b: i32 = 0;
    const n = min(8, count - i);
    for (let j = 0; j < n; j++) {
      const v = <i32>load<i8>(y + <usize>(i + j));
      if (v > lo && v < hi) b |= 1 << j;
    }
    store<u8>(bits + <usize>(i >> 3), <u8>b);
  }
}

/** Clamp backward from a bit mask, in place. */
export function clampBackwardBitsF32(g: usize, bits: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    if (((<i32>load<u8>(bits + <usize>(i >> 3)) >> (i & 7)) & 1) == 0) store<f32>(g + (<usize>i << 2), 0);
  }
}
