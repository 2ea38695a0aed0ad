// The one requantisation rule (documented in compiler/quantize/fixedpoint.ts): TFLite's
// MultiplyByQuantizedMultiplier on a 64-bit product p = acc * m with shift n,
//   n <= 31: (p + 2^(n-1)) >> n
//   n >  31: t = (p + 2^30) >> 31, then (t + 2^(n-32) - [t < 0]) >> (n - 31)
// (arithmetic shifts), then the zero point and the clamp.

/** The rule's rounding shift of a 64-bit product (or sum of products) p, before zero point and clamp. */
// @ts-ignore: decorator
@inline
export function roundShift(p: i64, n: i32): i64 {
  if (n <= 31) return (p + (<i64>1 << <i64>(n - 1))) >> <i64>n;
  const t: i64 = (p + (<i64>1 << 30)) >> 31;
  return (t + (<i64>1 << <i64>(n - 32)) + (t >> 63)) >> <i64>(n - 31);
}

/** The rule's rounding shift, zero point and clamp of a 64-bit product (or sum of products) p. */
// @ts-ignore: decorator
@inline
export function requantSum(p: i64, n: i32, zp: i32, lo: i32, hi: i32): i32 {
  const v: i64 = roundShift(p, n) + <i64>zp;
  if (v < <i64>lo) return lo;
  if (v > <i64>hi) return hi;
  return <i32>v;
}

// @ts-ignore: decorator
@inline
export function requant(acc: i32, m: i32, n: i32, zp: i32, lo: i32, hi: i32): i32 {
  return requantSum(<i64>acc * <i64>m, n, zp, lo, hi);
}
