/**
 * The inputs a bench model is checked and trained on, as the runtime takes them: one byte
 * per input value (the runtime maps 0..255 linearly onto the model's input range, as
 * `tinytrain train` does with images), and the same samples as real values in the file's
 * own layout for the reference (NCHW for ONNX images, NHWC = tinytrain's HWC for TFLite).
 */
import { normaliseImage } from '../../compiler/float/network.js';
import { hwcToNchw } from '../../compiler/frontend/onnx/layout.js';
import { Rng } from '../../compiler/ir/rng.js';
import type { InputKind } from './models-catalog.js';

export interface Samples {
  /** Each sample's bytes, H,W,C order. */
  bytes: Uint8Array[];
  /** Each sample as real values, H,W,C order (tinytrain's float engine). */
  hwc: Float32Array[];
  /** How they were made, for the results. */
  description: string;
}

export function makeSamples(kind: InputKind, count: number, shape: [number, number, number], range: [number, number], seed: number): Samples {
  const n = shape[0] * shape[1] * shape[2];
  const rng = new Rng(seed);
  const bytes = Array.from({ length: count }, (_, i) =>
    kind === 'grid' ? Uint8Array.from({ length: n }, () => Math.round((255 * i) / Math.max(1, count - 1))) : Uint8Array.from({ length: n }, () => rng.nextU32() & 0xff),
  );
  const what = kind === 'grid' ? `${count} evenly spaced points` : `${count} seeded uniform random samples (synthetic)`;
  return { bytes, hwc: bytes.map((b) => normaliseImage(b, range)), description: `${what} over the input range [${range.map((v) => +v.toFixed(4)).join(', ')}]` };
}

/** A sample in the reference's layout: ONNX images are C,H,W; TFLite's are H,W,C like tinytrain's. */
export function referenceLayout(x: Float32Array, format: 'onnx' | 'tflite', shape: [number, number, number]): number[] {
  const [h, w, c] = shape;
  return Array.from(format === 'onnx' && h * w > 1 ? hwcToNchw(x, c, h, w) : x);
}
