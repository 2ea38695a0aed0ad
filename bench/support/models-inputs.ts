/**
 * The inputs a bench model is checked and trained on, as the runtime takes them: one byte
 * per input value (the runtime maps 0..255 linearly onto the model's input range, as
 * `tinytrain train` does with images), and the same samples as real values in the file's
 * own layout for the reference (NCHW for ONNX images, NHWC = tinytrain's HWC for TFLite).
 */
import { normaliseImage } from '../../compiler/float/network.js';
import { hwcToNchw } from '../../compiler/frontend/onnx/layout.js';
import { Rng } from '../../compiler/ir/rng.js';
import { imageAt, loadDataset } from '../../host/data/dataset.js';
import { basename } from 'node:path';
import { loadSupport, packageDir, type InputKind } from './models-catalog.js';
import { runInputScript } from './models-python.js';
import { spokenSamples, type SpeechFrontend } from './models-speech.js';

export interface Samples {
  /** Each sample's bytes, H,W,C order. */
  bytes: Uint8Array[];
  /** Each sample as real values, H,W,C order (tinytrain's float engine). */
  hwc: Float32Array[];
  /** How they were made, for the results. */
  description: string;
  /** The true class of each sample, when the inputs have one ('text', 'mnist', 'speech'). */
  labels?: number[];
}

/**
 * Printed lines of text, upright or turned 180 degrees (bench/support/text-lines.py): what
 * a text-direction classifier sees in an OCR pipeline, with its true class (0 upright, 1 turned).
 */
function textLines(count: number, shape: [number, number, number], seed: number): { bytes: Uint8Array[]; labels: number[] } {
  const [h, w, c] = shape;
  if (c !== 3) throw new Error(`'text' inputs are RGB lines; the model takes ${c} channels`);
  const r = runInputScript<{ images: number[][]; labels: number[] }>('text-lines.py', { count, seed, height: h, width: w });
  return { bytes: r.images.map((img) => Uint8Array.from(img)), labels: r.labels };
}

/** A real input value as the runtime's byte: 0..255 spread linearly over the input range (an int8 input's grid: value + 128 - zero point). */
function toByte(x: number, [lo, hi]: [number, number]): number {
  return Math.min(255, Math.max(0, Math.round(((x - lo) / (hi - lo)) * 255)));
}

/** Spoken keywords through the model's frontend (models-speech.ts), as the runtime's bytes. */
function speech(source: SampleSource, count: number, range: [number, number], seed: number, span: string): Samples {
  const s = spokenSamples(source.file, count, seed, source.frontend);
  const bytes = s.values.map((v) => Uint8Array.from(v, (x) => toByte(x, range)));
  const recorded = s.words.filter((w) => w.includes('recording')).length;
  const noise = s.words.filter((w) => w === 'background noise').length;
  const spoken = count - recorded - noise;
  const frontend = source.frontend ? `MLTK AudioFeatureGenerator, ${source.frontend.source}` : "MLTK AudioFeatureGenerator, the file's settings";
  const description =
    `${count} clips through the model's audio frontend (${frontend}): ${spoken} words spoken by espeak-ng ` +
    `(6 English voices, random pitch, speed, offset and gain, half with noise at 10-30 dB SNR), ${recorded} of two real Speech Commands recordings, ${noise} of background noise ` +
    `(realistic; labels: each word's class among ${s.classes.join(', ')}), ${span}`;
  return { bytes, hwc: bytes.map((b) => normaliseImage(b, range)), description, labels: s.labels };
}

/** scikit-image's sample photographs that setup-models copies (the catalog's support files), in their order. */
function photographs(): { dir: string; files: string[] } {
  const files = loadSupport().filter((f) => f.package === 'scikit-image');
  if (files.length === 0) throw new Error("the catalog lists no photographs (scikit-image's support files)");
  return { dir: packageDir(files[0]!), files: files.map((f) => basename(f.member)) };
}

/** Crops of real photographs (bench/support/photo-crops.py), as the runtime's bytes (0..255 over the input range, as images are). */
function photos(count: number, shape: [number, number, number], range: [number, number], seed: number, span: string): Samples {
  const [h, w, c] = shape;
  const { dir, files } = photographs();
  const r = runInputScript<{ images: number[][]; sources: string[] }>('photo-crops.py', { dir, files, count, seed, height: h, width: w, channels: c });
  const bytes = r.images.map((img) => Uint8Array.from(img));
  const description = `${count} crops (10-100% of the shorter side, anywhere, half mirrored) of ${files.length} photographs scikit-image ships (people, a cat, a horse, vehicles, coffee, coins, the moon, textures, text), resized to ${w}x${h} (realistic, no labels), ${span}`;
  return { bytes, hwc: bytes.map((b) => normaliseImage(b, range)), description };
}

/** The model file, for inputs made from it ('speech'), and the frontend the bench gives when the file has none. */
export interface SampleSource {
  file: string;
  frontend?: SpeechFrontend;
}

export function makeSamples(kind: InputKind, count: number, shape: [number, number, number], range: [number, number], seed: number, source?: SampleSource): Samples {
  const span = `over the input range [${range.map((v) => +v.toFixed(4)).join(', ')}]`;
  if (kind === 'photos') return photos(count, shape, range, seed, span);
  if (kind === 'speech') {
    if (!source) throw new Error("'speech' inputs are made with the model file's frontend settings: pass its path");
    return speech(source, count, range, seed, span);
  }
  if (kind === 'mnist') {
    const ds = loadDataset('mnist', 'test');
    if (shape.join('x') !== '28x28x1') throw new Error(`'mnist' inputs are 28x28x1; the model takes ${shape.join('x')}`);
    const bytes = Array.from({ length: count }, (_, i) => imageAt(ds, i).slice());
    const labels = Array.from(ds.labels.subarray(0, count));
    return { bytes, hwc: bytes.map((b) => normaliseImage(b, range)), description: `the first ${count} MNIST test images with their labels (real data), ${span}`, labels };
  }
  if (kind === 'text') {
    const { bytes, labels } = textLines(count, shape, seed);
    const description = `${count} printed lines of 3-8 words of the GPL-3 text in the six DejaVu faces at 18-36 px, dark on light, half of them turned 180 degrees, resized and padded as rapidocr does (realistic; labels 0 upright, 1 turned), ${span}`;
    return { bytes, hwc: bytes.map((b) => normaliseImage(b, range)), description, labels };
  }
  const n = shape[0] * shape[1] * shape[2];
  const rng = new Rng(seed);
  const bytes = Array.from({ length: count }, (_, i) =>
    kind === 'grid' ? Uint8Array.from({ length: n }, () => Math.round((255 * i) / Math.max(1, count - 1))) : Uint8Array.from({ length: n }, () => rng.nextU32() & 0xff),
  );
  const what = kind === 'grid' ? `${count} evenly spaced points` : `${count} seeded uniform random samples (synthetic)`;
  return { bytes, hwc: bytes.map((b) => normaliseImage(b, range)), description: `${what} ${span}` };
}

/** A sample in the reference's layout: ONNX images are C,H,W; TFLite's are H,W,C like tinytrain's. */
export function referenceLayout(x: Float32Array, format: 'onnx' | 'tflite', shape: [number, number, number]): number[] {
  const [h, w, c] = shape;
  return Array.from(format === 'onnx' && h * w > 1 ? hwcToNchw(x, c, h, w) : x);
}
