// Integer dot product of int8 activations (minus their zero point) with int8 weights.
// The SIMD and scalar builds give the same integer, so results are bit-identical. The
// scalar loop is also the SIMD branch's tail (n % 8 elements): SIMD == scalar tests cannot
// see a bug in it; test/kernels-reference.test.ts checks its callers in each build on its
// own against assembly/kernels/reference.

/** sum_{i<n} (x[i] - zx) * w[i] */
// @ts-ignore: decorator
@inline
export function dotS8(x: usize, w: usize, n: i32, zx: i32): i32 {
  let acc: i32 = 0;
  let i: i32 = 0;
  if (ASC_FEATURE_SIMD) {
    let vacc = i32x4.splat(0);
    const vz = i16x8.splat(<i16>zx);
    for (; i + 8 <= n; i += 8) {
      const xv = i16x8.sub(v128.load8x8_s(x + <usize>i), vz);
      const wv = v128.load8x8_s(w + <usize>i);
      vacc = i32x4.add(vacc, i32x4.dot_i16x8_s(xv, wv));
    }
    acc = i32x4.extract_lane(vacc, 0) + i32x4.extract_lane(vacc, 1) +
          i32x4.extract_lane(vacc, 2) + i32x4.extract_lane(vacc, 3);
  }
  for (; i < n; i++) {
    acc += (<i32>load<i8>(x + <usize>i) - zx) * <i32>load<i8>(w + <usize>i);
  }
  return acc;
}
