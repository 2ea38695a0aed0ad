/**
 * Constant tensors -> numbers. Every constant the importer reads goes through here: its
 * shape is checked against LIMITS and its data length against shape x element size
 * before anything is allocated, and quantised data (int8 weights, int32 biases) comes with
 * its integers, scales and zero points so that the int8 model can keep them exactly.
 */
import { LIMITS } from '../../ir/limits.js';
import { elementCount as onnxElementCount } from '../onnx/tensor.js';
import { opError, tensorText, type OpCall } from './context.js';
import type { Tensor } from './model.js';
import { tensorTypeName, TensorType, TYPE_BYTES } from './schema.js';
import { halfToFloat } from '../half.js';

/** Quantised constant data: value = scale[ch] * (ints[i] - zeroPoint[ch]) along `dim` (null: per tensor). */
export interface ConstQuant {
  type: number;
  ints: Int32Array;
  scale: number[];
  zeroPoint: number[];
  dim: number | null;
}

export interface FloatConst {
  dims: number[];
  /** Real values, row-major in the file's order (float32, as tinytrain stores parameters). */
  data: Float32Array;
  q?: ConstQuant;
}

/** Elements of a tensor of this shape (the ONNX importer's rule: non-negative integer dimensions, within LIMITS). */
export function elementCount(c: OpCall, t: Tensor): number {
  return onnxElementCount(t.shape, `${c.ctx.where}: ${c.label}: tensor ${tensorText(t)}`);
}

function rawData(c: OpCall, t: Tensor): { view: DataView; count: number } {
  const count = elementCount(c, t);
  const size = TYPE_BYTES[t.type];
  if (size === undefined) throw opError(c, `constant ${tensorText(t)} is ${tensorTypeName(t.type)}`, 'tinytrain reads float32, float16, int8 and int32 constants');
  if (t.sparse) throw opError(c, `constant ${tensorText(t)} is stored sparse`, 'convert the model without sparsity (dense weights)');
  const bytes = c.ctx.model.bufferData(t.buffer, `tensor ${t.index}`);
  if (bytes.length !== count * size) {
    throw opError(c, `constant ${tensorText(t)} of shape [${t.shape}] (${tensorTypeName(t.type)}) should hold ${count * size} bytes, its buffer has ${bytes.length}`);
  }
  return { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), count };
}

function integers(view: DataView, count: number, type: number): Int32Array {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = type === TensorType.INT8 ? view.getInt8(i) : type === TensorType.UINT8 ? view.getUint8(i) : view.getInt32(4 * i, true);
  return out;
}

/** The scale/zero point of quantised constant `t`, checked against its shape. */
function constQuant(c: OpCall, t: Tensor, ints: Int32Array): ConstQuant {
  const q = t.quant;
  if (!q || q.scale.length === 0) throw opError(c, `${tensorTypeName(t.type)} constant ${tensorText(t)} has no quantisation scale`);
  if (q.detailsType !== 0) throw opError(c, `constant ${tensorText(t)} uses custom or blockwise quantisation`, 'tinytrain reads affine (scale, zero point) quantisation');
  const zeroPoint = q.zeroPoint.length ? q.zeroPoint : new Array<number>(q.scale.length).fill(0);
  if (zeroPoint.length !== q.scale.length) throw opError(c, `constant ${tensorText(t)} has ${q.scale.length} scales but ${zeroPoint.length} zero points`);
  for (const s of q.scale)
    if (!(s >= LIMITS.minScale && s <= LIMITS.maxAbsReal)) throw opError(c, `constant ${tensorText(t)} has the scale ${s}`, 'scales must be positive, finite float32 normals');
  let dim: number | null = null;
  if (q.scale.length > 1) {
    dim = q.quantizedDimension;
    if (!(dim >= 0 && dim < t.shape.length) || t.shape[dim] !== q.scale.length) {
      throw opError(c, `constant ${tensorText(t)} of shape [${t.shape}] has ${q.scale.length} scales along dimension ${dim}`);
    }
  }
  return { type: t.type, ints, scale: q.scale, zeroPoint, dim };
}

/** Channel of element `i` along `dim` of a tensor of `dims` (0 when per tensor). */
export function channelOf(dims: number[], dim: number | null): (i: number) => number {
  if (dim === null) return () => 0;
  const inner = dims.slice(dim + 1).reduce((p, q) => p * q, 1);
  const n = dims[dim]!;
  return (i) => Math.floor(i / inner) % n;
}

/**
 * Constant `t` as real values: float32 as stored, float16 widened, and int8 / int32 (with
 * their quantisation) dequantised, keeping the integers in `q`.
 */
export function floatConst(c: OpCall, t: Tensor): FloatConst {
  const { view, count } = rawData(c, t);
  const dims = t.shape;
  const data = new Float32Array(count);
  if (t.type === TensorType.FLOAT32) {
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(4 * i, true);
    return { dims, data };
  }
  if (t.type === TensorType.FLOAT16) {
    for (let i = 0; i < count; i++) data[i] = halfToFloat(view.getUint16(2 * i, true));
    return { dims, data };
  }
  if (t.type !== TensorType.INT8 && t.type !== TensorType.INT32 && t.type !== TensorType.UINT8) {
    throw opError(c, `constant ${tensorText(t)} is ${tensorTypeName(t.type)}`, 'tinytrain reads float32/float16 weights, int8 weights and int32 biases');
  }
  const q = constQuant(c, t, integers(view, count, t.type));
  const ch = channelOf(dims, q.dim);
  for (let i = 0; i < count; i++) {
    const k = ch(i);
    data[i] = (q.ints[i]! - q.zeroPoint[k]!) * q.scale[k]!;
  }
  return { dims, data, q };
}

/** A small integer constant (axes, shapes): int32 or int64 values. */
export function intConst(c: OpCall, t: Tensor, what: string, max = 16): number[] {
  if (t.type !== TensorType.INT32 && t.type !== TensorType.INT64) throw opError(c, `its ${what} (${tensorText(t)}) is ${tensorTypeName(t.type)}, not an integer tensor`);
  const { view, count } = rawData(c, t);
  if (count > max) throw opError(c, `its ${what} (${tensorText(t)}) has ${count} values`);
  return Array.from({ length: count }, (_, i) => (t.type === TensorType.INT32 ? view.getInt32(4 * i, true) : Number(view.getBigInt64(8 * i, true))));
}
