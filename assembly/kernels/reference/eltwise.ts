// Reference element-wise kernels: residual add, ReLU/ReLU6 as a clamp and its backward
// (from the output or from a bit mask), the mask itself, gradient copy/sum, channel save.

import { qs8_requant__ref, qs8_round_shift__ref } from './requant';
import { AddRecord, ClampBackwardBitsRecord, ClampBackwardRecord, ClampRecord, GradIntoRecord, SaveChannelsRecord, SaveMaskRecord } from '../records';

/** addS8, TFLite's int8 ADD: y = rq(rq((a - za) * 2^20, ma, na) + rq((b - zb) * 2^20, mb, nb), my, ny) + zy, clamped to [lo, hi]. */
export function qs8_add__ref(record: usize): void {
  const r = changetype<AddRecord>(record);
  for (let i = 0; i < r.count; i++) {
    const a = <i64>(<i32>load<i8>(r.a + <usize>i) - r.za) * <i64>(1 << 20);
    const b = <i64>(<i32>load<i8>(r.b + <usize>i) - r.zb) * <i64>(1 << 20);
    const sum = qs8_round_shift__ref(a * <i64>r.ma, r.na) + qs8_round_shift__ref(b * <i64>r.mb, r.nb);
    store<i8>(r.y + <usize>i, <i8>qs8_requant__ref(sum * <i64>r.my, r.ny, r.zy, r.lo, r.hi));
  }
}

/** clampS8: y = min(max(x, lo), hi). */
export function qs8_clamp__ref(record: usize): void {
  const r = changetype<ClampRecord>(record);
  for (let i = 0; i < r.count; i++) store<i8>(r.y + <usize>i, <i8>min(max(<i32>load<i8>(r.x + <usize>i), r.lo), r.hi));
}

/** True where the clamp lets the gradient through: lo < y < hi. */
function passes__ref(y: i32, lo: i32, hi: i32): bool {
  return lo < y && y < hi;
}

/** clampBackwardF32: g = 0 where the output sits on a clamp bound, in place. */
export function f32_clamp_bwd__ref(record: usize): void {
  const r = changetype<ClampBackwardRecord>(record);
  for (let i = 0; i < r.count; i++) {
    if (!passes__ref(<i32>load<i8>(r.y + <usize>i), r.lo, r.hi)) store<f32>(r.g + (<usize>i << 2), 0);
  }
}

/** saveMaskBits: bit i (byte i / 8, bit i % 8) set where the gradient passes; unused bits of the last byte 0. */
export function u1_clamp_mask__ref(record: usize): void {
  const r = changetype<SaveMaskRecord>(record);
  for (let i = 0; i < (r.count + 7) >> 3; i++) store<u8>(r.bits + <usize>i, 0);
  for (let i = 0; i < r.count; i++) {
    if (!passes__ref(<i32>load<i8>(r.y + <usize>i), r.lo, r.hi)) continue;
    const p = r.bits + <usize>(i >> 3);
    store<u8>(p, <u8>(<i32>load<u8>(p) | (1 << (i & 7))));
  }
}

/** clampBackwardBitsF32: g = 0 where the mask bit is 0, in place. */
export function f32_clamp_bwd_mask__ref(record: usize): void {
  const r = changetype<ClampBackwardBitsRecord>(record);
  for (let i = 0; i < r.count; i++) {
    const bit = (<i32>load<u8>(r.bits + <usize>(i >> 3)) >> (i & 7)) & 1;
    if (bit == 0) store<f32>(r.g + (<usize>i << 2), 0);
  }
}

/** gradInto: dst = src, or dst += src. */
export function f32_grad_into__ref(record: usize): void {
  const r = changetype<GradIntoRecord>(record);
  for (let i = 0; i < r.count; i++) {
    const p = r.dst + (<usize>i << 2);
    const s = load<f32>(r.src + (<usize>i << 2));
    store<f32>(p, r.accumulate ? load<f32>(p) + s : s);
  }
}

/** saveChannelsS8: the first K of C channels of each of P positions. */
export function qs8_save_channels__ref(record: usize): void {
  const r = changetype<SaveChannelsRecord>(record);
  for (let p = 0; p < r.P; p++)
    for (let c = 0; c < r.K; c++) store<i8>(r.out + <usize>(p * r.K + c), load<i8>(r.x + <usize>(p * r.C + c)));
}

/** argmaxS8: index of the first largest value. */
export function qs8_argmax__ref(x: usize, count: i32): i32 {
  let best = 0;
  for (let i = 1; i < count; i++) if (load<i8>(x + <usize>i) > load<i8>(x + <usize>best)) best = i;
  return best;
}
