// The one requantisation rule (documented in compiler/quantize/fixedpoint.ts):
//   y = clamp(zp + ((acc * m + 2^(n-1)) >> n), lo, hi), 64-bit, arithmetic shift.

/** The rule's rounding shift, zero point and clamp of a 64-bit product (or sum of products) p. */
// @ts-ignore: decorator
@inline
export function requantSum(p: i64, n: i32, zp: i32, lo: i32, hi: i32): i32 {
  const v: i64 = ((p + (<i64>1 << <i64>(n - 1))) >> <i64>n) + <i64>zp;
  if (v < <i64>lo) return lo;
  if (v > <i64>hi) return hi;
  return <i32>v;
}

// @ts-ignore: decorator
@inline
export function requant(acc: i32, m: i32, n: i32, zp: i32, lo: i32, hi: i32): i32 {
  return requantSum(<i64>acc * <i64>m, n, zp, lo, hi);
}
