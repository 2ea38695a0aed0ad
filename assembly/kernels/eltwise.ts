// Element-wise int8 forward ops and float gradient plumbing.

import { requantSum, roundShift } from './requant';
import { AddRecord, ClampBackwardBitsRecord, ClampBackwardRecord, ClampRecord, GradIntoRecord, SaveChannelsRecord, SaveMaskRecord } from './records';

/**
 * Residual add, as TFLite's int8 ADD (compiler/quantize/fixedpoint.ts): each input less its
 * zero point, shifted left 20 bits, rescaled onto a common grid; the sum rescaled onto the
 * output, clamped to [lo, hi].
 */
export function addS8(record: usize): void {
  const r = changetype<AddRecord>(record);
  const a = r.a; const za = r.za; const ma = <i64>r.ma; const na = r.na;
  const b = r.b; const zb = r.zb; const mb = <i64>r.mb; const nb = r.nb;
  const my = <i64>r.my; const ny = r.ny;
  const y = r.y; const zy = r.zy; const lo = r.lo; const hi = r.hi; const count = r.count;
  for (let i = 0; i < count; i++) {
    const va = <i64>((<i32>load<i8>(a + <usize>i) - za) << 20);
    const vb = <i64>((<i32>load<i8>(b + <usize>i) - zb) << 20);
    const sum = roundShift(va * ma, na) + roundShift(vb * mb, nb);
    store<i8>(y + <usize>i, <i8>requantSum(sum * my, ny, zy, lo, hi));
  }
}

/** Standalone ReLU/ReLU6 on int8 (same scale in and out). */
export function clampS8(record: usize): void {
  const r = changetype<ClampRecord>(record);
  const x = r.x; const y = r.y; const count = r.count; const lo = r.lo; const hi = r.hi;
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
export function clampBackwardF32(record: usize): void {
  const r = changetype<ClampBackwardRecord>(record);
  const g = r.g; const y = r.y; const count = r.count; const lo = r.lo; const hi = r.hi;
  for (let i = 0; i < count; i++) {
    const v = <i32>load<i8>(y + <usize>i);
    if (v <= lo || v >= hi) store<f32>(g + (<usize>i << 2), 0);
  }
}

/** dst = src, or dst += src. */
export function gradInto(record: usize): void {
  const r = changetype<GradIntoRecord>(record);
  const src = r.src; const dst = r.dst; const count = r.count;
  if (!r.accumulate) {
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
export function saveChannelsS8(record: usize): void {
  const r = changetype<SaveChannelsRecord>(record);
  const x = r.x; const P = r.P; const C = r.C; const K = r.K; const out = r.out;
  for (let p = 0; p < P; p++) memory.copy(out + <usize>(p * K), x + <usize>(p * C), <usize>K);
}

/** 1 bit per element: set where lo < y < hi, i.e. where the clamp lets gradient through. */
export function saveMaskBits(record: usize): void {
  const r = changetype<SaveMaskRecord>(record);
  const y = r.y; const count = r.count; const lo = r.lo; const hi = r.hi; const bits = r.bits;
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
export function clampBackwardBitsF32(record: usize): void {
  const r = changetype<ClampBackwardBitsRecord>(record);
  const g = r.g; const bits = r.bits; const count = r.count;
  for (let i = 0; i < count; i++) {
    if (((<i32>load<u8>(bits + <usize>(i >> 3)) >> (i & 7)) & 1) == 0) store<f32>(g + (<usize>i << 2), 0);
  }
}
