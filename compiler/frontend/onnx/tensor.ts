/**
 * ONNX TensorProto -> numbers. Every tensor the importer reads (initializers, Constant
 * values, attribute tensors) goes through readTensor, which checks that the stored data
 * matches the declared dims before anything is allocated from them.
 */
import { TinytrainError } from '../../errors.js';
import { DataType, type OnnxTensor } from './proto.js';
import { halfToFloat } from '../half.js';

/** A compile-time constant: row-major (ONNX order) values, in float64 (exact for every type we read). */
export interface ConstTensor {
  dims: number[];
  dtype: number;
  data: Float64Array;
}

/** Largest tensor (in elements) the importer will materialise: far above any model an MCU can train. */
export const MAX_ELEMENTS = 1 << 26;

const DTYPE_NAMES: Record<number, string> = {
  0: 'UNDEFINED',
  1: 'FLOAT',
  2: 'UINT8',
  3: 'INT8',
  4: 'UINT16',
  5: 'INT16',
  6: 'INT32',
  7: 'INT64',
  8: 'STRING',
  9: 'BOOL',
  10: 'FLOAT16',
  11: 'DOUBLE',
  12: 'UINT32',
  13: 'UINT64',
  14: 'COMPLEX64',
  15: 'COMPLEX128',
  16: 'BFLOAT16',
  17: 'FLOAT8E4M3FN',
  18: 'FLOAT8E4M3FNUZ',
  19: 'FLOAT8E5M2',
  20: 'FLOAT8E5M2FNUZ',
  21: 'UINT4',
  22: 'INT4',
};

export function dtypeName(t: number | undefined): string {
  return DTYPE_NAMES[t ?? 0] ?? `type ${String(t)}`;
}

export function isIntegerType(t: number): boolean {
  return (
    t === DataType.INT8 ||
    t === DataType.UINT8 ||
    t === DataType.INT16 ||
    t === DataType.UINT16 ||
    t === DataType.INT32 ||
    t === DataType.INT64 ||
    t === DataType.UINT32 ||
    t === DataType.UINT64 ||
    t === DataType.BOOL
  );
}

/** Product of dims, refusing anything that is not a small enough non-negative integer shape. */
export function elementCount(dims: readonly number[], where: string): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new TinytrainError(`${where}: invalid dimension ${String(d)} in shape [${dims.join(', ')}]`);
    n *= d;
    if (n > MAX_ELEMENTS)
      throw new TinytrainError(`${where}: shape [${dims.join(', ')}] has more than ${MAX_ELEMENTS} elements`, 'tinytrain compiles small models for microcontrollers');
  }
  return n;
}

/** Bytes per element in raw_data, and how to read one. */
const RAW: Record<number, [number, (v: DataView, o: number) => number]> = {
  [DataType.FLOAT]: [4, (v, o) => v.getFloat32(o, true)],
  [DataType.DOUBLE]: [8, (v, o) => v.getFloat64(o, true)],
  [DataType.FLOAT16]: [2, (v, o) => halfToFloat(v.getUint16(o, true))],
  [DataType.INT8]: [1, (v, o) => v.getInt8(o)],
  [DataType.UINT8]: [1, (v, o) => v.getUint8(o)],
  [DataType.BOOL]: [1, (v, o) => (v.getUint8(o) ? 1 : 0)],
  [DataType.INT16]: [2, (v, o) => v.getInt16(o, true)],
  [DataType.UINT16]: [2, (v, o) => v.getUint16(o, true)],
  [DataType.INT32]: [4, (v, o) => v.getInt32(o, true)],
  [DataType.UINT32]: [4, (v, o) => v.getUint32(o, true)],
  [DataType.INT64]: [8, (v, o) => Number(v.getBigInt64(o, true))],
  [DataType.UINT64]: [8, (v, o) => Number(v.getBigUint64(o, true))],
};

/** Which typed field holds the values when raw_data is absent (onnx.proto's comments). */
function fieldValues(t: OnnxTensor, dtype: number): number[] {
  switch (dtype) {
    case DataType.FLOAT:
      return t.float_data;
    case DataType.DOUBLE:
      return t.double_data;
    case DataType.INT64:
      return t.int64_data;
    case DataType.UINT32:
    case DataType.UINT64:
      return t.uint64_data;
    case DataType.FLOAT16:
      return t.int32_data.map((v) => halfToFloat(v & 0xffff));
    case DataType.BOOL:
      return t.int32_data.map((v) => (v ? 1 : 0));
    default:
      return t.int32_data;
  }
}

export function readTensor(t: OnnxTensor, where: string): ConstTensor {
  if (t.data_location === 1 || (t.external_data?.length ?? 0) > 0) {
    const loc = t.external_data?.find((e) => e.key === 'location')?.value;
    throw new TinytrainError(
      `${where}: tensor data is stored in an external file${loc ? ` ('${loc}')` : ''}`,
      'tinytrain reads self-contained .onnx files: re-save with onnx.save_model(onnx.load(path), out, save_as_external_data=False)',
    );
  }
  if (t.segment) throw new TinytrainError(`${where}: segmented tensors are not supported`);
  const dims = (t.dims ?? []).map(Number);
  const count = elementCount(dims, where);
  const dtype = t.data_type ?? 0;
  const raw = RAW[dtype];
  if (!raw) throw new TinytrainError(`${where}: tensors of type ${dtypeName(dtype)} are not supported`, 'tinytrain reads FLOAT, FLOAT16, DOUBLE and integer tensors');
  const data = new Float64Array(count);
  if (t.raw_data && t.raw_data.length > 0) {
    const [size, get] = raw;
    if (t.raw_data.length !== count * size) {
      throw new TinytrainError(
        `${where}: raw_data has ${t.raw_data.length} bytes, shape [${dims.join(', ')}] of ${dtypeName(dtype)} needs ${count * size}`,
        'the file is corrupted or truncated; re-export the model',
      );
    }
    const view = new DataView(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.byteLength);
    for (let i = 0; i < count; i++) data[i] = get(view, i * size);
  } else {
    const values = fieldValues(t, dtype);
    if (values.length !== count) {
      throw new TinytrainError(`${where}: ${values.length} stored values, shape [${dims.join(', ')}] needs ${count}`, 'the file is corrupted or truncated; re-export the model');
    }
    for (let i = 0; i < count; i++) data[i] = Number(values[i]);
  }
  if (dtype === DataType.INT64 || dtype === DataType.UINT64) {
    for (let i = 0; i < count; i++) {
      if (!Number.isSafeInteger(data[i]!)) throw new TinytrainError(`${where}: int64 value ${data[i]} is out of range`);
    }
  }
  return { dims, dtype, data };
}

export function toFloat32(c: ConstTensor): Float32Array {
  return Float32Array.from(c.data);
}
