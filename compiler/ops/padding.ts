/**
 * Per-side zero padding of a conv or pool window, and the output size it gives: what
 * conv2d, depthwise conv2d, maxpool and avgpool share.
 *
 * A layer's `padding` may name its four sides, `[top, left, bottom, right]` (ONNX writes
 * pads per side, and TFLite's SAME pads one more row/column after than before when the
 * total is odd). The kernels walk windows from the leading pads (rows above, columns on
 * the left); the trailing ones only decide how many outputs there are.
 *
 * A leaf module (zod, the limits and validate.ts only): op modules read its schema while
 * they load, inside the compiler's import cycles.
 */
import { z } from 'zod';
import { LIMITS } from '../ir/limits.js';
import { intIn } from '../validate.js';

/** Zero padding per side: rows above, columns left, rows below, columns right. */
export type Pads = [number, number, number, number];

export const NO_PADS: Pads = [0, 0, 0, 0];

const side = intIn(0, LIMITS.maxKernel);

/** `[top, left, bottom, right]`, each an integer in 0..maxKernel. */
export const explicitPads = z.tuple([side, side, side, side], {
  error: `expected [top, left, bottom, right] of integers in 0..${LIMITS.maxKernel}`,
});

/** Whether a value is the explicit per-side form (the other forms are a number or a word). */
export function isExplicit(padding: unknown): padding is Pads {
  return Array.isArray(padding);
}

/** The same pad on every side. */
export function uniformPads(p: number): Pads {
  return [p, p, p, p];
}

/** A stride for both axes, or `[rows, columns]`. */
export type Strides = number | readonly [number, number];

/** The stride between rows and between columns. */
export function strideHW(s: Strides): [number, number] {
  return typeof s === 'number' ? [s, s] : [s[0], s[1]];
}

/** Output rows and columns of a kh x kw window at `stride` over an h x w input padded by `pads` (floor: windows end inside the padded input). */
export function paddedOutput([h, w]: readonly number[], kh: number, kw: number, stride: Strides, pads: Pads): [number, number] {
  const [sh, sw] = strideHW(stride);
  return [Math.floor((h! + pads[0] + pads[2] - kh) / sh) + 1, Math.floor((w! + pads[1] + pads[3] - kw) / sw) + 1];
}

/**
 * TF's SAME padding (and ONNX's SAME_UPPER): ceil(n / stride) outputs per axis, the total
 * padding split with the smaller half before.
 */
export function samePads([h, w]: readonly number[], kh: number, kw: number, stride: Strides): Pads {
  const [sh, sw] = strideHW(stride);
  const total = (n: number, k: number, s: number) => Math.max((Math.ceil(n / s) - 1) * s + k - n, 0);
  const th = total(h!, kh, sh);
  const tw = total(w!, kw, sw);
  return [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
}

/** Whether every side has the same pad. */
export function isUniform(p: Pads): boolean {
  return p[1] === p[0] && p[2] === p[0] && p[3] === p[0];
}

/** `[t, l, b, r]` as a message shows it. */
export function padsText(p: Pads): string {
  return `[${p.join(', ')}]`;
}
