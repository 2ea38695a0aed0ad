// The requantisation rule written out plainly (compiler/quantize/fixedpoint.ts):
//   y = clamp(zp + ((p + 2^(n-1)) >> n), lo, hi), p a 64-bit product or sum of products.

export function qs8_requant__ref(p: i64, n: i32, zp: i32, lo: i32, hi: i32): i32 {
  const half: i64 = <i64>1 << <i64>(n - 1);
  let v: i64 = (p + half) >> <i64>n;
  v += <i64>zp;
  if (v < <i64>lo) v = <i64>lo;
  if (v > <i64>hi) v = <i64>hi;
  return <i32>v;
}
