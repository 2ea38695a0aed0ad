/**
 * What maxpool and avgpool layers share: the `size` and `stride` fields (one number for both
 * axes, or [rows, columns], as conv2d's kernel and stride), the padding of their window from
 * the layer's `padding` ('valid' (none), 'same' (TF's split per axis, ops/padding.ts
 * samePads) or per side), and the window's shape rule.
 *
 * A leaf module (zod, the limits, validate.ts and padding.ts only): op modules read its
 * schemas while they load.
 */
import { z } from 'zod';
import { LIMITS } from '../ir/limits.js';
import type { PoolAttrs, Shape } from '../ir/graph.js';
import { positiveInt } from '../validate.js';
import { stride as strideSide } from './layer-fields.js';
import type { Fail } from './types.js';
import { isExplicit, NO_PADS, paddedOutput, padsText, samePads, type Pads } from './padding.js';

/** A pool window's rows and columns, or one number for both. */
export type PoolSize = number | [number, number];

const side = positiveInt(LIMITS.maxSpatial);

export const poolSize = z.union([side, z.tuple([side, side])], { error: `expected a window size (a positive integer <= ${LIMITS.maxSpatial}, or [PH, PW])` });
export const poolStride = z.union([strideSide, z.tuple([strideSide, strideSide])], { error: `expected a stride (a positive integer <= ${LIMITS.maxStride}, or [SH, SW])` });

/** [rows, columns] of a size or stride given for both axes or per axis. */
function perAxis(v: PoolSize): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** The window as messages name it: "3" for a square one (what they said before per-axis windows), "3x1" otherwise. */
export function windowText(ph: number, pw: number): string {
  return ph === pw ? `${ph}` : `${ph}x${pw}`;
}

/** The padding of a ph x pw window at strides [sh, sw] from its layer's `padding`. */
export function poolPads(padding: 'valid' | 'same' | Pads | undefined, shape: readonly number[], [ph, pw]: [number, number], [sh, sw]: [number, number], fail: Fail): Pads {
  if (padding === undefined || padding === 'valid') return NO_PADS;
  const pads = isExplicit(padding) ? padding : samePads(shape, ph, pw, [sh, sw]);
  // A window wholly in the padding would have no input to take (max) or to divide by (mean).
  if (pads[0] >= ph || pads[2] >= ph || pads[1] >= pw || pads[3] >= pw) {
    fail(`padding ${padsText(pads)} is not less than the ${ph}x${pw} window on every side`, 'a window must hold at least one input');
  }
  return pads;
}

/** A pool layer's fields, as both pools write them. */
export interface PoolFields {
  size: PoolSize;
  stride?: PoolSize;
  padding?: 'valid' | 'same' | Pads;
}

/**
 * The window of a pool layer over an [h, w, c] input (its stride defaults to its size, per
 * axis) and its output shape; refuses a window that does not fit. `hint`: what to say when an
 * unpadded window is larger than the input.
 */
export function poolShape(layer: PoolFields, [h, w, c]: Shape, fail: Fail, hint?: string): { outShape: Shape; pool: PoolAttrs } {
  const [ph, pw] = perAxis(layer.size);
  const [sh, sw] = perAxis(layer.stride ?? layer.size);
  const pads = poolPads(layer.padding, [h, w], [ph, pw], [sh, sw], fail);
  const size = windowText(ph, pw);
  if (pads === NO_PADS && (ph > h || pw > w)) fail(`pool ${size} is larger than the ${h}x${w} input`, hint);
  const [oh, ow] = paddedOutput([h, w], ph, pw, [sh, sw], pads);
  if (oh < 1 || ow < 1) fail(`pool ${size} does not fit the ${h}x${w} input padded by ${padsText(pads)}`);
  return { outShape: [oh, ow, c], pool: { ph, pw, sh, sw, pads } };
}
