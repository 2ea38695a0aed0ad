/**
 * The padding of a square pooling window (maxpool, avgpool) from its layer's `padding`:
 * 'valid' (none), 'same' (TF's split, ops/padding.ts samePads) or per side.
 */
import type { Fail } from './types.js';
import { isExplicit, NO_PADS, padsText, samePads, type Pads } from './padding.js';

export function poolPads(padding: 'valid' | 'same' | Pads | undefined, shape: readonly number[], size: number, stride: number, fail: Fail): Pads {
  if (padding === undefined || padding === 'valid') return NO_PADS;
  const pads = isExplicit(padding) ? padding : samePads(shape, size, size, stride);
  // A window wholly in the padding would have no input to take (max) or to divide by (mean).
  if (pads.some((p) => p >= size)) fail(`padding ${padsText(pads)} is not less than the ${size}x${size} window on every side`, 'a window must hold at least one input');
  return pads;
}
