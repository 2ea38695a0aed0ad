// The one requantisation rule (documented in compiler/quantize/fixedpoint.ts):
//   y = clamp(zp + ((acc * m + 2^(n-1)) >> n), lo, hi), 64-bit, arithmetic shift.

// @ts-ignore: decorator
@inline
export function requant(acc: i32, m: i32, n: i32, zp: i32, lo: i32, hi: i32): i32 {
  const v: i64 = ((<i64>acc * <i64>m + (<i64>1 << <i64>(n - 1))) >> <i64>n) + <i64>zp;
  if (v < <i64>lo) return lo;
  if (v > <i64>hi) return hi;
  return <i32>v;
}

// @ts-ignore: decorator
@inline
export function requantPair(a: i32, ma: i32, b: i32, mb: i32, n: i32, zp: i32, lo: i32, hi: i32): i32 {
  const v: i64 = ((<i64>a * <i64>ma + <i64>b * <i64>mb + (<i64>1 << <i64>(n - 1))) >> <i64>n) + <i64>zp;
  if (v < <i64>lo) return lo;
  if (v > <i64>hi) return hi;
  return <i32>v;
}
