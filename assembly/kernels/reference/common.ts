// Small pieces several reference kernels share.

/** n float32 zeros at p. */
export function zeroF32__ref(p: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), 0);
}

/**
 * The output gradient of a frozen 1x1 head at position p, channel co, when a global
 * average pool over P positions follows it: gpool[co] / P (as gpool[co] * (1 / P)), 0 where
 * the head's clamp bit (bits, 1 per output element; 0: no clamp) is 0.
 */
export function headGrad__ref(gpool: usize, P: i32, bits: usize, CO: i32, p: i32, co: i32): f32 {
  const inv: f32 = 1.0 / <f32>P;
  const i = p * CO + co;
  if (bits != 0 && ((<i32>load<u8>(bits + <usize>(i >> 3)) >> (i & 7)) & 1) == 0) return 0;
  return load<f32>(gpool + (<usize>co << 2)) * inv;
}
