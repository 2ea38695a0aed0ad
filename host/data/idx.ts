/**
 * Reader for IDX files, the format MNIST and Fashion-MNIST ship in.
 *
 * Layout: two zero bytes, a type byte, a dimension count, then one big-endian u32 per
 * dimension, then the elements row-major. Only the unsigned-byte type (0x08) is
 * supported: every dataset we train on stores pixels and labels as u8, and refusing the
 * other types keeps the loader from silently reinterpreting int16/float data as bytes.
 *
 * Gzip-compressed files are accepted as they are (Debian ships Fashion-MNIST as .gz),
 * recognised by content rather than by file name so a renamed file still loads.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { TinytrainError } from '../../compiler/errors.js';

export interface IdxArray {
  /** Sizes, outermost first, e.g. [60000, 28, 28] for MNIST training images. */
  dims: number[];
  /** The elements, row-major; length is the product of `dims` (a float32 file: its raw little-endian bytes are not kept here, see `floats`). */
  data: Uint8Array;
  /** A float32 file's elements (only when parseIdx was asked to accept float32: target files for mse). */
  floats?: Float32Array;
}

const IDX_TYPE_UBYTE = 0x08;
const IDX_TYPE_FLOAT32 = 0x0d;
const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
const GUNZIP_MAX_BYTES = 1024 * 1024 * 1024;

/** Names of the IDX element types, so an unsupported file says what it actually holds. */
const IDX_TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** Reads and validates one IDX file (plain or gzip) from disk. */
export function readIdx(path: string, accept: { float32?: boolean } = {}): IdxArray {
  let raw: Uint8Array;
  try {
    raw = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new TinytrainError(`IDX file not found: ${path}`, 'check the path, or the dataset spec that produced it');
    }
    if (code === 'EISDIR') {
      throw new TinytrainError(`expected an IDX file but ${path} is a directory`);
    }
    throw new TinytrainError(`cannot read IDX file ${path}: ${(err as Error).message}`);
  }
  return parseIdx(raw, path, accept);
}

/** Validates IDX bytes already in memory; `source` names them in error messages. */
export function parseIdx(bytes: Uint8Array, source: string, accept: { float32?: boolean } = {}): IdxArray {
  const buf = isGzip(bytes) ? gunzip(bytes, source) : bytes;
  if (buf.length < 4) {
    throw new TinytrainError(`${source} is not an IDX file: ${buf.length} bytes is shorter than the 4-byte header`, 'the file may be empty or truncated; fetch it again');
  }
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new TinytrainError(
      `${source} is not an IDX file: magic starts with 0x${hex2(buf[0]!)}${hex2(buf[1]!)}, expected 0x0000`,
      'pass an IDX file such as train-images-idx3-ubyte (optionally gzip-compressed)',
    );
  }
  const type = buf[2]!;
  const float32 = type === IDX_TYPE_FLOAT32 && accept.float32 === true;
  if (type !== IDX_TYPE_UBYTE && !float32) {
    const name = IDX_TYPE_NAMES[type] ?? 'unknown type';
    throw new TinytrainError(
      `${source}: IDX element type 0x${hex2(type)} (${name}) is not supported, expected 0x08 (unsigned byte)`,
      'convert the data to unsigned bytes (images 0..255, labels 0..255)',
    );
  }
  const ndim = buf[3]!;
  if (ndim === 0) {
    throw new TinytrainError(`${source}: IDX header declares 0 dimensions`, 'the file is corrupt; fetch it again');
  }
  const headerBytes = 4 + 4 * ndim;
  if (buf.length < headerBytes) {
    throw new TinytrainError(
      `${source} is truncated: its header needs ${headerBytes} bytes for ${ndim} dimensions but the file has ${buf.length}`,
      'the file is corrupt or was cut short; fetch it again',
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d, false));

  // Products of u32s can exceed 2^53; anything that large could not be in memory anyway.
  const elements = dims.reduce((a, b) => a * b, 1);
  const expected = float32 ? 4 * elements : elements;
  const actual = buf.length - headerBytes;
  if (actual !== expected) {
    const what = actual < expected ? 'truncated' : 'longer than its header says';
    throw new TinytrainError(
      `${source} is ${what}: dims [${dims.join(', ')}] need ${expected} data bytes ` +
        `(${expected + headerBytes} with the header) but the file has ${actual} (${buf.length} in total)`,
      'the file is corrupt, cut short, or not the file you meant; fetch it again',
    );
  }
  if (float32) {
    // IDX is big-endian throughout.
    const floats = new Float32Array(elements);
    for (let i = 0; i < elements; i++) floats[i] = view.getFloat32(headerBytes + 4 * i, false);
    return { dims, data: new Uint8Array(0), floats };
  }
  // A plain Uint8Array view (not a Buffer) so callers and tests see one element type.
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + headerBytes, actual) };
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

function gunzip(bytes: Uint8Array, source: string): Uint8Array {
  try {
    // A cap, so a tiny crafted file cannot expand to all of memory (MNIST is 47 MB unpacked).
    return gunzipSync(bytes, { maxOutputLength: GUNZIP_MAX_BYTES });
  } catch (err) {
    throw new TinytrainError(`${source} looks gzip-compressed but cannot be decompressed: ${(err as Error).message}`, 'the download is probably incomplete; fetch it again');
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
