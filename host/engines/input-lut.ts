/**
 * u8 pixel -> int8 input, through the model's real input range.
 *
 * The same table host/runtime.ts builds privately for Runtime.setInputPixels (kept
 * identical on purpose: engines that get pre-quantised samples must see the bytes the
 * embedded engine writes; test/engines.test.ts checks the two agree). Once runtime.ts
 * exports its table this file should re-export it instead.
 */
import type { Manifest } from '../../compiler/manifest.js';

export function inputLut(m: Manifest): Int8Array {
  const port = m.inputs[0]!;
  const [lo, hi] = port.range ?? [0, 1];
  const lut = new Int8Array(256);
  for (let p = 0; p < 256; p++) {
    const real = lo + (p * (hi - lo)) / 255;
    lut[p] = Math.max(-128, Math.min(127, Math.round(real / port.scale) + port.zeroPoint));
  }
  return lut;
}

/** Every sample of `images` (u8, sample-major) quantised to int8 through the LUT. */
export function quantiseImages(m: Manifest, images: Uint8Array): Int8Array {
  const lut = inputLut(m);
  const out = new Int8Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = lut[images[i]!]!;
  return out;
}
