// Parameter update rules shared by every layer kind.
//
// With QAS (Lin et al. 2022, Eq. 4) the gradient of an int8 weight (= s_w * dL/dW) is
// scaled by s_w^-2, and that of an int32 bias (= s_w*s_x * dL/db) by (s_w*s_x)^-2; the
// resulting step in integer units equals the float step divided by the scale, i.e. the
// int8 model moves exactly as the float model would. Without QAS the raw integer-domain
// gradient is used, which is what the "no QAS" setting measures.
//
// Integer steps are rounded stochastically (floor(v + u), u ~ U[0,1) from the runtime's
// xorshift32), so sub-unit steps are kept on average instead of being rounded away;
// rng == 0 selects round-to-nearest (floor(v + 0.5)), kept for comparison.

import { rngUniform } from './rng';

/**
 * Parameters whose gradient came out non-finite since the last reset. Updates are fused
 * into the backward pass, so by the time a late layer's gradient overflows, earlier
 * layers are already updated: the guard therefore works per parameter (a non-finite
 * gradient counts as zero, so neither the parameter nor its momentum is poisoned) and the
 * runtime counts the steps in which it happened.
 */
let nonFiniteGradients: u32 = 0;

export function resetNonFiniteGradients(): void { nonFiniteGradients = 0; }
export function nonFiniteGradientCount(): u32 { return nonFiniteGradients; }

/** Scale a real-valued gradient into the integer domain of a parameter with scale s; 0 if non-finite. */
// @ts-ignore: decorator
@inline
export function integerGradient(realGrad: f32, s: f32, qas: bool): f32 {
  const g = qas ? realGrad / s : realGrad * s;
  if (!isFinite(g)) {
    nonFiniteGradients++;
    return 0;
  }
  return g;
}

/** Optional momentum: v = mu*v + g; returns the step direction. vel == 0 means no state. */
// @ts-ignore: decorator
@inline
export function withMomentum(g: f32, vel: usize, mu: f32): f32 {
  if (vel == 0) return g;
  const v = mu * load<f32>(vel) + g;
  store<f32>(vel, v);
  return v;
}

/** The rounding offset: U[0,1) for stochastic rounding, or 0.5 (round to nearest) when rng == 0. */
// @ts-ignore: decorator
@inline
function roundingOffset(rng: usize): f32 {
  return rng == 0 ? <f32>0.5 : rngUniform(rng);
}

/**
 * The integer step floor(u - lr*dir). It is formed apart from the parameter: in f32,
 * w + u would round up to w + 1 when u is within |w|*2^-24 of 1 (moving weights that
 * should not move), while u - lr*dir keeps the step's own precision. f32 only, because
 * Cortex-M4F/M7 FPUs are single precision. NaN steps are 0; huge ones are clamped (the
 * parameter saturates anyway).
 */
// @ts-ignore: decorator
@inline
function integerStep(dir: f32, lr: f32, rng: usize): i64 {
  const r = Mathf.floor(roundingOffset(rng) - lr * dir);
  if (r != r) return 0;
  if (r > <f32>1073741824.0) return 1073741824;
  if (r < <f32>-1073741824.0) return -1073741824;
  return <i64><i32>r;
}

/** New int8 weight after a step of -lr*dir, rounded as above, kept in [-127, 127]. */
// @ts-ignore: decorator
@inline
export function stepInt8(w: i32, dir: f32, lr: f32, rng: usize): i32 {
  const v = <i64>w + integerStep(dir, lr, rng);
  return v < -127 ? -127 : v > 127 ? 127 : <i32>v;
}

/** New int32 bias after a step of -lr*dir, rounded as above, saturating. */
// @ts-ignore: decorator
@inline
export function stepInt32(b: i32, dir: f32, lr: f32, rng: usize): i32 {
  const v = <i64>b + integerStep(dir, lr, rng);
  return v < -2147483648 ? -2147483648 : v > 2147483647 ? 2147483647 : <i32>v;
}

// One parameter's update, as every update kernel writes it:
//   stepInt8At(w + i, stepDirection(g, s, qas, velAt(vel, i), mu), lr, rng)

/** Element i's momentum slot in the f32 buffer vel; 0 (no state) when vel is 0. */
// @ts-ignore: decorator
@inline
export function velAt(vel: usize, i: i32): usize {
  return vel == 0 ? 0 : vel + (<usize>i << 2);
}

/** The step direction of a parameter with scale s and real-valued gradient g: integer-domain gradient, through momentum. */
// @ts-ignore: decorator
@inline
export function stepDirection(g: f32, s: f32, qas: bool, vel: usize, mu: f32): f32 {
  return withMomentum(integerGradient(g, s, qas), vel, mu);
}

/** The int8 weight at p after a step of -lr*dir. */
// @ts-ignore: decorator
@inline
export function stepInt8At(p: usize, dir: f32, lr: f32, rng: usize): void {
  store<i8>(p, <i8>stepInt8(<i32>load<i8>(p), dir, lr, rng));
}

/** The int32 bias at p after a step of -lr*dir. */
// @ts-ignore: decorator
@inline
export function stepInt32At(p: usize, dir: f32, lr: f32, rng: usize): void {
  store<i32>(p, stepInt32(load<i32>(p), dir, lr, rng));
}
