/**
 * The one requantisation rule used everywhere (runtime kernels, TS reference, tests): TFLite's
 * (and TFLite Micro's) MultiplyByQuantizedMultiplier, so an imported int8 model computes the
 * interpreter's integers exactly. With the real multiplier M = m * 2^-n and p = acc * m
 * (64-bit):
 *
 *     n <= 31:  y = (p + 2^(n-1)) >> n                                 (one rounding)
 *     n >  31:  t = (p + 2^30) >> 31;   y = (t + 2^(n-32) - [t < 0]) >> (n - 31)
 *
 * then clamp(zp + y, lo, hi); every shift arithmetic. The second form is TFLite's two
 * roundings (a rounding doubling high multiply, then a rounding shift by n - 31, the
 * multiplier's exponent): the first rounds half toward +infinity, the second half away from
 * zero. m is a 31-bit positive integer in [2^30, 2^31) and 1 <= n <= 62, so |acc| < 2^31
 * never overflows 64 bits.
 */
import { TinytrainError } from '../errors.js';

export interface FixedMultiplier {
  m: number;
  n: number;
}

/** Scales come from the model (calibration ranges, fixed quantisation): an unusable ratio is the model's fault. */
function tooLarge(real: number): never {
  throw new TinytrainError(
    `requantisation multiplier ${real} is too large (>= 2^30): the model's quantisation scales are inconsistent`,
    "check the model's calibration ranges and quantization scales (an output scale far smaller than its input's)",
  );
}

export function quantizeMultiplier(real: number): FixedMultiplier {
  if (!(real > 0) || !Number.isFinite(real)) return { m: 0, n: 1 };
  let e = Math.floor(Math.log2(real)) + 1; // real = frac * 2^e, frac in [0.5, 1)
  let frac = real / 2 ** e;
  if (frac >= 1) {
    frac /= 2;
    e += 1;
  }
  if (frac < 0.5) {
    frac *= 2;
    e -= 1;
  }
  let m = Math.round(frac * 2 ** 31);
  let n = 31 - e;
  if (m === 2 ** 31) {
    m = 2 ** 30;
    n -= 1;
  }
  if (n > 62) {
    // too small to represent: shrink m instead of overflowing the shift
    m = Math.round(m / 2 ** (n - 62));
    n = 62;
  }
  if (n < 1) tooLarge(real);
  return { m, n };
}

/** The rule above on a 64-bit product (or sum of products) p, before the zero point and the clamp. */
export function roundShift(p: bigint, n: number): bigint {
  if (n <= 31) return (p + (1n << BigInt(n - 1))) >> BigInt(n);
  const t = (p + (1n << 30n)) >> 31n;
  return (t + (1n << BigInt(n - 32)) - (t < 0n ? 1n : 0n)) >> BigInt(n - 31);
}

/** Exact reference of the rule above (BigInt, so it is bit-exact with the runtime). */
export function requantize(acc: number, f: FixedMultiplier, zp: number, lo: number, hi: number): number {
  const y = Number(roundShift(BigInt(acc) * BigInt(f.m), f.n)) + zp;
  return Math.min(Math.max(y, lo), hi);
}

/**
 * Residual add, as TFLite's int8 ADD: each input, less its zero point and shifted left by
 * ADD_LEFT_SHIFT bits, is rescaled onto a common grid (multipliers s_a / 2max and s_b / 2max,
 * with max = max(s_a, s_b), both <= 1/2), the two are summed and the sum rescaled onto the
 * output (2max / (2^ADD_LEFT_SHIFT s_y)): three applications of the rule above.
 */
export const ADD_LEFT_SHIFT = 20;

export interface AddMultipliers {
  a: FixedMultiplier;
  b: FixedMultiplier;
  out: FixedMultiplier;
}

export function quantizeAdd(scaleA: number, scaleB: number, scaleOut: number): AddMultipliers {
  const twiceMax = 2 * Math.max(scaleA, scaleB);
  return { a: quantizeMultiplier(scaleA / twiceMax), b: quantizeMultiplier(scaleB / twiceMax), out: quantizeMultiplier(twiceMax / (2 ** ADD_LEFT_SHIFT * scaleOut)) };
}

/** Exact reference of the add (BigInt): a and b are the inputs less their zero points. */
export function requantizeAdd(a: number, b: number, p: AddMultipliers, zp: number, lo: number, hi: number): number {
  const shifted = (v: number, f: FixedMultiplier): bigint => roundShift(BigInt(v) * BigInt(2 ** ADD_LEFT_SHIFT) * BigInt(f.m), f.n);
  const sum = shifted(a, p.a) + shifted(b, p.b);
  return Math.min(Math.max(Number(roundShift(sum * BigInt(p.out.m), p.out.n)) + zp, lo), hi);
}
