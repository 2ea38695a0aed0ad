// xorshift32 with its state in linear memory (part of the checkpoint), so stochastic
// rounding resumes exactly after a checkpoint is restored.

export function rngSeed(state: usize, seed: u32): void {
  // Same seed mixing as compiler/ir/rng.ts; zero is a fixed point of xorshift.
  let s: u32 = (seed ^ 0x9e3779b9) * 0x85ebca6b;
  if (s == 0) s = 0x6d2b79f5;
  store<u32>(state, s);
}

// @ts-ignore: decorator
@inline
export function rngNext(state: usize): u32 {
  let x = load<u32>(state);
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  store<u32>(state, x);
  return x;
}

/** Uniform in [0, 1) with 24 bits, exact in float32. */
// @ts-ignore: decorator
@inline
export function rngUniform(state: usize): f32 {
  return <f32>(rngNext(state) >> 8) * (1.0 / 16777216.0);
}
