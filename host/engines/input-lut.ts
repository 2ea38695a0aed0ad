/** Pre-quantised samples for engines that cannot call Runtime.setInputPixels. */
import type { Manifest } from '../../compiler/manifest.js';
import { inputLut } from '../runtime.js';

export { inputLut };

/** Every sample of `images` (u8, sample-major) quantised to int8 through the LUT. */
export function quantiseImages(m: Manifest, images: Uint8Array): Int8Array {
  const lut = inputLut(m);
  const out = new Int8Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = lut[images[i]!]!;
  return out;
}
