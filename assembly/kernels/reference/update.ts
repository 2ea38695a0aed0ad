// The update of one parameter (update.ts), written out plainly: integer-domain gradient
// (QAS: g / s, else g * s; non-finite -> 0), momentum, step floor(u - lr * dir) with
// u ~ U[0,1) from the runtime's rng (0.5 when rng == 0), NaN step 0, step clamped to
// +-2^30, parameter saturated. The rng is the runtime's service (rng.ts), not a kernel.
// Non-finite gradients are counted in the references' own counter, compared with the
// runtime's (resetNonFiniteGradients / nonFiniteGradientCount) after every call.

import { rngUniform } from '../rng';

let nonFinite__ref: u32 = 0;

/** resetNonFiniteGradients. */
export function u32_nonfinite_reset__ref(): void {
  nonFinite__ref = 0;
}

/** nonFiniteGradientCount: parameters whose integer-domain gradient was not finite since the reset. */
export function u32_nonfinite_count__ref(): u32 {
  return nonFinite__ref;
}

function stepOf__ref(g: f32, s: f32, qas: bool, vel: usize, i: i32, lr: f32, mu: f32, rng: usize): i64 {
  let gi: f32 = qas ? g / s : g * s;
  if (!isFinite(gi)) {
    nonFinite__ref++;
    gi = 0;
  }
  let dir = gi;
  if (vel != 0) {
    const p = vel + (<usize>i << 2);
    dir = mu * load<f32>(p) + gi;
    store<f32>(p, dir);
  }
  let u: f32 = 0.5;
  if (rng != 0) u = rngUniform(rng);
  const step = Mathf.floor(u - lr * dir);
  if (isNaN(step)) return 0;
  if (step > <f32>1073741824.0) return 1073741824;
  if (step < <f32>-1073741824.0) return -1073741824;
  return <i64><i32>step;
}

/** Parameter i of the int8 weights at w: steps and saturates to [-127, 127]. */
export function qs8_param_step__ref(w: usize, i: i32, g: f32, s: f32, qas: bool, vel: usize, lr: f32, mu: f32, rng: usize): void {
  const p = w + <usize>i;
  let v: i64 = <i64>load<i8>(p) + stepOf__ref(g, s, qas, vel, i, lr, mu, rng);
  if (v < -127) v = -127;
  if (v > 127) v = 127;
  store<i8>(p, <i8>v);
}

/** Parameter i of the int32 biases at b: steps and saturates to the i32 range. */
export function qs32_param_step__ref(b: usize, i: i32, g: f32, s: f32, qas: bool, vel: usize, lr: f32, mu: f32, rng: usize): void {
  const p = b + (<usize>i << 2);
  let v: i64 = <i64>load<i32>(p) + stepOf__ref(g, s, qas, vel, i, lr, mu, rng);
  if (v < -2147483648) v = -2147483648;
  if (v > 2147483647) v = 2147483647;
  store<i32>(p, <i32>v);
}
