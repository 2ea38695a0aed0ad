// requant() for 4 accumulators with per-lane multipliers and shifts (lanes are output
// channels), giving the same integers as the scalar rule, valid when every lane's shift
// n >= 32 (the usual case: the real multiplier s_x*s_w/s_y is below 1/2). Only called
// inside `if (ASC_FEATURE_SIMD)`.
//
// Why it is exact: with P = acc*m (|P| < 2^62) the rule's first rounding is
// t = floor((P + 2^30) / 2^31), the high 33 bits of P + 2^30 (|t| <= 2^31 - 1, so t and
// t - 1 fit i32), and its second floor((t + 2^(n-32) - [t < 0]) / 2^(n-31)). The value
// t - [t < 0] + 2^(n-32) is below 2^32 in magnitude, exact in f64; scaling by a power of
// two and floor are exact too, so the f64 route has no rounding at all.

/** f64x2 of 2^(n-32) for the lanes of nv chosen by `high` (low or high pair). */
// @ts-ignore: decorator
@inline
export function rqHalf(nv: v128, high: bool): v128 {
  const e = i32x4.add(nv, i32x4.splat(1023 - 32));
  return i64x2.shl(high ? i64x2.extend_high_i32x4_s(e) : i64x2.extend_low_i32x4_s(e), 52);
}

/** f64x2 of 2^-(n-31) for the chosen lane pair. */
// @ts-ignore: decorator
@inline
export function rqScale(nv: v128, high: bool): v128 {
  const e = i32x4.sub(i32x4.splat(1023 + 31), nv);
  return i64x2.shl(high ? i64x2.extend_high_i32x4_s(e) : i64x2.extend_low_i32x4_s(e), 52);
}

/** True when all 4 shifts allow the vector path. */
// @ts-ignore: decorator
@inline
export function rqVectorOk(nv: v128): bool {
  return i32x4.all_true(i32x4.ge_s(nv, i32x4.splat(32)));
}

/**
 * The rule's rounding shift per lane, as i32x4 (clampZp4 adds the zero point and clamps);
 * h0/h1 = rqHalf, s0/s1 = rqScale of the lanes' shifts.
 */
// @ts-ignore: decorator
@inline
export function requant4v(acc: v128, mv: v128, h0: v128, h1: v128, s0: v128, s1: v128): v128 {
  const nudge = i64x2.splat(<i64>1 << 30);
  const p01 = i64x2.add(i64x2.extmul_low_i32x4_s(acc, mv), nudge);
  const p23 = i64x2.add(i64x2.extmul_high_i32x4_s(acc, mv), nudge);
  const hi = i32x4.shuffle(p01, p23, 1, 3, 5, 7);
  const lo = i32x4.shuffle(p01, p23, 0, 2, 4, 6);
  const t = v128.or(i32x4.shl(hi, 1), i32x4.shr_u(lo, 31));
  // t - 1 where t < 0: the second rounding goes half away from zero
  const a = i32x4.add(t, i32x4.shr_s(t, 31));
  // floor, then back to i32 by adding 1.5 * 2^52: an integer-valued f64 below 2^51 in
  // magnitude then holds itself, two's complement, in the low 32 bits of its mantissa
  // (cheaper than trunc_sat, and exact here since |q| < 2^31)
  const magic = f64x2.splat(6755399441055744.0);
  const q01 = f64x2.add(f64x2.floor(f64x2.mul(f64x2.add(f64x2.convert_low_i32x4_s(a), h0), s0)), magic);
  const q23 = f64x2.add(f64x2.floor(f64x2.mul(f64x2.add(f64x2.convert_low_i32x4_s(i32x4.shuffle(a, a, 2, 3, 0, 1)), h1), s1)), magic);
  return i32x4.shuffle(q01, q23, 0, 2, 4, 6);
}

/** clamp(zp + q, lo, hi) per lane; vzp/vlo/vhi splats. */
// @ts-ignore: decorator
@inline
export function clampZp4(q: v128, vzp: v128, vlo: v128, vhi: v128): v128 {
  return i32x4.min_s(i32x4.max_s(i32x4.add(q, vzp), vlo), vhi);
}

/** Stores the 4 lanes of an i32x4 (already within int8) as 4 bytes at p. */
// @ts-ignore: decorator
@inline
export function storeI8x4(p: usize, v: v128): void {
  const h = i16x8.narrow_i32x4_s(v, v);
  v128.store32_lane(p, i8x16.narrow_i16x8_s(h, h), 0);
}
