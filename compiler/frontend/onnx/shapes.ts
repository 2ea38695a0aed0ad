/**
 * Shape-only ops. On activations they are accepted where they flatten a feature map
 * (tinytrain's 'flatten' layer, a view) or change nothing; on constants they are
 * evaluated at import time, which is how exporters' shape arithmetic (Shape -> Gather ->
 * Unsqueeze -> Concat -> Reshape for `x.view(x.size(0), -1)`) becomes a constant.
 */
import { DataType } from './proto.js';
import { addOp, nodeError, onnxDims, shapeText, type ImportContext } from './ir.js';
import { dtypeName, elementCount, type ConstTensor } from './tensor.js';

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** An activation seen with new ONNX dims: unchanged, flattened to [1, N], or [1, N] seen as [1, N, 1, 1]. */
export function reinterpret(ctx: ImportContext, label: string, name: string, x: number, dims: number[]): number {
  const s = ctx.acts[x]!.shape;
  const from = onnxDims(s);
  if (sameDims(from, dims)) return x;
  const total = from.reduce((p, q) => p * q, 1);
  const flat = dims.length === 2 && dims[0] === 1 && dims[1] === total;
  const column = dims.length === 4 && dims[0] === 1 && dims[1] === total && dims[2] === 1 && dims[3] === 1;
  if (flat && s.kind === 'map') {
    // C,H,W and H,W,C orders coincide when H*W = 1 or C = 1.
    const chw = s.h * s.w > 1 && s.c > 1 ? { c: s.c, h: s.h, w: s.w } : null;
    return addOp(ctx, { kind: 'flatten', node: label, name, inputs: [x], activation: 'none' }, { kind: 'flat', n: total, chw });
  }
  if (column && s.kind === 'flat' && !s.chw) {
    // [1, N] -> [1, N, 1, 1]: the same bytes in tinytrain ([1, 1, N]); a flatten layer is a view.
    return addOp(ctx, { kind: 'flatten', node: label, name, inputs: [x], activation: 'none' }, { kind: 'map', c: total, h: 1, w: 1 });
  }
  throw nodeError(
    label,
    `reshapes ${shapeText(s)} to [${dims.join(', ')}]`,
    'tinytrain supports Reshape/Flatten/Squeeze/Unsqueeze on activations only where they flatten a [1, C, H, W] map to [1, C*H*W] (or change nothing)',
  );
}

function normaliseAxis(label: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw nodeError(label, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function squeezeDims(label: string, dims: number[], axes: number[] | undefined): number[] {
  if (!axes) return dims.filter((d) => d !== 1);
  const drop = new Set(axes.map((a) => normaliseAxis(label, a, dims.length)));
  for (const a of drop) if (dims[a] !== 1) throw nodeError(label, `cannot squeeze axis ${a} of size ${dims[a]}`);
  return dims.filter((_, i) => !drop.has(i));
}

export function unsqueezeDims(label: string, dims: number[], axes: number[]): number[] {
  const rank = dims.length + axes.length;
  const at = new Set(axes.map((a) => normaliseAxis(label, a, rank)));
  if (at.size !== axes.length) throw nodeError(label, `axes [${axes}] repeat an axis`);
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : dims[j++]!);
  return out;
}

export function gatherConst(label: string, data: ConstTensor, indices: ConstTensor, axis: number): ConstTensor {
  if (data.dims.length === 0) throw nodeError(label, 'Gather of a scalar');
  const a = normaliseAxis(label, axis, data.dims.length);
  const n = data.dims[a]!;
  const outer = data.dims.slice(0, a).reduce((p, q) => p * q, 1);
  const inner = data.dims.slice(a + 1).reduce((p, q) => p * q, 1);
  const dims = [...data.dims.slice(0, a), ...indices.dims, ...data.dims.slice(a + 1)];
  const out = new Float64Array(elementCount(dims, `ONNX node ${label}`));
  let o = 0;
  for (let i = 0; i < outer; i++) {
    for (const raw of indices.data) {
      const k = raw < 0 ? raw + n : raw;
      if (!Number.isInteger(k) || k < 0 || k >= n) throw nodeError(label, `index ${raw} is out of range for axis ${a} of size ${n}`);
      for (let j = 0; j < inner; j++) out[o++] = data.data[(i * n + k) * inner + j]!;
    }
  }
  return { dims, dtype: data.dtype, data: out };
}

export function concatConsts(label: string, parts: ConstTensor[], axis: number): ConstTensor {
  if (parts.length === 0) throw nodeError(label, 'has no inputs');
  const rank = parts[0]!.dims.length;
  const a = normaliseAxis(label, axis, rank);
  for (const p of parts) {
    if (p.dims.length !== rank || p.dims.some((d, i) => i !== a && d !== parts[0]!.dims[i])) {
      throw nodeError(label, `cannot concatenate shapes ${parts.map((q) => `[${q.dims}]`).join(', ')} on axis ${a}`);
    }
  }
  const dims = [...parts[0]!.dims];
  dims[a] = parts.reduce((s, p) => s + p.dims[a]!, 0);
  const outer = dims.slice(0, a).reduce((p, q) => p * q, 1);
  const out = new Float64Array(elementCount(dims, `ONNX node ${label}`));
  let o = 0;
  for (let i = 0; i < outer; i++) {
    for (const p of parts) {
      const block = p.dims.slice(a).reduce((x, y) => x * y, 1);
      for (let j = 0; j < block; j++) out[o++] = p.data[i * block + j]!;
    }
  }
  return { dims, dtype: parts[0]!.dtype, data: out };
}

const INT_RANGES: Record<number, [number, number]> = {
  [DataType.INT8]: [-128, 127],
  [DataType.UINT8]: [0, 255],
  [DataType.INT16]: [-32768, 32767],
  [DataType.UINT16]: [0, 65535],
  [DataType.INT32]: [-(2 ** 31), 2 ** 31 - 1],
  [DataType.UINT32]: [0, 2 ** 32 - 1],
  [DataType.INT64]: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  [DataType.UINT64]: [0, Number.MAX_SAFE_INTEGER],
};

export function castConst(label: string, t: ConstTensor, to: number): ConstTensor {
  let data: Float64Array;
  if (to === DataType.FLOAT) data = t.data.map(Math.fround);
  else if (to === DataType.DOUBLE) data = t.data.slice();
  else if (to === DataType.BOOL) data = t.data.map((v) => (v !== 0 ? 1 : 0));
  else if (INT_RANGES[to]) {
    const [lo, hi] = INT_RANGES[to]!;
    data = t.data.map(Math.trunc);
    for (const v of data) if (!(v >= lo && v <= hi)) throw nodeError(label, `value ${v} does not fit ${dtypeName(to)}`);
  } else {
    throw nodeError(label, `Cast to ${dtypeName(to)} is not supported`);
  }
  return { dims: t.dims, dtype: to, data };
}

/**
 * Slice of a constant (ONNX's rules): per listed axis, start and end counted from the end
 * when negative and clamped to the axis (to [0, n] for a positive step, [-1, n - 1] for a
 * negative one), every step-th element from start up to but not including end.
 */
export function sliceConst(label: string, data: ConstTensor, starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined): ConstTensor {
  const rank = data.dims.length;
  if (ends.length !== starts.length) throw nodeError(label, `has ${starts.length} starts but ${ends.length} ends`);
  const along = (axes ?? starts.map((_, i) => i)).map((a) => normaliseAxis(label, a, rank));
  if (along.length !== starts.length || new Set(along).size !== along.length) throw nodeError(label, `axes [${axes}] do not match the ${starts.length} starts`);
  // Each axis's kept indices (every index where the axis is not sliced).
  const kept = data.dims.map((n) => Array.from({ length: n }, (_, i) => i));
  along.forEach((a, k) => {
    const n = data.dims[a]!;
    const step = steps?.[k] ?? 1;
    if (!Number.isInteger(step) || step === 0) throw nodeError(label, `step ${step} on axis ${a} is not a nonzero integer`);
    const from = (v: number, lo: number, hi: number): number => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
    const start = step > 0 ? from(starts[k]!, 0, n) : from(starts[k]!, -1, n - 1);
    const end = step > 0 ? from(ends[k]!, 0, n) : from(ends[k]!, -1, n - 1);
    const idx: number[] = [];
    for (let i = start; step > 0 ? i < end : i > end; i += step) idx.push(i);
    kept[a] = idx;
  });
  const dims = kept.map((k) => k.length);
  const out = new Float64Array(elementCount(dims, `ONNX node ${label}`));
  const strides = data.dims.map((_, i) => data.dims.slice(i + 1).reduce((p, q) => p * q, 1));
  const at = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += kept[i]![at[i]!]! * strides[i]!;
    out[o] = data.data[src]!;
    for (let i = rank - 1; i >= 0; i--) {
      if (++at[i]! < dims[i]!) break;
      at[i] = 0;
    }
  }
  return { dims, dtype: data.dtype, data: out };
}
