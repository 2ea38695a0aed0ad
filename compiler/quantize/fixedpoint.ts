/**
 * The one requantisation rule used everywhere (runtime kernels, TS reference, tests):
 *
 *     y = clamp(zp + ((acc * m + 2^(n-1)) >> n), lo, hi)      (64-bit, arithmetic shift)
 *
 * i.e. the real multiplier M = m * 2^-n is applied in fixed point and the result is
 * rounded half toward +infinity. m is a 31-bit positive integer in [2^30, 2^31) and
 * 1 <= n <= 62, so |acc| < 2^31 never overflows 64 bits.
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

/** Exact reference of the rule above (BigInt, so it is bit-exact with the runtime). */
export function requantize(acc: number, f: FixedMultiplier, zp: number, lo: number, hi: number): number {
  const v = (BigInt(acc) * BigInt(f.m) + (1n << BigInt(f.n - 1))) >> BigInt(f.n);
  const y = Number(v) + zp;
  return Math.min(Math.max(y, lo), hi);
}

/**
 * Two-input rescale for residual add: y = zp + ((a*ma + b*mb + 2^(n-1)) >> n), with the
 * larger multiplier in [2^29, 2^30) so the sum of two 8-bit products stays far from 2^63.
 */
export interface PairMultiplier {
  ma: number;
  mb: number;
  n: number;
}

export function quantizePair(realA: number, realB: number): PairMultiplier {
  const big = Math.max(realA, realB);
  let n = 29 - Math.floor(Math.log2(big));
  n = Math.min(Math.max(n, 1), 62);
  const ma = Math.round(realA * 2 ** n);
  const mb = Math.round(realB * 2 ** n);
  // Both must be int32 constants of the add kernel.
  if (!(ma < 2 ** 31) || !(mb < 2 ** 31)) tooLarge(big);
  return { ma, mb, n };
}

export function requantizePair(a: number, b: number, p: PairMultiplier, zp: number, lo: number, hi: number): number {
  const v = (BigInt(a) * BigInt(p.ma) + BigInt(b) * BigInt(p.mb) + (1n << BigInt(p.n - 1))) >> BigInt(p.n);
  return Math.min(Math.max(Number(v) + zp, lo), hi);
}
