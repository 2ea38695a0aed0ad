/**
 * The per-op tests' float side (test/ops/<op>.test.ts): each op's float reference against
 * TF.js (CPU backend), with TF.js's layouts, and the tolerance below.
 *
 * FLOAT TOLERANCE. The op's float reference and TF.js (CPU backend) compute the same sums of
 * products in float32, in different orders. For a result r = sum_{k<n} t_k computed with
 * at most n + c roundings on either side, recursive summation's error bound (Higham,
 * "Accuracy and Stability of Numerical Algorithms", sec. 3.1) is |computed - exact| <=
 * gamma_{n+c} * S with S = sum_k |t_k|, gamma_m = m u / (1 - m u), u = 2^-24, in any order.
 * So, element by element,
 *     |ours - tf| <= 2 * gamma_{n+4} * S
 * where n bounds the terms feeding that element, and S is what TF.js computes for the same
 * op on absolute values (|x|, |w|, |b|, |gy|): a worst-case bound that follows each sum's own
 * size, not a fitted one. A dropped or doubled term, a wrong tap or a wrong layout misses it
 * by orders of magnitude. (test/kernels-grad.test.ts bounds the int8 kernels the same way.)
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// The Node (CJS) bundle of tfjs-core ships no gradient functions; this ESM module registers them.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { expect } from 'vitest';

export { tf };

export async function useTfCpu(): Promise<void> {
  await tf.setBackend('cpu');
  tf.env().set('DEBUG', false);
}

/** Higham's gamma_n for float32. */
export function gamma(n: number): number {
  const u = 2 ** -24;
  return (n * u) / (1 - n * u);
}

/** Every element within 2 * gamma_{terms+4} * bound[i] of the reference (see the header). */
export function expectWithinBound(ours: ArrayLike<number>, ref: ArrayLike<number>, bound: ArrayLike<number>, terms: number, what: string): void {
  expect(ours.length, `${what}: length`).toBe(ref.length);
  const g = 2 * gamma(terms + 4);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(ours[i]! - ref[i]!);
    const allowed = g * bound[i]! + 1e-30;
    if (err > allowed) expect.fail(`${what}[${i}]: ${ours[i]} vs TF.js ${ref[i]} (error ${err}, bound ${allowed})`);
    worst = Math.max(worst, err / allowed);
  }
  expect(worst, what).toBeLessThanOrEqual(1);
}

/** Explicit symmetric padding for TF.js convs and pools (its numeric `pad` means something else: not `pad` rows each side). */
export function tfPad([top, left, bottom, right]: readonly number[]): tf.conv_util.ExplicitPadding {
  return [
    [0, 0],
    [top!, bottom!],
    [left!, right!],
    [0, 0],
  ];
}

/** A tensor's values as a Float32Array (and dispose it). */
export function valuesOf(t: tf.Tensor): Float32Array {
  const v = Float32Array.from(t.dataSync());
  t.dispose();
  return v;
}

/** Our conv weights [CO, KH, KW, CI] as TF.js's conv2d filter [KH, KW, CI, CO]. */
export function convFilterToTf(w: Float32Array, [CO, KH, KW, CI]: [number, number, number, number]): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(w, [CO, KH, KW, CI]), [1, 2, 3, 0]) as tf.Tensor4D);
}

/** TF.js's conv2d filter gradient [KH, KW, CI, CO] in our layout [CO, KH, KW, CI]. */
export function convFilterFromTf(f: tf.Tensor): Float32Array {
  return valuesOf(tf.tidy(() => tf.transpose(f, [3, 0, 1, 2])));
}

/** Our depthwise weights [C, KH, KW, 1] as TF.js's depthwise filter [KH, KW, C, 1]. */
export function depthwiseFilterToTf(w: Float32Array, [C, KH, KW]: [number, number, number, number]): tf.Tensor4D {
  return tf.tidy(() => tf.reshape(tf.transpose(tf.tensor3d(w, [C, KH, KW]), [1, 2, 0]), [KH, KW, C, 1]) as tf.Tensor4D);
}

/** TF.js's depthwise filter gradient [KH, KW, C, 1] in our layout [C, KH, KW, 1]. */
export function depthwiseFilterFromTf(f: tf.Tensor): Float32Array {
  const [KH, KW, C] = f.shape as number[];
  return valuesOf(tf.tidy(() => tf.transpose(tf.reshape(f, [KH!, KW!, C!]), [2, 0, 1])));
}

/** The values with -0 as 0 (TF.js multiplies a cut gradient by 0, which keeps its sign; the value is the same). */
export function signlessZeros(v: ArrayLike<number>): number[] {
  return Array.from(v, (e) => e + 0);
}

/** |v| element-wise (the S of the tolerance bound is TF.js's op on absolute values). */
export function abs(v: Float32Array): Float32Array {
  return v.map(Math.abs);
}

/** TF.js forward of `f` on `args`, and the gradients of sum(gy * f) with respect to every arg. */
export function tfForwardBackward(f: (...args: tf.Tensor[]) => tf.Tensor, args: tf.Tensor[], gy: Float32Array): { y: Float32Array; grads: tf.Tensor[] } {
  const y = tf.tidy(() => f(...args));
  const dy = tf.tensor(gy, y.shape);
  const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), dy)))(args);
  dy.dispose();
  return { y: valuesOf(y), grads };
}
