/**
 * Post-training int8 quantisation: per-tensor asymmetric activations (scale, zero point)
 * from calibration ranges, per-output-channel symmetric weights, int32 biases at scale
 * s_in * s_w[c], and the fixed-point multipliers of fixedpoint.ts.
 */
import { TinytrainError } from '../errors.js';
import { LIMITS } from '../ir/limits.js';
import { INPUT, hasParams, weightShape, type Graph, type Node } from '../ir/graph.js';
import type { QuantizationSpec } from '../ir/model.js';
import type { ParamSet } from '../ir/params.js';
import { forward } from '../float/network.js';
import { clampOf, opOf } from '../ops/registry.js';
import { quantizeMultiplier } from './fixedpoint.js';

export interface QTensor {
  scale: number;
  zp: number;
}

export interface QLayer {
  /** int8 weights, [Cout, KH, KW, Cin/groups], values in [-127, 127]. */
  wq: Int8Array;
  /** Per output channel weight scale. */
  wScale: Float32Array;
  /** int32 bias at scale s_in * wScale[c]. */
  bq: Int32Array;
  /** Per output channel requantisation: s_in * wScale[c] / s_out. */
  mult: Int32Array;
  shift: Int32Array;
}

/** Integer clamp bounds of a node's output after its fused activation. */
export interface Clamp {
  lo: number;
  hi: number;
}

export interface QuantModel {
  graph: Graph;
  tensors: Map<string, QTensor>;
  layers: Map<string, QLayer>;
  clamps: Map<string, Clamp>;
  /** Each op's compile-time constants (its OpDef.prepare: a pool's or add's rescale), by node name; read by that op's code only. */
  opData: Map<string, unknown>;
}

export const QMIN = -128;
export const QMAX = 127;

/** Scale and zero point covering [lo, hi] (always including 0, so real 0 is exact). */
export function chooseQParams(lo: number, hi: number): QTensor {
  lo = Math.min(lo, 0);
  hi = Math.max(hi, 0);
  if (hi - lo < 1e-8) hi = lo + 1e-8;
  const scale = (hi - lo) / 255;
  const zp = Math.min(QMAX, Math.max(QMIN, Math.round(QMIN - lo / scale)));
  return { scale, zp };
}

export function quantizeValue(x: number, q: QTensor): number {
  return Math.min(QMAX, Math.max(QMIN, Math.round(x / q.scale) + q.zp));
}

/** Ranges of every tensor over the calibration samples. */
export function calibrate(g: Graph, params: ParamSet, samples: Iterable<Float32Array>): Map<string, [number, number]> {
  const ranges = new Map<string, [number, number]>();
  let seen = 0;
  for (const x of samples) {
    seen++;
    for (const [name, v] of forward(g, params, x)) {
      const r = ranges.get(name) ?? [Infinity, -Infinity];
      for (let i = 0; i < v.length; i++) {
        const a = v[i]!;
        if (a < r[0]) r[0] = a;
        if (a > r[1]) r[1] = a;
      }
      ranges.set(name, r);
    }
  }
  if (seen === 0) throw new TinytrainError('quantisation: no calibration samples', 'give at least one sample (ideally 100+) from the training data');
  return ranges;
}

/** Operators whose output keeps the input's quantisation (no arithmetic on values). */
export function sharesInputQuant(n: Node): boolean {
  return opOf(n).sharesInputQuant === true;
}

function clampFor(act: Node['activation'], q: QTensor): Clamp {
  if (act === 'none') return { lo: QMIN, hi: QMAX };
  const lo = Math.max(QMIN, q.zp);
  const hi = act === 'relu6' ? Math.min(QMAX, q.zp + Math.round(6 / q.scale)) : QMAX;
  return { lo, hi };
}

/**
 * `fixed` (a model's own int8 quantisation, e.g. from an ONNX QDQ model) takes precedence
 * over the calibrated ranges for the tensors and weights it names.
 */
export function quantizeModel(g: Graph, params: ParamSet, ranges: Map<string, [number, number]>, fixed?: QuantizationSpec): QuantModel {
  const fixedT = fixedTensors(g, fixed);
  const fixedW = fixedWeights(g, fixed);
  const tensors = new Map<string, QTensor>();
  tensors.set(INPUT, fixedT.get(INPUT) ?? chooseQParams(g.inputRange[0], g.inputRange[1]));
  const layers = new Map<string, QLayer>();
  const clamps = new Map<string, Clamp>();
  const opData = new Map<string, unknown>();
  for (const n of g.nodes) {
    const op = opOf(n);
    const qin = tensors.get(n.inputs[0]!)!;
    const qout = op.sharesInputQuant ? qin : (fixedT.get(n.output) ?? chooseQParams(...usableRange(n.output, ranges.get(n.output) ?? [0, 1])));
    tensors.set(n.output, qout);
    clamps.set(n.name, clampFor(clampOf(n), qout));
    if (op.weights) layers.set(n.name, quantizeLayer(n, params, qin, qout, fixedW.get(n.name)));
    if (op.prepare)
      opData.set(
        n.name,
        op.prepare(
          n,
          n.inputs.map((t) => tensors.get(t)!),
          qout,
        ),
      );
  }
  return { graph: g, tensors, layers, clamps, opData };
}

/**
 * A range from a model file is checked by its schema; one measured by calibrate() is not:
 * a float model that overflows gives infinite or NaN ranges, and so no usable scale.
 */
function usableRange(tensor: string, r: [number, number]): [number, number] {
  const [lo, hi] = r;
  if (!(Math.abs(lo) <= LIMITS.maxAbsReal && Math.abs(hi) <= LIMITS.maxAbsReal && lo <= hi)) {
    throw new TinytrainError(
      `calibration: tensor '${tensor}' has the range [${lo}, ${hi}]; ranges must be finite with lo <= hi`,
      'the float model overflows or gives NaN on the calibration data: check its parameters and the calibration inputs',
    );
  }
  return [lo, hi];
}

/** Validated per-tensor (scale, zero point) overrides, by tensor name. */
function fixedTensors(g: Graph, fixed: QuantizationSpec | undefined): Map<string, QTensor> {
  const out = new Map<string, QTensor>();
  const names = new Set([INPUT, ...g.nodes.map((n) => n.output)]);
  for (const [name, q] of Object.entries(fixed?.tensors ?? {})) {
    if (!names.has(name)) throw new TinytrainError(`model quantization: '${name}' is not a tensor of this model`);
    if (!(q.scale > 0) || !Number.isFinite(q.scale) || !Number.isInteger(q.zeroPoint) || q.zeroPoint < QMIN || q.zeroPoint > QMAX) {
      throw new TinytrainError(
        `model quantization of '${name}': scale ${q.scale}, zero point ${q.zeroPoint} is not a valid int8 quantisation`,
        'scale must be positive and finite, zeroPoint an integer in [-128, 127]',
      );
    }
    out.set(name, { scale: q.scale, zp: q.zeroPoint });
  }
  return out;
}

/** Validated per-output-channel weight scales, by layer name. */
function fixedWeights(g: Graph, fixed: QuantizationSpec | undefined): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [name, scales] of Object.entries(fixed?.weights ?? {})) {
    const n = g.nodes.find((m) => m.name === name);
    if (!n || !hasParams(n)) throw new TinytrainError(`model quantization: '${name}' is not a conv2d or dense layer of this model`);
    if (!Array.isArray(scales) || scales.length !== n.outShape[2] || !scales.every((s) => s > 0 && Number.isFinite(s))) {
      throw new TinytrainError(`model quantization of '${name}': expected ${n.outShape[2]} positive weight scales (one per output channel)`);
    }
    out.set(name, scales);
  }
  return out;
}

function quantizeLayer(n: Node, params: ParamSet, qin: QTensor, qout: QTensor, fixedScales?: number[]): QLayer {
  const { weight, bias } = params.get(n.name)!;
  const [cout, kh, kw, cin] = weightShape(n);
  const per = kh * kw * cin;
  const wq = new Int8Array(weight.length);
  const wScale = new Float32Array(cout);
  const bq = new Int32Array(cout);
  const mult = new Int32Array(cout);
  const shift = new Int32Array(cout);
  for (let c = 0; c < cout; c++) {
    let maxAbs = 0;
    for (let i = 0; i < per; i++) maxAbs = Math.max(maxAbs, Math.abs(weight[c * per + i]!));
    // An all-zero channel still needs a usable scale: trained updates will move it.
    const s = Math.fround(fixedScales ? fixedScales[c]! : maxAbs > 0 ? maxAbs / 127 : (1 / 127) * 1e-3);
    wScale[c] = s;
    for (let i = 0; i < per; i++) wq[c * per + i] = Math.max(-127, Math.min(127, Math.round(weight[c * per + i]! / s)));
    const b = Math.round(bias[c]! / (qin.scale * s));
    bq[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, b));
    const f = quantizeMultiplier((qin.scale * s) / qout.scale);
    mult[c] = f.m;
    shift[c] = f.n;
  }
  return { wq, wScale, bq, mult, shift };
}

/** Dequantised float parameters: what the int8 model computes, seen as a float model. */
export function dequantizeParams(q: QuantModel): ParamSet {
  const out: ParamSet = new Map();
  for (const n of q.graph.nodes) {
    const l = q.layers.get(n.name);
    if (!l) continue;
    const sIn = q.tensors.get(n.inputs[0]!)!.scale;
    const cout = l.wScale.length;
    const per = l.wq.length / cout;
    const weight = new Float32Array(l.wq.length);
    const bias = new Float32Array(cout);
    for (let c = 0; c < cout; c++) {
      for (let i = 0; i < per; i++) weight[c * per + i] = l.wq[c * per + i]! * l.wScale[c]!;
      bias[c] = l.bq[c]! * sIn * l.wScale[c]!;
    }
    out.set(n.name, { weight, bias });
  }
  return out;
}
