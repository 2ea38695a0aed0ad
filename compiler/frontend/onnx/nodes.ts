/**
 * One handler per ONNX op: reads the node's inputs (constants or activations) and
 * attributes, refuses what tinytrain cannot compute exactly, and returns the node's
 * output values, adding IrOps for the work the device will do.
 */
import { paddedOutput, padsText, samePads, type Pads } from '../../ops/padding.js';
import { preluSlopes } from '../prelu-slopes.js';
import { Attrs } from './attrs.js';
import { addOp, channels, nodeError, onnxDims, sameShape, shapeText, type ActShape, type ImportContext, type IrFunction, type IrOp, type Value } from './ir.js';
import { convWeightToOhwi, denseWeightFromOnnx } from './layout.js';
import { DataType, type OnnxNode } from './proto.js';
import { dequantizeLinear, quantizeLinear, weightScales } from './qdq.js';
import { dtypeName, isIntegerType, toFloat32, type ConstTensor } from './tensor.js';
import { castConst, concatConsts, gatherConst, reinterpret, sliceConst, squeezeDims, unsqueezeDims } from './shapes.js';

export interface NodeCall {
  ctx: ImportContext;
  node: OnnxNode;
  /** "'name' (OpType)" */
  label: string;
  /** Layer name candidate. */
  name: string;
  /** The op definition in use (since_version). */
  version: number;
  /** Resolved inputs; undefined where the input name is empty (an omitted optional input). */
  inputs: (Value | undefined)[];
  attrs: Attrs;
  /** Whether output i is consumed by anything that matters to the model's output. */
  outputUsed(i: number): boolean;
}

export type Handler = (c: NodeCall) => Value[];

// ---------------------------------------------------------------------------------------
// Input helpers

function inputAct(c: NodeCall, i: number, what = 'input'): number {
  const v = c.inputs[i];
  if (!v) throw nodeError(c.label, `${what} (input ${i}) is missing`);
  if (v.kind === 'act') return v.act;
  if (v.kind === 'const') {
    throw nodeError(
      c.label,
      `${what} (input ${i}) is a constant; tinytrain needs it to be computed from the model input`,
      'constant-fold the model before export (e.g. torch.onnx.export(..., do_constant_folding=True) or onnx-simplifier)',
    );
  }
  if (v.kind === 'padded') throw nodeError(c.label, `reads the output of ${v.by}`, PAD_HINT);
  if (v.kind === 'post')
    throw nodeError(
      c.label,
      `reads the output of the final ${v.fn === 'softmax' ? 'Softmax' : 'LogSoftmax'} (${v.by})`,
      'Softmax/LogSoftmax are supported only as the last op of the model',
    );
  throw nodeError(
    c.label,
    `reads the integer output of QuantizeLinear ${v.by}`,
    'only DequantizeLinear may read a QuantizeLinear output (QDQ format); QOperator models (QLinearConv, ...) are not supported',
  );
}

/**
 * A Conv's or pool's input map, and the pads of a constant Pad it reads through (which it
 * folds into its own window: one layer, no padded copy of the map).
 */
function windowInput(c: NodeCall): { x: MapInput; pre?: Extract<Value, { kind: 'padded' }> } {
  const v = c.inputs[0];
  if (v?.kind !== 'padded') return { x: mapInput(c, 0) };
  const s = actShape(c, v.act) as Extract<ActShape, { kind: 'map' }>;
  return { x: { id: v.act, c: s.c, h: s.h, w: s.w, oneD: s.oneD === true }, pre: v };
}

function inputConst(c: NodeCall, i: number, what: string): ConstTensor {
  const v = c.inputs[i];
  if (!v) throw nodeError(c.label, `${what} (input ${i}) is missing`);
  if (v.kind !== 'const') throw nodeError(c.label, `${what} (input ${i}) must be a constant (an initializer or Constant), it is computed at run time`);
  return v.t;
}

function optionalConst(c: NodeCall, i: number, what: string): ConstTensor | undefined {
  return c.inputs[i] ? inputConst(c, i, what) : undefined;
}

function floatConst(c: NodeCall, i: number, what: string): ConstTensor {
  const t = inputConst(c, i, what);
  if (t.dtype !== DataType.FLOAT && t.dtype !== DataType.FLOAT16 && t.dtype !== DataType.DOUBLE) {
    throw nodeError(c.label, `${what} must be a float tensor, it is ${dtypeName(t.dtype)}`);
  }
  return t;
}

function actShape(c: NodeCall, id: number): ActShape {
  return c.ctx.acts[id]!.shape;
}

/** A map input: its act, channels, rows and columns; `oneD`: an ONNX sequence [1, C, L] (one row, w = L). */
interface MapInput {
  id: number;
  c: number;
  h: number;
  w: number;
  oneD: boolean;
}

function mapInput(c: NodeCall, i: number, what = 'input'): MapInput {
  const id = inputAct(c, i, what);
  const s = actShape(c, id);
  if (s.kind !== 'map') throw nodeError(c.label, `${what} must be a feature map [1, C, H, W] or a sequence [1, C, L], it is ${shapeText(s)}`);
  return { id, c: s.c, h: s.h, w: s.w, oneD: s.oneD === true };
}

/** The map shape of an op's output over input `x`: a sequence stays a sequence. */
function mapOf(x: { oneD: boolean }, ch: number, h: number, w: number): ActShape {
  return { kind: 'map', c: ch, h, w, ...(x.oneD && { oneD: true as const }) };
}

function scalarOf(t: ConstTensor, c: NodeCall, what: string): number {
  if (t.data.length !== 1) throw nodeError(c.label, `${what} must be a scalar, it has shape [${t.dims.join(', ')}]`);
  return t.data[0]!;
}

function unusedOutputs(c: NodeCall, from: number, why: string): void {
  for (let i = from; i < c.node.output.length; i++) {
    if (c.node.output[i] && c.outputUsed(i)) throw nodeError(c.label, `output ${i} ('${c.node.output[i]}') is used: ${why}`);
  }
}

// ---------------------------------------------------------------------------------------
// Convolution and pooling geometry

interface Window {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  /** Per side [top, left, bottom, right], as the layers take them. */
  pads: Pads;
  oh: number;
  ow: number;
}

/**
 * The window attributes of a 2-D node, or of a 1-D one (`oneD`: strides [s], dilations [d],
 * pads [begin, end] over L) as the 2-D node over one row that tinytrain runs: strides [1, s],
 * dilations [1, d], pads [0, begin, 0, end].
 */
function windowAttrs(c: NodeCall, oneD: boolean): { strides: number[]; dil: number[]; pads: number[] } {
  const rank = oneD ? 1 : 2;
  const strides = c.attrs.ints('strides') ?? Array<number>(rank).fill(1);
  const dil = c.attrs.ints('dilations') ?? Array<number>(rank).fill(1);
  const pads = c.attrs.ints('pads') ?? Array<number>(2 * rank).fill(0);
  const what = oneD ? '1 value (a 1-D op on a [1, C, L] sequence)' : '2 values (a 2-D op on a [1, C, H, W] map)';
  if (strides.length !== rank || dil.length !== rank) throw nodeError(c.label, `strides/dilations must have ${what}`);
  if (pads.length !== 2 * rank || pads.some((p) => p < 0)) {
    throw nodeError(c.label, `pads [${pads}] must be ${2 * rank} non-negative values ${oneD ? '[begin, end]' : '[top, left, bottom, right]'}`);
  }
  if (!oneD) return { strides, dil, pads };
  return { strides: [1, strides[0]!], dil: [1, dil[0]!], pads: [0, pads[0]!, 0, pads[1]!] };
}

/**
 * ONNX's padding rules (explicit pads or auto_pad) for a 2-D window (a 1-D one as one row:
 * windowAttrs); output size as ONNX defines it. `ceil` is AveragePool's ceil_mode.
 */
function window2d(c: NodeCall, h: number, w: number, kh: number, kw: number, oneD: boolean, ceil = false): Window {
  const attrs = windowAttrs(c, oneD);
  const { strides, dil } = attrs;
  if (dil.some((d) => d !== 1)) throw nodeError(c.label, `dilations [${c.attrs.ints('dilations')}] are not supported`, 'tinytrain supports dilation 1 only');
  const [sh, sw] = strides as [number, number];
  if (!(sh >= 1 && sw >= 1)) throw nodeError(c.label, `strides [${c.attrs.ints('strides')}] must be positive`);
  const autoPad = c.attrs.string('auto_pad', 'NOTSET');
  let pads = attrs.pads;
  let oh: number, ow: number;
  const out = (n: number, k: number, s: number, total: number): number => (ceil ? Math.ceil : Math.floor)((n + total - k) / s) + 1;
  if (autoPad === 'NOTSET') {
    oh = out(h, kh, sh, pads[0]! + pads[2]!);
    ow = out(w, kw, sw, pads[1]! + pads[3]!);
  } else if (autoPad === 'VALID') {
    pads = [0, 0, 0, 0];
    oh = out(h, kh, sh, 0);
    ow = out(w, kw, sw, 0);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    oh = Math.ceil(h / sh);
    ow = Math.ceil(w / sw);
    const th = Math.max((oh - 1) * sh + kh - h, 0);
    const tw = Math.max((ow - 1) * sw + kw - w, 0);
    const first = (t: number): number => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2));
    pads = [first(th), first(tw), th - first(th), tw - first(tw)];
  } else {
    throw nodeError(c.label, `auto_pad '${autoPad}' is not a valid value`, 'use NOTSET, VALID, SAME_UPPER or SAME_LOWER');
  }
  if (oh < 1 || ow < 1) throw nodeError(c.label, `a ${kh}x${kw} window does not fit the ${h}x${w} input`);
  // ONNX lists pads as [top, left, bottom, right] for 2-D (all begins, then all ends): the layers' order.
  return { kh, kw, sh, sw, pads: [pads[0]!, pads[1]!, pads[2]!, pads[3]!], oh, ow };
}

/**
 * tinytrain's convs and pools take a stride per axis and pad per side, with the output
 * floor((n + before + after - k) / s) + 1, ONNX's own rule for explicit pads (and the size
 * auto_pad SAME gives: its pads add up to exactly that).
 */
function ourGeometry(c: NodeCall, g: Window, h: number, w: number): { sh: number; sw: number; pads: Pads } {
  const [oh, ow] = paddedOutput([h, w], g.kh, g.kw, [g.sh, g.sw], g.pads);
  if (oh !== g.oh || ow !== g.ow) {
    throw nodeError(
      c.label,
      `its windows give a ${g.oh}x${g.ow} output where its padding ${padsText(g.pads)} gives ${oh}x${ow} (ceil_mode windows that hang over the edge)`,
      'tinytrain pools and convolves with floor windows (ceil_mode 0)',
    );
  }
  return { sh: g.sh, sw: g.sw, pads: g.pads };
}

const PAD_HINT = "tinytrain folds a constant Pad on H/W (mode 'constant') into the Conv, MaxPool or AveragePool that reads it";

/** The window of a node over its input as a folded Pad left it: ONNX's rules on the padded size, the Pad's pads added to its own. */
function windowThroughPad(c: NodeCall, x: MapInput, pre: { pads: Pads } | undefined, kh: number, kw: number, ceil = false): Window {
  const p = pre?.pads ?? [0, 0, 0, 0];
  const g = window2d(c, x.h + p[0] + p[2], x.w + p[1] + p[3], kh, kw, x.oneD, ceil);
  return { ...g, pads: [g.pads[0] + p[0], g.pads[1] + p[1], g.pads[2] + p[2], g.pads[3] + p[3]] };
}

/**
 * Pad -> nothing of its own: a constant pad on H and W, which the Conv, MaxPool or
 * AveragePool reading it folds into its window (windowInput). Refused: other modes, pads
 * on the batch or channel axes, negative pads (cropping), and any other reader.
 */
const pad: Handler = (c) => {
  c.attrs.only(['mode']);
  const mode = c.attrs.string('mode', 'constant');
  if (mode !== 'constant') throw nodeError(c.label, `mode '${mode}' is not supported`, PAD_HINT);
  const x = mapInput(c, 0);
  const raw = inputConst(c, 1, 'pads').data;
  const value = c.inputs[2] ? scalarOf(floatConst(c, 2, 'constant_value'), c, 'constant_value') : 0;
  const rank = x.oneD ? 3 : 4;
  const given = c.inputs[3] ? Array.from(inputConst(c, 3, 'axes').data, (a) => (a < 0 ? a + rank : a)) : [...Array(rank).keys()];
  if (raw.length !== 2 * given.length) throw nodeError(c.label, `pads has ${raw.length} values for ${given.length} axes`);
  // A sequence's axis 2 (L) is the columns of its one-row map.
  const axes = x.oneD ? given.map((a) => (a === 2 ? 3 : a)) : given;
  const begin = [0, 0, 0, 0];
  const end = [0, 0, 0, 0];
  axes.forEach((a, i) => {
    begin[a] = raw[i]!;
    end[a] = raw[i + axes.length]!;
  });
  if (begin[0] || end[0] || begin[1] || end[1]) throw nodeError(c.label, `pads the batch or channel axis (pads [${raw.join(', ')}])`, PAD_HINT);
  if ([...begin, ...end].some((p) => p < 0)) throw nodeError(c.label, `negative pads (cropping) are not supported (pads [${raw.join(', ')}])`, PAD_HINT);
  return [{ kind: 'padded', act: x.id, pads: [begin[2]!, begin[3]!, end[2]!, end[3]!], value, by: c.label }];
};

// ---------------------------------------------------------------------------------------
// Handlers

const conv: Handler = (c) => {
  c.attrs.only(['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides']);
  const { x, pre } = windowInput(c);
  if (pre && pre.value !== 0)
    throw nodeError(c.label, `reads ${pre.by}, which pads with ${pre.value}`, 'a conv pads with zeros: tinytrain folds a Pad into a Conv with constant_value 0 only');
  const wv = c.inputs[1];
  const W = floatConst(c, 1, 'weight W');
  const rank = x.oneD ? 3 : 4;
  if (W.dims.length !== rank) {
    const want = x.oneD ? '3-D [Cout, Cin/group, K] (1-D conv on a [1, C, L] sequence)' : '4-D [Cout, Cin/group, KH, KW] (2-D conv)';
    throw nodeError(c.label, `weight W must be ${want}, it has shape [${W.dims}]`, 'tinytrain supports 1-D and 2-D convolutions');
  }
  // A 1-D conv is a 2-D one over a single row: its [Cout, Cin, K] weights are [Cout, Cin, 1, K].
  const [cout, cinG, kh, kw] = (x.oneD ? [W.dims[0], W.dims[1], 1, W.dims[2]] : W.dims) as [number, number, number, number];
  const ks = c.attrs.ints('kernel_shape');
  if (ks && (ks.length !== rank - 2 || ks.some((k, i) => k !== W.dims[2 + i]))) throw nodeError(c.label, `kernel_shape [${ks}] does not match W [${W.dims}]`);
  const group = c.attrs.int('group', 1);
  let depthwise = false;
  if (group === 1) {
    if (cinG !== x.c) throw nodeError(c.label, `W expects ${cinG} input channels, the input has ${x.c}`);
  } else if (group === x.c && cinG === 1 && cout === x.c) {
    depthwise = true;
  } else if (group === x.c && cinG === 1) {
    throw nodeError(
      c.label,
      `depthwise conv with channel multiplier ${cout / x.c} (group ${group}, ${cout} outputs) is not supported`,
      'tinytrain supports Conv with group 1, or group = channels with one output per channel',
    );
  } else {
    throw nodeError(c.label, `grouped conv with group ${group} is not supported`, 'tinytrain supports Conv with group 1, or group = channels (depthwise)');
  }
  const g = windowThroughPad(c, x, pre, kh, kw);
  const { sh, sw, pads } = ourGeometry(c, g, x.h, x.w);
  const B = optionalConst(c, 2, 'bias B');
  if (B && B.data.length !== cout) throw nodeError(c.label, `bias B has ${B.data.length} values, W has ${cout} output channels`);
  const weight = convWeightToOhwi(W.data, cout, cinG, kh, kw);
  const wScales = wv?.kind === 'const' && wv.q ? weightScales(c, wv.q, cout, 0, W.dims.length, c.ctx) : undefined;
  const bv = c.inputs[2];
  const out = addOp(
    c.ctx,
    {
      kind: 'conv2d',
      node: c.label,
      name: c.name,
      inputs: [x.id],
      activation: 'none',
      conv: { kh, kw, sh, sw, pads, depthwise, filters: cout },
      weight,
      bias: B ? toFloat32(B) : new Float32Array(cout),
      ...(wScales ? { wScales } : {}),
      ...(bv?.kind === 'const' && bv.q ? { qBias: { ints: bv.q.ints, scale: bv.q.scale } } : {}),
    },
    mapOf(x, cout, g.oh, g.ow),
  );
  return [{ kind: 'act', act: out }];
};

/** Dense layer from a [K, N] (or [N, K] when transB) constant; the input is a [1, K] activation. */
function dense(
  c: NodeCall,
  xId: number,
  B: ConstTensor,
  transB: boolean,
  alpha: number,
  bias: Float32Array | undefined,
  qBias: { ints: Float64Array; scale: Float64Array } | undefined,
): Value[] {
  const xs = actShape(c, xId);
  if (xs.kind !== 'flat') throw nodeError(c.label, `input must be 2-D [1, K], it is ${shapeText(xs)}`, 'flatten the feature map first (Flatten or Reshape)');
  if (B.dims.length !== 2) throw nodeError(c.label, `the weight operand must be 2-D, it has shape [${B.dims}]`);
  const [k, n] = transB ? [B.dims[1]!, B.dims[0]!] : [B.dims[0]!, B.dims[1]!];
  if (k !== xs.n) throw nodeError(c.label, `the weight operand has ${k} input features, the input has ${xs.n}`);
  const weight = denseWeightFromOnnx(B.data, k, n, transB, xs.chw, alpha);
  if (xs.chw && xs.chw.h * xs.chw.w > 1) {
    c.ctx.notes.push(`${c.label}: weight columns permuted from ONNX's C,H,W order to tinytrain's H,W,C order (input is a flattened ${xs.chw.c}x${xs.chw.h}x${xs.chw.w} map)`);
  }
  const bv = c.inputs[1];
  let wScales: Float64Array | undefined;
  if (bv?.kind === 'const' && bv.q) {
    wScales = weightScales(c, bv.q, n, transB ? 0 : 1, 2, c.ctx);
    if (alpha !== 1) wScales = wScales.map((s) => s * Math.abs(alpha));
  }
  const out = addOp(
    c.ctx,
    {
      kind: 'dense',
      node: c.label,
      name: c.name,
      inputs: [xId],
      activation: 'none',
      units: n,
      weight,
      bias: bias ?? new Float32Array(n),
      ...(wScales ? { wScales } : {}),
      ...(qBias ? { qBias } : {}),
    },
    { kind: 'flat', n, chw: null },
  );
  return [{ kind: 'act', act: out }];
}

const gemm: Handler = (c) => {
  c.attrs.only(['alpha', 'beta', 'transA', 'transB']);
  if (c.attrs.int('transA', 0) !== 0) throw nodeError(c.label, 'transA = 1 is not supported', 'the activation operand must be A = [1, K] (transA = 0)');
  const x = inputAct(c, 0, 'A');
  const B = floatConst(c, 1, 'B');
  const transB = c.attrs.int('transB', 0) !== 0;
  const alpha = c.attrs.float('alpha', 1);
  const beta = c.attrs.float('beta', 1);
  const n = transB ? B.dims[0] : B.dims[1];
  let bias: Float32Array | undefined;
  const C = optionalConst(c, 2, 'C');
  if (C && n !== undefined) {
    // C must broadcast to [1, N]: a scalar, [1], [N], [1, 1] or [1, N].
    const last = C.dims[C.dims.length - 1] ?? 1;
    const ok = C.dims.length <= 2 && (C.dims.length < 2 || C.dims[0] === 1) && (last === 1 || last === n);
    if (!ok) throw nodeError(c.label, `bias C of shape [${C.dims}] does not broadcast to one value per output [1, ${n}]`);
    bias = Float32Array.from({ length: n }, (_, i) => beta * C.data[last === 1 ? 0 : i]!);
  }
  const cv = c.inputs[2];
  const qBias = cv?.kind === 'const' && cv.q && beta === 1 ? { ints: cv.q.ints, scale: cv.q.scale } : undefined;
  return dense(c, x, B, transB, alpha, bias, qBias);
};

const matmul: Handler = (c) => {
  c.attrs.only([]);
  if (c.inputs[0]?.kind === 'const' && c.inputs[1]?.kind !== 'const') {
    throw nodeError(c.label, 'the constant is the left operand', 'tinytrain supports MatMul(activation [1, K], constant [K, N])');
  }
  const x = inputAct(c, 0, 'A');
  const B = floatConst(c, 1, 'B');
  return dense(c, x, B, false, 1, undefined, undefined);
};

const relu: Handler = (c) => {
  c.attrs.only([]);
  const x = inputAct(c, 0);
  return [{ kind: 'act', act: addOp(c.ctx, { kind: 'relu', node: c.label, name: c.name, inputs: [x], activation: 'none' }, actShape(c, x)) }];
};

const clip: Handler = (c) => {
  c.attrs.only([]);
  const x = inputAct(c, 0);
  const lo = optionalConst(c, 1, 'min');
  const hi = optionalConst(c, 2, 'max');
  const min = lo ? scalarOf(lo, c, 'min') : -Infinity;
  const max = hi ? scalarOf(hi, c, 'max') : Infinity;
  let kind: 'relu' | 'relu6';
  if (min === -Infinity && max === Infinity) return [{ kind: 'act', act: x }]; // no bounds: the identity
  if (min === 0 && max === 6) kind = 'relu6';
  else if (min === 0 && (max === Infinity || max >= 3.4028234663852886e38)) kind = 'relu';
  else {
    throw nodeError(c.label, `Clip(min ${min}, max ${max}) is not supported`, 'tinytrain supports Clip as ReLU (min 0, no max) and ReLU6 (min 0, max 6)');
  }
  return [{ kind: 'act', act: addOp(c.ctx, { kind, node: c.label, name: c.name, inputs: [x], activation: 'none' }, actShape(c, x)) }];
};

/** An element-wise table activation of input 0 (compiler/ops/table-activation.ts). */
function tableActivation(c: NodeCall, kind: IrFunction, fn?: IrOp['fn']): Value[] {
  const x = inputAct(c, 0);
  return [{ kind: 'act', act: addOp(c.ctx, { kind, node: c.label, name: c.name, inputs: [x], activation: 'none', ...(fn && { fn }) }, actShape(c, x)) }];
}

const sigmoid: Handler = (c) => {
  c.attrs.only([]);
  return tableActivation(c, 'sigmoid');
};

const hardSwish: Handler = (c) => {
  c.attrs.only([]);
  return tableActivation(c, 'hardswish');
};

/** HardSigmoid: y = max(0, min(1, alpha x + beta)); ONNX's defaults alpha 0.2, beta 0.5. */
const hardSigmoid: Handler = (c) => {
  c.attrs.only(['alpha', 'beta']);
  return tableActivation(c, 'hardsigmoid', { alpha: c.attrs.float('alpha', 0.2), beta: c.attrs.float('beta', 0.5) });
};

/**
 * PRelu: y = x < 0 ? slope * x : x, the slope a constant that broadcasts to the input
 * (unidirectionally: one value, one per channel [C, 1, 1], or any shape up to the input's),
 * as one prelu layer (its slopes in HWC order: compiler/frontend/prelu-slopes.ts).
 */
const prelu: Handler = (c) => {
  c.attrs.only([]);
  const x = inputAct(c, 0, 'X');
  const slope = floatConst(c, 1, 'slope');
  const s = actShape(c, x);
  if (s.kind === 'flat' && s.chw && s.chw.h * s.chw.w > 1 && slope.data.length > 1) {
    throw nodeError(c.label, 'the slope is applied per feature after a Flatten', 'apply the PRelu before flattening, or give it one slope');
  }
  const slopes = preluSlopes(slope, onnxDims(s), 'nchw');
  if (typeof slopes === 'string')
    throw nodeError(c.label, slopes, 'tinytrain takes a slope that broadcasts to the input: one value, one per channel ([C, 1, 1]) or one per element');
  return [{ kind: 'act', act: addOp(c.ctx, { kind: 'prelu', node: c.label, name: c.name, inputs: [x], activation: 'none', slopes }, s) }];
};

/** LeakyRelu: ONNX's default alpha 0.01. */
const leakyRelu: Handler = (c) => {
  c.attrs.only(['alpha']);
  return tableActivation(c, 'leakyrelu', { alpha: c.attrs.float('alpha', 0.01) });
};

/**
 * The table function f that Mul(x, f(x)) computes as one layer: SiLU for x * Sigmoid(x) (as
 * PyTorch exports nn.SiLU), HardSwish for x * HardSigmoid(x) with HardSwish's coefficients
 * (alpha 1/6, beta 1/2), either operand order; the inner op is marked and goes when nothing
 * else reads it (fold.ts).
 */
function foldedFunction(c: NodeCall, a: number, b: number): { x: number; as: IrFunction } | undefined {
  const inner = (s: number, x: number): IrOp | undefined => {
    const p = c.ctx.ops[c.ctx.acts[s]!.producer];
    if (!p || p.removed || p.inputs[0] !== x) return undefined;
    const hardswish = p.kind === 'hardsigmoid' && Math.abs(p.fn!.alpha! - 1 / 6) < 1e-7 && p.fn!.beta === 0.5;
    return p.kind === 'sigmoid' || hardswish ? p : undefined;
  };
  for (const [s, x] of [
    [b, a],
    [a, b],
  ] as const) {
    const p = inner(s, x);
    if (!p) continue;
    const as = p.kind === 'sigmoid' ? 'silu' : 'hardswish';
    p.foldedInto = { by: c.label, as };
    return { x, as };
  }
  return undefined;
}

/**
 * Mul: by a constant (scalar or per channel): a per-channel scale that folds into the conv
 * before it or becomes a 1x1 depthwise conv (affine, fold.ts); x * Sigmoid(x) and
 * x * HardSigmoid(x) as one silu or hardswish layer; otherwise the mul layer, on two tensors
 * of one shape or a feature map times a per-channel [1, C, 1, 1] one (squeeze-excitation),
 * either operand order.
 */
const mul: Handler = (c) => {
  c.attrs.only([]);
  if (c.inputs[0]?.kind === 'const' || c.inputs[1]?.kind === 'const') return constantAffine(c, 'Mul');
  const a = inputAct(c, 0, 'A');
  const b = inputAct(c, 1, 'B');
  const f = foldedFunction(c, a, b);
  if (f) return [{ kind: 'act', act: addOp(c.ctx, { kind: f.as, node: c.label, name: c.name, inputs: [f.x], activation: 'none' }, actShape(c, f.x)) }];
  const [sa, sb] = [actShape(c, a), actShape(c, b)];
  const gate = (s: ActShape, full: ActShape) => s.kind === 'map' && s.h * s.w === 1 && full.kind === 'map' && full.c === s.c;
  const inputs = sameShape(sa, sb) || gate(sb, sa) ? [a, b] : gate(sa, sb) ? [b, a] : undefined;
  if (!inputs) {
    throw nodeError(
      c.label,
      `multiplies tensors of shapes ${shapeText(sa)} and ${shapeText(sb)}`,
      'tinytrain multiplies tensors of equal shape, or a feature map [1, C, H, W] by one value per channel [1, C, 1, 1]',
    );
  }
  return [{ kind: 'act', act: addOp(c.ctx, { kind: 'mul', node: c.label, name: c.name, inputs, activation: 'none' }, actShape(c, inputs[0]!)) }];
};

/**
 * An Add, Sub, Mul or Div of an activation and a constant (scalar or per channel): one
 * affine y = x * scale + shift (fold.ts folds it into the conv or dense before it, or makes
 * it a 1x1 depthwise conv). Sub by either operand order; Div only of the activation.
 */
function constantAffine(c: NodeCall, op: 'Add' | 'Sub' | 'Mul' | 'Div'): Value[] {
  const ci = c.inputs[0]?.kind === 'const' ? 0 : 1;
  if (c.inputs[1 - ci]?.kind === 'const') throw nodeError(c.label, 'both operands are constants', 'constant-fold the model before export (onnx-simplifier)');
  if (op === 'Div' && ci === 0) throw nodeError(c.label, 'divides a constant by a computed tensor', 'tinytrain supports Div of a tensor by a constant');
  const x = inputAct(c, 1 - ci);
  const s = actShape(c, x);
  const k = perChannel(c, inputConst(c, ci, 'constant'), s, `the ${op === 'Add' ? 'added' : op === 'Sub' ? 'subtracted' : op === 'Mul' ? 'multiplying' : 'dividing'} constant`);
  const ones = new Float64Array(k.length).fill(1);
  const zeros = new Float64Array(k.length);
  const affine =
    op === 'Add'
      ? { scale: ones, shift: k }
      : op === 'Sub'
        ? ci === 1
          ? { scale: ones, shift: k.map((v) => -v) }
          : { scale: ones.map(() => -1), shift: k }
        : op === 'Mul'
          ? { scale: k, shift: zeros }
          : { scale: k.map((v) => 1 / v), shift: zeros };
  if (affine.scale.some((v) => !Number.isFinite(v))) throw nodeError(c.label, 'divides by zero');
  return [{ kind: 'act', act: addOp(c.ctx, { kind: 'affine', node: c.label, name: c.name, inputs: [x], activation: 'none', affine }, s) }];
}

const sub: Handler = (c) => {
  c.attrs.only([]);
  if (c.inputs[0]?.kind === 'const' || c.inputs[1]?.kind === 'const') return constantAffine(c, 'Sub');
  throw nodeError(c.label, 'subtracts two computed tensors', 'tinytrain supports Sub with a constant operand (folded into the layer before it)');
};

const div: Handler = (c) => {
  c.attrs.only([]);
  if (c.inputs[0]?.kind === 'const' || c.inputs[1]?.kind === 'const') return constantAffine(c, 'Div');
  throw nodeError(c.label, 'divides two computed tensors', 'tinytrain supports Div of a tensor by a constant (folded into the layer before it)');
};

/** Per-channel values of a constant broadcast against an activation (which it must not grow). */
function perChannel(c: NodeCall, t: ConstTensor, s: ActShape, what: string): Float64Array {
  const dims = onnxDims(s);
  if (t.dims.length > dims.length) throw nodeError(c.label, `${what} of shape [${t.dims}] has more dimensions than the input ${shapeText(s)}`);
  const td = [...Array(dims.length - t.dims.length).fill(1), ...t.dims] as number[];
  td.forEach((d, i) => {
    if (d !== 1 && d !== dims[i]) throw nodeError(c.label, `${what} of shape [${t.dims}] does not broadcast to the input ${shapeText(s)}`);
  });
  const C = channels(s);
  const out = new Float64Array(C);
  const get = (idx: number[]): number => {
    let o = 0;
    for (let i = 0; i < td.length; i++) o = o * td[i]! + (td[i] === 1 ? 0 : idx[i]!);
    return t.data[o]!;
  };
  if (s.kind === 'map') {
    if (td.slice(2).some((d) => d !== 1)) throw nodeError(c.label, `${what} of shape [${t.dims}] varies over height/width`, 'only per-channel (or scalar) constants are supported');
    for (let ch = 0; ch < C; ch++) out[ch] = get([0, ch, ...td.slice(2).map(() => 0)]);
  } else {
    if (s.chw && s.chw.h * s.chw.w > 1 && td[1] !== 1) {
      throw nodeError(c.label, `${what} is applied per feature after a Flatten`, 'apply it before flattening, or fold it into the next layer');
    }
    for (let ch = 0; ch < C; ch++) out[ch] = get([0, ch]);
  }
  return out;
}

const add: Handler = (c) => {
  c.attrs.only([]);
  if (c.inputs[0]?.kind === 'const' || c.inputs[1]?.kind === 'const') return constantAffine(c, 'Add');
  const x = inputAct(c, 0, 'A');
  const y = inputAct(c, 1, 'B');
  const sx = actShape(c, x);
  const sy = actShape(c, y);
  if (!sameShape(sx, sy))
    throw nodeError(
      c.label,
      `adds tensors of shapes ${shapeText(sx)} and ${shapeText(sy)}`,
      'tinytrain adds tensors of equal shape (residual connections); broadcasting is not supported',
    );
  return [{ kind: 'act', act: addOp(c.ctx, { kind: 'add', node: c.label, name: c.name, inputs: [x, y], activation: 'none' }, sx) }];
};

/** A pool's kh x kw window and its geometry per axis, for AveragePool and MaxPool alike (through a folded Pad, `pre`). */
function poolWindow(c: NodeCall, what: string) {
  const { x, pre } = windowInput(c);
  const ks = c.attrs.ints('kernel_shape');
  const rank = x.oneD ? 1 : 2;
  if (!ks || ks.length !== rank) {
    const needs = x.oneD ? '1-D pooling (a [1, C, L] sequence) needs 1 value' : '2-D pooling needs 2 values';
    throw nodeError(c.label, `kernel_shape ${ks ? `[${ks}]` : 'is missing'}: ${needs}`, `tinytrain supports 1-D and 2-D ${what}`);
  }
  // A 1-D window of k is a 1 x k window over the sequence's one row.
  const [kh, kw] = (x.oneD ? [1, ks[0]] : ks) as [number, number];
  const g = windowThroughPad(c, x, pre, kh, kw, c.attrs.int('ceil_mode', 0) !== 0);
  const ownPads = g.pads.some((p, i) => p > (pre?.pads[i] ?? 0));
  const { sh, sw, pads } = ourGeometry(c, g, x.h, x.w);
  if (pads[0] >= kh || pads[2] >= kh || pads[1] >= kw || pads[3] >= kw) {
    throw nodeError(c.label, `pads ${padsText(pads)} are not all less than the ${kh}x${kw} window`, 'a window must hold at least one input');
  }
  return { x, pre, ownPads, window: { ph: kh, pw: kw, sh, sw }, pads, shape: mapOf(x, x.c, g.oh, g.ow) };
}

/** Whether act `id` is never negative: the output of a ReLU or ReLU6 (fused or standalone). */
function nonNegative(c: NodeCall, id: number): boolean {
  const p = c.ctx.ops.find((o) => !o.removed && o.output === id);
  return p !== undefined && (p.kind === 'relu' || p.kind === 'relu6' || p.activation === 'relu' || p.activation === 'relu6');
}

/** 'valid' for no padding, 'same' for TF's split (the words maxpool layers said before per-side padding), else the pads. */
function maxpoolPadding(pads: Pads, x: MapInput, { ph, pw, sh, sw }: { ph: number; pw: number; sh: number; sw: number }): 'valid' | 'same' | Pads {
  if (pads.every((p) => p === 0)) return 'valid';
  const same = samePads([x.h, x.w], ph, pw, [sh, sw]);
  const [oh, ow] = paddedOutput([x.h, x.w], ph, pw, [sh, sw], pads);
  return pads.every((p, i) => p === same[i]) && oh === Math.ceil(x.h / sh) && ow === Math.ceil(x.w / sw) ? 'same' : pads;
}

/**
 * AveragePool -> avgpool: a kh x kw window, strides per axis, padding per side (explicit pads or
 * auto_pad); count_include_pad 0 (the default) divides a window that hangs over the edge
 * by the inputs it holds, 1 by the whole window, the padding counted as zeros.
 */
const averagePool: Handler = (c) => {
  c.attrs.only(['auto_pad', 'ceil_mode', 'count_include_pad', 'dilations', 'kernel_shape', 'pads', 'strides']);
  const { x, pre, ownPads, window, pads, shape } = poolWindow(c, 'average pooling');
  let countIncludePad = c.attrs.int('count_include_pad', 0) !== 0;
  if (pre) {
    // A Pad's zeros are inputs of the window: they count, as count_include_pad 1 counts its own.
    if (pre.value !== 0) throw nodeError(c.label, `reads ${pre.by}, which pads with ${pre.value}`, 'tinytrain folds a Pad into an AveragePool with constant_value 0 only');
    if (ownPads && !countIncludePad) {
      throw nodeError(
        c.label,
        `pads of its own that it does not count (count_include_pad 0) on top of ${pre.by}, whose zeros count`,
        'tinytrain divides every window of a pool by one rule',
      );
    }
    countIncludePad = true;
  }
  const pool = { ...window, padding: pads, ...(countIncludePad && { countIncludePad: true }) };
  const out = addOp(c.ctx, { kind: 'avgpool', node: c.label, name: c.name, inputs: [x.id], activation: 'none', pool }, shape);
  return [{ kind: 'act', act: out }];
};

/**
 * MaxPool -> maxpool: a kh x kw window and strides per axis, padding per side (explicit pads or
 * auto_pad), each side less than the window. ONNX ignores padded positions, as maxpool
 * does. Refused: dilations, ceil_mode 1, storage_order and the Indices output (tinytrain
 * keeps no argmax tensor for the model).
 */
const maxPool: Handler = (c) => {
  c.attrs.only(['auto_pad', 'ceil_mode', 'dilations', 'kernel_shape', 'pads', 'storage_order', 'strides']);
  unusedOutputs(c, 1, 'tinytrain max pooling has no Indices output');
  if (c.attrs.int('ceil_mode', 0) !== 0) throw nodeError(c.label, 'ceil_mode 1 is not supported', 'tinytrain pools with floor windows: give the padding as pads or auto_pad');
  if (c.attrs.int('storage_order', 0) !== 0) throw nodeError(c.label, 'storage_order 1 is not supported', 'tinytrain has no Indices output, so no storage order');
  const { x, pre, window, pads, shape } = poolWindow(c, 'max pooling');
  // Padded positions are never the max in tinytrain's maxpool: a Pad folds when its value never is either.
  if (pre && !(pre.value <= -3.4e38 || (pre.value === 0 && nonNegative(c, x.id)))) {
    throw nodeError(
      c.label,
      `reads ${pre.by}, which pads with ${pre.value}${pre.value === 0 ? ' an input that may be negative' : ''}`,
      'tinytrain folds a Pad into a MaxPool when its value is -inf, or 0 on the output of a ReLU (never above a window of inputs >= 0)',
    );
  }
  const out = addOp(
    c.ctx,
    { kind: 'maxpool', node: c.label, name: c.name, inputs: [x.id], activation: 'none', pool: { ...window, padding: maxpoolPadding(pads, x, window) } },
    shape,
  );
  return [{ kind: 'act', act: out }];
};

const globalAveragePool: Handler = (c) => {
  c.attrs.only([]);
  const x = mapInput(c, 0);
  return [{ kind: 'act', act: addOp(c.ctx, { kind: 'globalavgpool', node: c.label, name: c.name, inputs: [x.id], activation: 'none' }, mapOf(x, x.c, 1, 1)) }];
};

/** Flatten, Reshape, Squeeze, Unsqueeze on an activation: only as a flatten (or a no-op). */
function reshapeAct(c: NodeCall, x: number, dims: number[]): Value[] {
  return [{ kind: 'act', act: reinterpret(c.ctx, c.label, c.name, x, dims) }];
}

const flatten: Handler = (c) => {
  c.attrs.only(['axis']);
  const v = c.inputs[0];
  const dimsOf = (d: number[]): number[] => {
    let axis = c.attrs.int('axis', 1);
    if (axis < 0) axis += d.length;
    if (axis < 0 || axis > d.length) throw nodeError(c.label, `axis ${c.attrs.int('axis', 1)} is out of range for rank ${d.length}`);
    const prod = (a: number[]): number => a.reduce((p, q) => p * q, 1);
    return [prod(d.slice(0, axis)), prod(d.slice(axis))];
  };
  if (v?.kind === 'const') return [{ kind: 'const', t: { ...v.t, dims: dimsOf(v.t.dims) } }];
  const x = inputAct(c, 0);
  return reshapeAct(c, x, dimsOf(onnxDims(actShape(c, x))));
};

/** Reshape's target dims from its shape input (0 copies, -1 infers). */
function reshapeDims(c: NodeCall, from: number[], shape: ConstTensor): number[] {
  const allowZero = c.attrs.int('allowzero', 0) !== 0;
  const total = from.reduce((p, q) => p * q, 1);
  const out = Array.from(shape.data);
  let infer = -1;
  out.forEach((d, i) => {
    if (d === 0 && !allowZero) {
      if (i >= from.length) throw nodeError(c.label, `shape [${Array.from(shape.data)}] copies dimension ${i}, the input has rank ${from.length}`);
      out[i] = from[i]!;
    } else if (d === -1) {
      if (infer >= 0) throw nodeError(c.label, `shape [${Array.from(shape.data)}] has more than one -1`);
      infer = i;
    } else if (d < 0 || !Number.isSafeInteger(d)) {
      throw nodeError(c.label, `shape [${Array.from(shape.data)}] has an invalid dimension ${d}`);
    }
  });
  const known = out.reduce((p, q, i) => (i === infer ? p : p * q), 1);
  if (infer >= 0) {
    if (known === 0 || total % known !== 0) throw nodeError(c.label, `cannot reshape ${total} elements to [${Array.from(shape.data)}]`);
    out[infer] = total / known;
  }
  if (out.reduce((p, q) => p * q, 1) !== total) throw nodeError(c.label, `cannot reshape [${from}] (${total} elements) to [${out}]`);
  return out;
}

const reshape: Handler = (c) => {
  c.attrs.only(['allowzero']);
  const shape = inputConst(c, 1, 'shape');
  if (!isIntegerType(shape.dtype) || shape.dims.length !== 1) throw nodeError(c.label, 'shape must be a 1-D integer tensor');
  const v = c.inputs[0];
  if (v?.kind === 'const') {
    const dims = reshapeDims(c, v.t.dims, shape);
    return [{ kind: 'const', t: { ...v.t, dims } }];
  }
  const x = inputAct(c, 0);
  return reshapeAct(c, x, reshapeDims(c, onnxDims(actShape(c, x)), shape));
};

function axesOf(c: NodeCall): number[] | undefined {
  if (c.version >= 13) {
    const t = optionalConst(c, 1, 'axes');
    return t ? Array.from(t.data) : undefined;
  }
  return c.attrs.ints('axes');
}

const squeeze: Handler = (c) => {
  c.attrs.only(c.version >= 13 ? [] : ['axes']);
  const axes = axesOf(c);
  const v = c.inputs[0];
  if (v?.kind === 'const') return [{ kind: 'const', t: { ...v.t, dims: squeezeDims(c.label, v.t.dims, axes) } }];
  const x = inputAct(c, 0);
  return reshapeAct(c, x, squeezeDims(c.label, onnxDims(actShape(c, x)), axes));
};

const unsqueeze: Handler = (c) => {
  c.attrs.only(c.version >= 13 ? [] : ['axes']);
  const axes = axesOf(c);
  if (!axes) throw nodeError(c.label, 'axes are missing');
  const v = c.inputs[0];
  if (v?.kind === 'const') return [{ kind: 'const', t: { ...v.t, dims: unsqueezeDims(c.label, v.t.dims, axes) } }];
  const x = inputAct(c, 0);
  return reshapeAct(c, x, unsqueezeDims(c.label, onnxDims(actShape(c, x)), axes));
};

const batchNormalization: Handler = (c) => {
  c.attrs.only(['epsilon', 'momentum', 'training_mode', 'spatial']);
  if (c.attrs.int('training_mode', 0) !== 0) throw nodeError(c.label, 'training_mode = 1 (batch statistics) is not supported', 'export the model in eval mode (model.eval())');
  if (c.attrs.int('spatial', 1) !== 1) throw nodeError(c.label, 'spatial = 0 is not supported');
  unusedOutputs(c, 1, 'running statistics only exist in training mode');
  const x = inputAct(c, 0);
  const s = actShape(c, x);
  if (s.kind === 'flat' && s.chw && s.chw.h * s.chw.w > 1) throw nodeError(c.label, 'normalises a flattened feature map per feature', 'apply BatchNormalization before flattening');
  const C = channels(s);
  const vec = (i: number, what: string): Float64Array => {
    const t = floatConst(c, i, what);
    if (t.data.length !== C) throw nodeError(c.label, `${what} has ${t.data.length} values, the input has ${C} channels`);
    return t.data;
  };
  const gamma = vec(1, 'scale'),
    beta = vec(2, 'B'),
    mean = vec(3, 'input_mean'),
    variance = vec(4, 'input_var');
  const eps = c.attrs.float('epsilon', 1e-5);
  const scale = new Float64Array(C),
    shift = new Float64Array(C);
  for (let i = 0; i < C; i++) {
    // Float32 like the ONNX reference: sqrt(var + eps) of float32 values.
    const a = gamma[i]! / Math.sqrt(Math.fround(variance[i]! + eps));
    scale[i] = a;
    shift[i] = beta[i]! - mean[i]! * a;
    if (!Number.isFinite(a) || !Number.isFinite(shift[i]!)) throw nodeError(c.label, `channel ${i} normalises to a non-finite value (var ${variance[i]}, eps ${eps})`);
  }
  const out = addOp(c.ctx, { kind: 'affine', node: c.label, name: c.name, inputs: [x], activation: 'none', affine: { scale, shift } }, s);
  return [{ kind: 'act', act: out }];
};

/**
 * Softmax/LogSoftmax are accepted only as the model's last op and only over the class
 * axis: training's loss is softmax cross-entropy on the logits, and inference applies
 * the recorded function (the spec's outputActivation). Before opset 13 the op flattens
 * the input to 2-D at `axis` (default 1); from 13 it works along `axis` (default -1).
 */
const softmax =
  (fn: 'softmax' | 'logsoftmax'): Handler =>
  (c) => {
    c.attrs.only(['axis']);
    const x = inputAct(c, 0);
    const s = actShape(c, x);
    const dims = onnxDims(s);
    const total = dims.reduce((p, q) => p * q, 1);
    let axis = c.attrs.int('axis', c.version >= 13 ? -1 : 1);
    if (axis < 0) axis += dims.length;
    if (axis < 0 || axis >= dims.length) throw nodeError(c.label, `axis ${c.attrs.int('axis', 0)} is out of range for ${shapeText(s)}`);
    const covered = c.version >= 13 ? dims[axis]! : dims.slice(axis).reduce((p, q) => p * q, 1);
    if (covered !== total) {
      throw nodeError(
        c.label,
        `normalises over ${covered} of the ${total} outputs (axis ${axis} of ${shapeText(s)})`,
        'tinytrain supports Softmax/LogSoftmax over all classes of a [1, classes] output',
      );
    }
    if (s.kind === 'map' && s.h * s.w > 1)
      throw nodeError(c.label, `is applied to a feature map ${shapeText(s)}`, 'Softmax/LogSoftmax must be the last op, on the [1, classes] logits');
    return [{ kind: 'post', fn, act: x, by: c.label }];
  };

const identity: Handler = (c) => {
  c.attrs.only([]);
  const v = c.inputs[0];
  if (!v) throw nodeError(c.label, 'input is missing');
  return [v];
};

const dropout: Handler = (c) => {
  c.attrs.only(['ratio', 'seed', 'is_test']);
  const mode = optionalConst(c, 2, 'training_mode');
  if (c.inputs[2] && (!mode || mode.data.some((v) => v !== 0))) {
    throw nodeError(
      c.label,
      'training_mode is true (or not a constant): the op is random',
      'export the model in eval mode (model.eval()); Dropout is then an identity and tinytrain drops it',
    );
  }
  unusedOutputs(c, 1, 'the dropout mask is not computed by tinytrain');
  const v = c.inputs[0];
  if (!v) throw nodeError(c.label, 'input is missing');
  c.ctx.notes.push(`${c.label}: Dropout in inference mode is an identity; dropped`);
  return [v];
};

// --- shape arithmetic on constants -----------------------------------------------------

const constant: Handler = (c) => {
  c.attrs.only(['value', 'value_float', 'value_floats', 'value_int', 'value_ints']);
  if (c.attrs.names().length !== 1) throw nodeError(c.label, 'must have exactly one value attribute');
  const t = c.attrs.tensor('value');
  if (t) return [{ kind: 'const', t }];
  if (c.attrs.has('value_float')) return [{ kind: 'const', t: { dims: [], dtype: DataType.FLOAT, data: Float64Array.of(Math.fround(c.attrs.float('value_float', 0))) } }];
  if (c.attrs.has('value_int')) return [{ kind: 'const', t: { dims: [], dtype: DataType.INT64, data: Float64Array.of(c.attrs.int('value_int', 0)) } }];
  const fs = c.attrs.floats('value_floats');
  if (fs) return [{ kind: 'const', t: { dims: [fs.length], dtype: DataType.FLOAT, data: Float64Array.from(fs, Math.fround) } }];
  const is = c.attrs.ints('value_ints') ?? [];
  return [{ kind: 'const', t: { dims: [is.length], dtype: DataType.INT64, data: Float64Array.from(is) } }];
};

const shape: Handler = (c) => {
  c.attrs.only(['start', 'end']);
  const v = c.inputs[0];
  let dims: number[];
  if (v?.kind === 'const') dims = v.t.dims;
  else dims = onnxDims(actShape(c, inputAct(c, 0)));
  const r = dims.length;
  const clampAxis = (a: number): number => Math.min(Math.max(a < 0 ? a + r : a, 0), r);
  const start = clampAxis(c.attrs.int('start', 0));
  const end = clampAxis(c.attrs.int('end', r));
  const out = dims.slice(start, Math.max(start, end));
  return [{ kind: 'const', t: { dims: [out.length], dtype: DataType.INT64, data: Float64Array.from(out) } }];
};

/** Slice: of a constant (shape arithmetic: Shape -> Slice -> Concat -> Reshape), evaluated at import; of an activation, refused. */
const slice: Handler = (c) => {
  if (c.inputs[0]?.kind !== 'const') {
    throw nodeError(c.label, 'slices a computed tensor', 'tinytrain evaluates Slice on compile-time constants only (shape arithmetic); it has no layer that slices activations');
  }
  const data = inputConst(c, 0, 'data');
  const ints = (t: ConstTensor | undefined): number[] | undefined => (t ? Array.from(t.data) : undefined);
  if (c.version < 10) {
    c.attrs.only(['starts', 'ends', 'axes']);
    return [{ kind: 'const', t: sliceConst(c.label, data, c.attrs.ints('starts') ?? [], c.attrs.ints('ends') ?? [], c.attrs.ints('axes'), undefined) }];
  }
  c.attrs.only([]);
  const starts = ints(inputConst(c, 1, 'starts'))!;
  const ends = ints(inputConst(c, 2, 'ends'))!;
  return [{ kind: 'const', t: sliceConst(c.label, data, starts, ends, ints(optionalConst(c, 3, 'axes')), ints(optionalConst(c, 4, 'steps'))) }];
};

const gather: Handler = (c) => {
  c.attrs.only(['axis']);
  return [{ kind: 'const', t: gatherConst(c.label, inputConst(c, 0, 'data'), inputConst(c, 1, 'indices'), c.attrs.int('axis', 0)) }];
};

/**
 * Concat: of constants, evaluated at compile time; of activations, the concat layer along
 * the channels (axis 1 of [1, C, H, W] maps of one height and width, or of [1, N] vectors
 * that are not flattened maps), 2 to 8 inputs (one is the identity).
 */
const concat: Handler = (c) => {
  c.attrs.only(['axis']);
  const values = c.node.input.map((_, i) => c.inputs[i]);
  if (values.every((v) => v?.kind === 'const')) {
    const parts = c.node.input.map((_, i) => inputConst(c, i, 'input'));
    return [{ kind: 'const', t: concatConsts(c.label, parts, c.attrs.int('axis', 0)) }];
  }
  if (values.some((v) => v?.kind === 'const')) {
    throw nodeError(c.label, 'joins a constant and a computed tensor', 'tinytrain concatenates computed tensors (activations) only, or constants only');
  }
  const xs = values.map((_, i) => inputAct(c, i));
  if (xs.length === 1) return [{ kind: 'act', act: xs[0]! }];
  if (xs.length > 8) throw nodeError(c.label, `joins ${xs.length} tensors`, 'tinytrain concatenates 2 to 8 tensors');
  const shapes = xs.map((x) => actShape(c, x));
  const rank = onnxDims(shapes[0]!).length;
  let axis = c.attrs.int('axis', 1);
  if (axis < 0) axis += rank;
  const hint = 'tinytrain concatenates along channels: axis 1 of [1, C, H, W] feature maps of one height and width, or of [1, N] vectors';
  if (axis !== 1) throw nodeError(c.label, `joins along axis ${c.attrs.int('axis', 1)} of ${shapeText(shapes[0]!)}`, hint);
  const first = shapes[0]!;
  let out: ActShape;
  if (first.kind === 'map') {
    if (!shapes.every((s) => s.kind === 'map' && s.h === first.h && s.w === first.w && !s.oneD === !first.oneD)) {
      throw nodeError(c.label, `joins tensors of shapes ${shapes.map(shapeText).join(', ')}`, hint);
    }
    out = mapOf(
      { oneD: first.oneD === true },
      shapes.reduce((n, s) => n + channels(s), 0),
      first.h,
      first.w,
    );
  } else {
    const ours = (s: ActShape) => s.kind === 'flat' && (!s.chw || s.chw.h * s.chw.w === 1);
    if (!shapes.every(ours)) throw nodeError(c.label, `joins tensors of shapes ${shapes.map(shapeText).join(', ')}, flattened feature maps among them`, hint);
    out = { kind: 'flat', n: shapes.reduce((n, s) => n + channels(s), 0), chw: null };
  }
  return [{ kind: 'act', act: addOp(c.ctx, { kind: 'concat', node: c.label, name: c.name, inputs: xs, activation: 'none' }, out) }];
};

const cast: Handler = (c) => {
  c.attrs.only(['to', 'saturate']);
  const v = c.inputs[0];
  if (v?.kind !== 'const') {
    throw nodeError(c.label, 'Cast of an activation is not supported', 'tinytrain computes in its own number formats; Cast is evaluated only on compile-time constants');
  }
  return [{ kind: 'const', t: castConst(c.label, v.t, c.attrs.int('to', 0)) }];
};

export const HANDLERS: Record<string, Handler> = {
  Conv: conv,
  Gemm: gemm,
  MatMul: matmul,
  Relu: relu,
  Clip: clip,
  Add: add,
  AveragePool: averagePool,
  MaxPool: maxPool,
  Sigmoid: sigmoid,
  HardSigmoid: hardSigmoid,
  HardSwish: hardSwish,
  LeakyRelu: leakyRelu,
  PRelu: prelu,
  Mul: mul,
  Sub: sub,
  Div: div,
  GlobalAveragePool: globalAveragePool,
  Flatten: flatten,
  Reshape: reshape,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  BatchNormalization: batchNormalization,
  Softmax: softmax('softmax'),
  LogSoftmax: softmax('logsoftmax'),
  Identity: identity,
  Dropout: dropout,
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
  Constant: constant,
  Shape: shape,
  Gather: gather,
  Slice: slice,
  Concat: concat,
  Cast: cast,
  Pad: pad,
};
