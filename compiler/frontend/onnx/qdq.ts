/**
 * Int8 QDQ models: QuantizeLinear / DequantizeLinear around float ops.
 *
 * - On constants (weights, biases) they are evaluated here: DequantizeLinear of an int8
 *   weight gives the float weight tinytrain stores, and remembers the integers and scales
 *   so the conv/dense keeps them (`wScales`: tinytrain then re-derives exactly the same
 *   int8 values). QuantizeLinear of a float constant (fake-quantised weights) is
 *   evaluated as ONNX defines it (round half to even, saturate).
 * - On activations a QuantizeLinear -> DequantizeLinear pair with equal parameters is the
 *   identity on the float graph plus a fact: that tensor is int8 with this (scale, zero
 *   point). The pair is recorded on the activation (Act.quant) and becomes the spec's
 *   `quantization.tensors` entry, which the quantiser uses instead of a calibrated range.
 *
 * uint8 is accepted and moved to int8 (q - 128, zero point - 128): the same real values
 * on the same grid, so nothing changes. Other integer widths (int16, int4) and float8 are
 * refused, as are blocked (opset 21 block_size) and per-channel activation quantisation.
 */
import { nodeError, type ConstQuant, type ImportContext, type Value } from './ir.js';
import type { Handler, NodeCall } from './nodes.js';
import { DataType } from './proto.js';
import { dtypeName, type ConstTensor } from './tensor.js';

const RANGE: Record<number, [number, number]> = { [DataType.INT8]: [-128, 127], [DataType.UINT8]: [0, 255] };

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function constInput(c: NodeCall, i: number, what: string): ConstTensor | undefined {
  const v = c.inputs[i];
  if (!v) return undefined;
  if (v.kind !== 'const') throw nodeError(c.label, `${what} (input ${i}) must be a constant`);
  return v.t;
}

interface QParams {
  scale: Float64Array;
  zp: Float64Array;
  dtype: number;
  axis: number | null;
}

/** Scale, zero point and integer type of a Q/DQ node, per tensor (axis null) or per `axis` of an input of rank `rank`. */
function qparams(c: NodeCall, rank: number, quantize: boolean): QParams {
  c.attrs.only(quantize ? ['axis', 'saturate', 'block_size', 'output_dtype'] : ['axis', 'block_size']);
  if (c.attrs.int('block_size', 0) !== 0)
    throw nodeError(c.label, 'blocked quantisation (block_size) is not supported', 'tinytrain uses per-tensor activations and per-output-channel weights');
  const scale = constInput(c, 1, 'scale');
  if (!scale) throw nodeError(c.label, 'scale is missing');
  if (scale.dtype !== DataType.FLOAT && scale.dtype !== DataType.FLOAT16) throw nodeError(c.label, `scale must be a float tensor, it is ${dtypeName(scale.dtype)}`);
  const zpT = constInput(c, 2, 'zero point');
  const outputDtype = quantize ? c.attrs.int('output_dtype', 0) : 0;
  // Without a zero point: Q outputs output_dtype (default uint8); DQ reads its input's type.
  const x = c.inputs[0];
  const inputType = x?.kind === 'const' ? x.t.dtype : x?.kind === 'quantized' ? x.dtype : DataType.UINT8;
  const dtype = zpT?.dtype ?? (quantize ? outputDtype || DataType.UINT8 : inputType);
  if (zpT && outputDtype && outputDtype !== zpT.dtype)
    throw nodeError(c.label, `output_dtype ${dtypeName(outputDtype)} differs from the zero point's type ${dtypeName(zpT.dtype)}`);
  if (!RANGE[dtype] && !(dtype === DataType.INT32 && !quantize)) {
    throw nodeError(c.label, `${dtypeName(dtype)} quantisation is not supported`, 'tinytrain models are int8 (uint8 is accepted and converted exactly)');
  }
  if (scale.dims.length > 1) throw nodeError(c.label, `scale must be a scalar or 1-D, it has shape [${scale.dims}]`);
  if (zpT && zpT.data.length !== scale.data.length) throw nodeError(c.label, `zero point has ${zpT.data.length} values, scale has ${scale.data.length}`);
  for (const s of scale.data) if (!(s > 0) || !Number.isFinite(s)) throw nodeError(c.label, `scale ${s} must be positive and finite`);
  const zp = zpT ? zpT.data : new Float64Array(scale.data.length);
  const perAxis = scale.dims.length === 1 && (scale.dims[0] !== 1 || c.attrs.has('axis'));
  let axis: number | null = null;
  if (perAxis) {
    const a = c.attrs.int('axis', 1);
    axis = a < 0 ? a + rank : a;
    if (axis < 0 || axis >= rank) throw nodeError(c.label, `axis ${a} is out of range for rank ${rank}`);
  }
  return { scale: scale.data, zp, dtype, axis };
}

/** Per-element scale / zero point index for a tensor of `dims` quantised along `axis`. */
function channelIndex(dims: number[], axis: number | null): (i: number) => number {
  if (axis === null) return () => 0;
  const inner = dims.slice(axis + 1).reduce((p, q) => p * q, 1);
  const n = dims[axis]!;
  return (i) => Math.floor(i / inner) % n;
}

function checkAxisLength(c: NodeCall, p: QParams, dims: number[]): void {
  if (p.axis !== null && dims[p.axis] !== p.scale.length && p.scale.length !== 1) {
    throw nodeError(c.label, `${p.scale.length} scales for axis ${p.axis} of size ${dims[p.axis]}`);
  }
}

export const quantizeLinear: Handler = (c) => {
  const x = c.inputs[0];
  if (!x) throw nodeError(c.label, 'input is missing');
  if (x.kind === 'const') {
    // Fake-quantised constant (e.g. weights exported as float -> Q -> DQ): evaluate it.
    const p = qparams(c, x.t.dims.length, true);
    checkAxisLength(c, p, x.t.dims);
    const ch = channelIndex(x.t.dims, p.axis);
    const [lo, hi] = RANGE[p.dtype]!;
    const data = x.t.data.map((v, i) => {
      const k = p.scale.length === 1 ? 0 : ch(i);
      return Math.min(hi, Math.max(lo, roundHalfEven(Math.fround(v / p.scale[k]!)) + p.zp[k]!));
    });
    return [{ kind: 'const', t: { dims: x.t.dims, dtype: p.dtype, data } }];
  }
  if (x.kind === 'quantized') throw nodeError(c.label, `quantises the integer output of ${x.by}`);
  const p = qparams(c, 4, true);
  if (p.scale.length !== 1) throw nodeError(c.label, 'per-channel quantisation of an activation is not supported', 'tinytrain quantises activations per tensor');
  if (p.dtype === DataType.INT32) throw nodeError(c.label, 'INT32 activations are not supported');
  return [{ kind: 'quantized', of: x, scale: p.scale[0]!, zpRaw: p.zp[0]!, dtype: p.dtype, by: c.label }];
};

export const dequantizeLinear: Handler = (c) => {
  const x = c.inputs[0];
  if (!x) throw nodeError(c.label, 'input is missing');
  if (x.kind === 'const') {
    if (!RANGE[x.t.dtype] && x.t.dtype !== DataType.INT32) {
      throw nodeError(c.label, `dequantises a ${dtypeName(x.t.dtype)} constant`, 'tinytrain reads int8/uint8 weights and int32 biases');
    }
    const p = qparams(c, x.t.dims.length, false);
    if (p.dtype !== x.t.dtype) throw nodeError(c.label, `zero point type ${dtypeName(p.dtype)} differs from the input's ${dtypeName(x.t.dtype)}`);
    checkAxisLength(c, p, x.t.dims);
    const ch = channelIndex(x.t.dims, p.axis);
    const data = x.t.data.map((q, i) => {
      const k = p.scale.length === 1 ? 0 : ch(i);
      return Math.fround((q - p.zp[k]!) * p.scale[k]!);
    });
    const q: ConstQuant = { ints: x.t.data, dtype: x.t.dtype, scale: p.scale, zp: p.zp, axis: p.scale.length === 1 ? null : p.axis, by: c.label };
    return [{ kind: 'const', t: { dims: x.t.dims, dtype: DataType.FLOAT, data }, q }];
  }
  if (x.kind !== 'quantized') {
    throw nodeError(c.label, 'dequantises a run-time tensor that no QuantizeLinear produced', 'the model input must be float; quantised inputs are not supported');
  }
  const p = qparams(c, 4, false);
  if (p.scale.length !== 1 || p.scale[0] !== x.scale || p.zp[0] !== x.zpRaw || p.dtype !== x.dtype) {
    throw nodeError(
      c.label,
      `its scale/zero point (${p.scale[0]}, ${p.zp[0]} ${dtypeName(p.dtype)}) differ from those of ${x.by} (${x.scale}, ${x.zpRaw} ${dtypeName(x.dtype)})`,
      'tinytrain keeps one (scale, zero point) per tensor; requantisation between a Q/DQ pair is not supported',
    );
  }
  const zp = x.dtype === DataType.UINT8 ? x.zpRaw - 128 : x.zpRaw;
  if (x.of.kind === 'act') attachQuant(c.ctx, c.label, x.of.act, { scale: x.scale, zp, by: `${x.by} / ${c.label}` });
  else if (x.of.kind === 'post') c.ctx.warnings.push(`${x.by}: the quantisation of the ${x.of.fn} output is not reproduced (inference applies it in float)`);
  else throw nodeError(c.label, 'dequantises a value that is neither an activation nor a constant');
  return [x.of];
};

export function attachQuant(ctx: ImportContext, label: string, act: number, q: { scale: number; zp: number; by: string }): void {
  const a = ctx.acts[act]!;
  if (a.quant && (a.quant.scale !== q.scale || a.quant.zp !== q.zp)) {
    throw nodeError(
      label,
      `quantises a tensor already quantised by ${a.quant.by} with different parameters ((${q.scale}, ${q.zp}) vs (${a.quant.scale}, ${a.quant.zp}))`,
      'tinytrain keeps one (scale, zero point) per tensor',
    );
  }
  a.quant = q;
}

/**
 * Per-output-channel scales of a QDQ weight, checked to be what tinytrain's weights are:
 * symmetric (zero point 0; uint8 with 128), per tensor or per output channel.
 */
export function weightScales(c: NodeCall, q: ConstQuant, cout: number, outAxis: number, rank: number, ctx: ImportContext): Float64Array {
  const shift = q.dtype === DataType.UINT8 ? 128 : 0;
  if (q.dtype !== DataType.INT8 && q.dtype !== DataType.UINT8)
    throw nodeError(c.label, `weights quantised as ${dtypeName(q.dtype)} are not supported`, 'tinytrain weights are int8');
  if (q.zp.some((z) => z !== shift)) {
    throw nodeError(
      c.label,
      `weights are quantised asymmetrically (${q.by}: zero point ${q.zp[q.zp.findIndex((z) => z !== shift)]})`,
      'tinytrain weights are symmetric int8 (zero point 0); quantise weights symmetrically (onnxruntime: WeightSymmetric=True, the default for int8)',
    );
  }
  let scales: Float64Array;
  if (q.axis === null) scales = new Float64Array(cout).fill(q.scale[0]!);
  else {
    const axis = q.axis < 0 ? q.axis + rank : q.axis;
    if (axis !== outAxis) throw nodeError(c.label, `weights are quantised per channel along axis ${axis}; tinytrain's weight scales are per output channel (axis ${outAxis})`);
    scales = Float64Array.from(q.scale);
  }
  const saturated = q.ints.reduce((n, v) => n + (v - shift === -128 ? 1 : 0), 0);
  if (saturated > 0) {
    ctx.warnings.push(`${c.label}: ${saturated} weight value(s) are -128; tinytrain's symmetric int8 weights stop at -127, so they become -127 (one step)`);
  }
  return scales;
}

export type { Value };
