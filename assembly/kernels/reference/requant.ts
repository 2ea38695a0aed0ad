// The requantisation rule written out plainly (compiler/quantize/fixedpoint.ts), TFLite's
// MultiplyByQuantizedMultiplier: p a 64-bit product or sum of products, n its shift.
//   n <= 31: one rounding, (p + 2^(n-1)) >> n
//   n >  31: a rounding doubling high multiply, t = (p + 2^30) >> 31, then a rounding
//            shift half away from zero, (t + 2^(n-32) - (t < 0 ? 1 : 0)) >> (n - 31)
// then the zero point and the clamp to [lo, hi].

export function qs8_round_shift__ref(p: i64, n: i32): i64 {
  if (n <= 31) {
    const half: i64 = <i64>1 << <i64>(n - 1);
    return (p + half) >> <i64>n;
  }
  const t: i64 = (p + (<i64>1 << 30)) >> 31;
  const rs: i64 = <i64>(n - 31);
  const bias: i64 = (<i64>1 << (rs - 1)) - (t < 0 ? <i64>1 : <i64>0);
  return (t + bias) >> rs;
}

export function qs8_requant__ref(p: i64, n: i32, zp: i32, lo: i32, hi: i32): i32 {
  let v: i64 = qs8_round_shift__ref(p, n);
  v += <i64>zp;
  if (v < <i64>lo) v = <i64>lo;
  if (v > <i64>hi) v = <i64>hi;
  return <i32>v;
}
