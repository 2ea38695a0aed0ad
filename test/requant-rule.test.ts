/**
 * The one requantisation rule (compiler/quantize/fixedpoint.ts) against TFLite's
 * MultiplyByQuantizedMultiplier written the way TFLite writes it (tensorflow/lite/kernels/
 * internal/common.h, without TFLITE_SINGLE_ROUNDING): a saturating rounding doubling high
 * multiply whose nudge depends on the sign and whose division truncates toward zero, then
 * a rounding divide by a power of two through a mask and a sign-dependent threshold. The
 * two formulations share no code; they must agree on every integer, ties included.
 */
import { describe, expect, it } from 'vitest';
import { ADD_LEFT_SHIFT, quantizeAdd, quantizeMultiplier, requantize, requantizeAdd, roundShift } from '../compiler/quantize/fixedpoint.js';
import { Rng } from './support/kernel-module.js';

const I32_MIN = -(2n ** 31n);
const I32_MAX = 2n ** 31n - 1n;

/** TFLite's SaturatingRoundingDoublingHighMul on int32 a, b (BigInt; C++ `/` truncates toward zero). */
function doublingHighMul(a: bigint, b: bigint): bigint {
  if (a === I32_MIN && b === I32_MIN) return I32_MAX;
  const ab = a * b;
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return (ab + nudge) / (1n << 31n); // BigInt division truncates toward zero, as C++'s
}

/** TFLite's RoundingDivideByPOT(x, exponent). */
function roundingDivideByPot(x: bigint, exponent: bigint): bigint {
  const mask = (1n << exponent) - 1n;
  const remainder = x & mask;
  const threshold = (mask >> 1n) + (x < 0n ? 1n : 0n);
  return (x >> exponent) + (remainder > threshold ? 1n : 0n);
}

/** TFLite's MultiplyByQuantizedMultiplier(x, multiplier, shift), shift = 31 - n in our terms. */
function tfliteMultiply(x: bigint, multiplier: bigint, shift: number): bigint {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  const shifted = BigInt.asIntN(32, x * (1n << BigInt(left)));
  return roundingDivideByPot(doublingHighMul(shifted, multiplier), BigInt(right));
}

describe("the requantisation rule is TFLite's MultiplyByQuantizedMultiplier", () => {
  it('agrees on random accumulators, multipliers and shifts, and on every tie', () => {
    const rng = new Rng(41);
    let ties = 0;
    for (let i = 0; i < 200_000; i++) {
      const n = rng.int(1, 62);
      const m = rng.int(1 << 30, 0x7fffffff);
      // accumulators that stay in int32 after TFLite's left shift (n < 31 shifts acc left)
      const limit = n >= 31 ? 2 ** 31 - 1 : Math.floor((2 ** 31 - 1) / 2 ** (31 - n));
      const small = rng.next() < 0.5;
      let acc = small ? rng.int(-Math.min(5000, limit), Math.min(5000, limit)) : rng.int(-limit, limit);
      if (i % 4 === 0 && n > 31) {
        // construct an exact tie of the second rounding: t = k 2^(n-31) + 2^(n-32)
        const s = n - 31;
        const t = BigInt(rng.int(-1000, 1000)) * (1n << BigInt(s)) + (1n << BigInt(s - 1));
        const a = (t << 31n) / BigInt(m);
        if (a >= I32_MIN && a <= I32_MAX) acc = Number(a);
        ties++;
      }
      const ours = roundShift(BigInt(acc) * BigInt(m), n);
      const theirs = tfliteMultiply(BigInt(acc), BigInt(m), 31 - n);
      if (ours !== theirs) expect({ acc, m, n, ours, theirs }).toEqual({ acc, m, n, ours: theirs, theirs });
    }
    expect(ties).toBeGreaterThan(10_000);
  });

  it('requantize adds the zero point and clamps', () => {
    const f = quantizeMultiplier(0.0123);
    expect(requantize(10_000, f, -5, -128, 127)).toBe(Math.min(127, Math.max(-128, Number(tfliteMultiply(10_000n, BigInt(f.m), 31 - f.n)) - 5)));
    expect(requantize(-1e6, f, 0, -128, 127)).toBe(-128);
  });

  it("the add is TFLite's int8 ADD: inputs shifted left 20 bits, rescaled, summed, rescaled", () => {
    const rng = new Rng(7);
    for (let i = 0; i < 20_000; i++) {
      const [sa, sb, sy] = [rng.uniform(0.005, 0.2), rng.uniform(0.005, 0.2), rng.uniform(0.005, 0.3)];
      const p = quantizeAdd(sa, sb, sy);
      const [a, b] = [rng.int(-255, 255), rng.int(-255, 255)];
      const zy = rng.int(-128, 127);
      const scaled = (v: number, f: { m: number; n: number }): bigint => tfliteMultiply(BigInt(v) << BigInt(ADD_LEFT_SHIFT), BigInt(f.m), 31 - f.n);
      const raw = tfliteMultiply(scaled(a, p.a) + scaled(b, p.b), BigInt(p.out.m), 31 - p.out.n) + BigInt(zy);
      const theirs = Math.min(127, Math.max(-128, Number(raw)));
      expect(requantizeAdd(a, b, p, zy, -128, 127)).toBe(theirs);
    }
  });
});
