/**
 * Small TFLite networks for the tests, described once and written two ways, as the TFLite
 * converter would write them:
 *
 *  - float: float32 weights and activations;
 *  - int8: every activation int8 with the (scale, zero point) that covers its float range
 *    (measured by the interpreter on the float model), weights symmetric int8 (conv and
 *    depthwise per output channel, fully-connected per tensor), biases int32 at
 *    s_in * s_w[c]; QUANTIZE/DEQUANTIZE at the edges (`io: 'float'`) or int8 input and
 *    output (`io: 'int8'`). Pools, reshapes and standalone ReLUs keep their input's
 *    quantisation and an int8 SOFTMAX or LOGISTIC outputs at (1/256, -128), as TFLite requires.
 *
 * Layouts are TFLite's: NHWC activations, OHWI conv filters, 1HWC depthwise filters,
 * [units, inputs] fully-connected weights.
 */
import { Rng } from '../../compiler/ir/rng.js';
import {
  ADD_OPTIONS,
  BuiltinOptions,
  CONCATENATION_OPTIONS,
  CONV_2D_OPTIONS,
  DEPTHWISE_CONV_2D_OPTIONS,
  FULLY_CONNECTED_OPTIONS,
  LEAKY_RELU_OPTIONS,
  MUL_OPTIONS,
  Op,
  Padding,
  POOL_2D_OPTIONS,
  REDUCER_OPTIONS,
  SOFTMAX_OPTIONS,
} from '../../compiler/frontend/tflite/schema.js';
import { FLOAT32, INT32, INT8, f32Bytes, i32Bytes, i8Bytes, type Field, type ModelDef, type OpDef, type QuantDef, type TensorDef } from './tflite.js';

export type Act = 'none' | 'relu' | 'relu6';
const ACT_CODE: Record<Act, number> = { none: 0, relu: 1, relu6: 3 };

export type NetLayer =
  | { op: 'conv'; name: string; filters: number; k: number | [number, number]; stride?: number | [number, number]; padding?: 'same' | 'valid'; act?: Act }
  | { op: 'dw'; name: string; k: number | [number, number]; stride?: number | [number, number]; padding?: 'same' | 'valid'; act?: Act; multiplier?: number }
  | { op: 'fc'; name: string; units: number; act?: Act }
  | { op: 'add'; name: string; from: string; act?: Act }
  /** MUL of the previous tensor by `from` (either may be [1, 1, 1, C]: the output has the larger shape). */
  | { op: 'mul'; name: string; from: string; act?: Act }
  /** CONCATENATION of the previous tensor and `from` along channels; int8: every input on the output's grid, as TFLite requires. */
  | { op: 'concat'; name: string; from: string[] }
  /** A window [FH, FW] per axis or one side for both; strides likewise (default: the window). */
  | { op: 'avgpool'; name: string; size: number | [number, number]; stride?: number | [number, number]; padding?: 'same' | 'valid'; act?: Act }
  | { op: 'maxpool'; name: string; size: number | [number, number]; stride?: number | [number, number]; padding?: 'same' | 'valid'; act?: Act }
  | { op: 'mean'; name: string; keepDims: boolean }
  | { op: 'leakyrelu'; name: string; alpha: number }
  /** MAXIMUM with one constant value (int8: on the input's grid, as TFLite's int8 kernel requires of both operands and the output). */
  | { op: 'maximum'; name: string; value: number }
  /** PAD of `extra` zero channels after the input's (BlazeFace's shortcuts into a wider block); int8 keeps the input's grid, as the converter writes it. */
  | { op: 'padchannels'; name: string; extra: number }
  /** PRELU with a constant alpha of `shape` (e.g. [1, 1, C] or [C]); int8: alpha int8 per tensor, asymmetric (its own scale and zero point). */
  | { op: 'prelu'; name: string; alpha: number[]; shape: number[] }
  | { op: 'reshape' | 'squeeze' | 'relu' | 'relu6' | 'softmax' | 'logistic' | 'hardswish'; name: string };

export interface NetDef {
  name: string;
  /** [H, W, C] of the NHWC input (batch 1), or [N] for a vector. */
  input: number[];
  layers: NetLayer[];
  seed: number;
}

type Ranges = Record<string, [number, number]>;
export type NetMode = { kind: 'float' } | { kind: 'int8'; ranges: Ranges; io: 'float' | 'int8' };

interface Built {
  tensor: number;
  shape: number[];
}

/** (scale, zero point) covering [lo, hi] and 0, as the TFLite converter chooses them. */
export function actQuantOf(r: [number, number]): QuantDef {
  const lo = Math.min(r[0], 0),
    hi = Math.max(r[1], 0, lo + 1e-6);
  const scale = Math.fround((hi - lo) / 255);
  const zp = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
  return { scale: [scale], zeroPoint: [zp] };
}

const sameOrValid = (p: 'same' | 'valid' | undefined): number => (p === 'valid' ? Padding.VALID : Padding.SAME);

/** Output size of a window: TFLite's SAME (ceil) or VALID rule. */
function windowOut(size: number, k: number, s: number, p: 'same' | 'valid' | undefined): number {
  return p === 'valid' ? Math.floor((size - k) / s) + 1 : Math.ceil(size / s);
}

class NetWriter {
  readonly tensors: TensorDef[] = [];
  readonly ops: OpDef[] = [];
  private readonly rng: Rng;
  private readonly byName = new Map<string, Built>();
  /** int8: the quantisation each concatenated tensor takes, the concat's (the union of their ranges). */
  private readonly joined = new Map<string, QuantDef>();

  constructor(
    private readonly net: NetDef,
    private readonly mode: NetMode,
  ) {
    this.rng = new Rng(net.seed);
    if (mode.kind !== 'int8') return;
    net.layers.forEach((l, i) => {
      if (l.op !== 'concat') return;
      const names = [i === 0 ? 'input' : net.layers[i - 1]!.name, ...l.from, l.name];
      const rs = names.map((n) => mode.ranges[n] ?? [0, 1]);
      const q = actQuantOf([Math.min(...rs.map((r) => r[0])), Math.max(...rs.map((r) => r[1]))]);
      for (const n of names) this.joined.set(n, q);
    });
  }

  private get int8(): boolean {
    return this.mode.kind === 'int8';
  }

  /** An activation tensor, int8 with the quantisation of `range` (or the one given) in int8 mode. */
  act(name: string, shape: number[], quant?: QuantDef): number {
    const q = this.int8 ? (this.joined.get(name) ?? quant ?? actQuantOf((this.mode as { ranges: Ranges }).ranges[name] ?? [0, 1])) : undefined;
    this.tensors.push({ name, shape, type: this.int8 ? INT8 : FLOAT32, ...(q ? { quant: q } : {}) });
    return this.tensors.length - 1;
  }

  quantOf(tensor: number): QuantDef {
    return this.tensors[tensor]!.quant!;
  }

  constant(t: TensorDef): number {
    this.tensors.push(t);
    return this.tensors.length - 1;
  }

  /** Weights `w` (file order, output channel along `outDim` of `shape`) and bias: float, or int8/int32 at the input's scale. */
  params(name: string, shape: number[], outDim: number, w: Float32Array, bias: Float32Array, input: number, perChannel: boolean): [number, number] {
    if (!this.int8) {
      return [
        this.constant({ name: `${name}/weights`, shape, type: FLOAT32, data: f32Bytes(w) }),
        this.constant({ name: `${name}/bias`, shape: [bias.length], type: FLOAT32, data: f32Bytes(bias) }),
      ];
    }
    const cout = shape[outDim]!;
    const inner = shape.slice(outDim + 1).reduce((a, b) => a * b, 1);
    const chOf = (i: number): number => (perChannel ? Math.floor(i / inner) % cout : 0);
    const maxAbs = new Array<number>(perChannel ? cout : 1).fill(0);
    w.forEach((v, i) => (maxAbs[chOf(i)] = Math.max(maxAbs[chOf(i)]!, Math.abs(v))));
    const scale = maxAbs.map((m) => Math.fround((m || 1e-3) / 127));
    const q = Array.from(w, (v, i) => Math.max(-127, Math.min(127, Math.round(v / scale[chOf(i)]!))));
    const sIn = this.quantOf(input).scale[0]!;
    const bScale = Array.from({ length: cout }, (_, c) => Math.fround(sIn * scale[perChannel ? c : 0]!));
    const bq = Array.from(bias, (v, c) => Math.round(v / bScale[c]!));
    const wq: QuantDef = { scale, zeroPoint: scale.map(() => 0), dim: outDim };
    return [
      this.constant({ name: `${name}/weights`, shape, type: INT8, data: i8Bytes(q), quant: wq }),
      // A per-tensor weight has a per-tensor bias scale (TFLite reads a single scale into the tensor's params).
      this.constant({
        name: `${name}/bias`,
        shape: [cout],
        type: INT32,
        data: i32Bytes(bq),
        quant: perChannel ? { scale: bScale, zeroPoint: bScale.map(() => 0) } : { scale: [bScale[0]!], zeroPoint: [0] },
      }),
    ];
  }

  random(n: number, std: number): Float32Array {
    return Float32Array.from({ length: n }, () => this.rng.normal() * std);
  }

  op(code: number, inputs: number[], outputs: number[], optionsType?: number, options?: Field[]): void {
    this.ops.push({ code, inputs, outputs, ...(optionsType !== undefined ? { optionsType, options: options ?? [] } : {}) });
  }

  build(): ModelDef {
    const inShape = [1, ...this.net.input];
    let x: Built;
    let first: number;
    if (this.int8 && (this.mode as { io: string }).io === 'float') {
      first = this.constantless('input', inShape, FLOAT32);
      const q = this.act('input_q', inShape, actQuantOf((this.mode as { ranges: Ranges }).ranges.input ?? [0, 1]));
      this.op(Op.QUANTIZE, [first], [q]);
      x = { tensor: q, shape: inShape };
    } else {
      first = this.act('input', inShape);
      x = { tensor: first, shape: inShape };
    }
    this.byName.set('input', x);
    for (const l of this.net.layers) {
      x = this.layer(l, x);
      this.byName.set(l.name, x);
    }
    let out = x.tensor;
    if (this.int8 && (this.mode as { io: string }).io === 'float') {
      out = this.constantless('output', x.shape, FLOAT32);
      this.op(Op.DEQUANTIZE, [x.tensor], [out]);
    }
    return { tensors: this.tensors, ops: this.ops, inputs: [first], outputs: [out], description: this.net.name };
  }

  private constantless(name: string, shape: number[], type: number): number {
    this.tensors.push({ name, shape, type });
    return this.tensors.length - 1;
  }

  private layer(l: NetLayer, x: Built): Built {
    switch (l.op) {
      case 'conv':
      case 'dw':
        return this.conv(l, x);
      case 'fc':
        return this.fullyConnected(l, x);
      case 'add':
        return this.add(l, x);
      case 'mul':
        return this.mul(l, x);
      case 'concat':
        return this.concat(l, x);
      case 'avgpool':
      case 'maxpool':
        return this.pool(l, x);
      case 'mean':
        return this.mean(l, x);
      case 'reshape':
      case 'squeeze':
        return this.reshape(l.op, l.name, x);
      case 'relu':
      case 'relu6':
        return this.unary(l.op === 'relu' ? Op.RELU : Op.RELU6, l.name, x, this.int8 ? this.quantOf(x.tensor) : undefined);
      case 'logistic':
        return this.unary(Op.LOGISTIC, l.name, x, this.int8 ? { scale: [1 / 256], zeroPoint: [-128] } : undefined);
      case 'hardswish':
        return this.unary(Op.HARD_SWISH, l.name, x, undefined);
      case 'leakyrelu':
        return this.unary(Op.LEAKY_RELU, l.name, x, undefined, BuiltinOptions.LeakyReluOptions, [[LEAKY_RELU_OPTIONS.alpha, 'float32', l.alpha]]);
      case 'maximum':
        return this.maximum(l, x);
      case 'padchannels':
        return this.padChannels(l, x);
      case 'prelu':
        return this.prelu(l, x);
      case 'softmax':
        return this.unary(Op.SOFTMAX, l.name, x, this.int8 ? { scale: [1 / 256], zeroPoint: [-128] } : undefined, BuiltinOptions.SoftmaxOptions, [
          [SOFTMAX_OPTIONS.beta, 'float32', 1],
        ]);
    }
  }

  /** [H, W, C] of a feature map (a vector [1, N] as 1 x 1 x N). */
  private static hwc(x: Built): [number, number, number] {
    return x.shape.length === 4 ? [x.shape[1]!, x.shape[2]!, x.shape[3]!] : [1, 1, x.shape[1]!];
  }

  private conv(l: Extract<NetLayer, { op: 'conv' | 'dw' }>, x: Built): Built {
    const [h, w, c] = NetWriter.hwc(x);
    const dw = l.op === 'dw';
    // a kernel [KH, KW] and strides [SH, SW] of their own per axis, or one for both
    const [kh, kw] = typeof l.k === 'number' ? [l.k, l.k] : l.k;
    const [sh, sw] = typeof l.stride === 'object' ? l.stride : [l.stride ?? 1, l.stride ?? 1];
    // a depthwise conv's depth multiplier M: M output channels per input channel
    const m = dw ? (l.multiplier ?? 1) : 1;
    const cout = dw ? c * m : l.filters;
    const shape = [1, windowOut(h, kh, sh, l.padding), windowOut(w, kw, sw, l.padding), cout];
    const wShape = dw ? [1, kh, kw, cout] : [cout, kh, kw, c];
    const weights = this.random(kh * kw * cout * (dw ? 1 : c), Math.sqrt(2 / (kh * kw * (dw ? 1 : c))));
    const [wt, bt] = this.params(l.name, wShape, dw ? 3 : 0, weights, this.random(cout, 0.1), x.tensor, true);
    const y = this.act(l.name, shape);
    const f = dw ? DEPTHWISE_CONV_2D_OPTIONS : CONV_2D_OPTIONS;
    const fields: Field[] = [
      [f.padding, 'int8', sameOrValid(l.padding)],
      [f.strideW, 'int32', sw],
      [f.strideH, 'int32', sh],
      [f.fusedActivation, 'int8', ACT_CODE[l.act ?? 'none']],
    ];
    if (dw) fields.push([DEPTHWISE_CONV_2D_OPTIONS.depthMultiplier, 'int32', m]);
    this.op(dw ? Op.DEPTHWISE_CONV_2D : Op.CONV_2D, [x.tensor, wt, bt], [y], dw ? BuiltinOptions.DepthwiseConv2DOptions : BuiltinOptions.Conv2DOptions, fields);
    return { tensor: y, shape };
  }

  private fullyConnected(l: Extract<NetLayer, { op: 'fc' }>, x: Built): Built {
    const k = x.shape.reduce((a, b) => a * b, 1);
    const [wt, bt] = this.params(l.name, [l.units, k], 0, this.random(l.units * k, Math.sqrt(2 / k)), this.random(l.units, 0.1), x.tensor, false);
    const y = this.act(l.name, [1, l.units]);
    this.op(Op.FULLY_CONNECTED, [x.tensor, wt, bt], [y], BuiltinOptions.FullyConnectedOptions, [[FULLY_CONNECTED_OPTIONS.fusedActivation, 'int8', ACT_CODE[l.act ?? 'none']]]);
    return { tensor: y, shape: [1, l.units] };
  }

  private add(l: Extract<NetLayer, { op: 'add' }>, x: Built): Built {
    const other = this.byName.get(l.from)!;
    const y = this.act(l.name, x.shape);
    this.op(Op.ADD, [x.tensor, other.tensor], [y], BuiltinOptions.AddOptions, [[ADD_OPTIONS.fusedActivation, 'int8', ACT_CODE[l.act ?? 'none']]]);
    return { tensor: y, shape: x.shape };
  }

  private mul(l: Extract<NetLayer, { op: 'mul' }>, x: Built): Built {
    const other = this.byName.get(l.from)!;
    const shape = x.shape.reduce((a, b) => a * b, 1) >= other.shape.reduce((a, b) => a * b, 1) ? x.shape : other.shape;
    const y = this.act(l.name, shape);
    this.op(Op.MUL, [x.tensor, other.tensor], [y], BuiltinOptions.MulOptions, [[MUL_OPTIONS.fusedActivation, 'int8', ACT_CODE[l.act ?? 'none']]]);
    return { tensor: y, shape };
  }

  private concat(l: Extract<NetLayer, { op: 'concat' }>, x: Built): Built {
    const parts = [x, ...l.from.map((n) => this.byName.get(n)!)];
    const shape = [...x.shape.slice(0, -1), parts.reduce((s, p) => s + p.shape[p.shape.length - 1]!, 0)];
    const y = this.act(l.name, shape);
    this.op(
      Op.CONCATENATION,
      parts.map((p) => p.tensor),
      [y],
      BuiltinOptions.ConcatenationOptions,
      [
        [CONCATENATION_OPTIONS.axis, 'int32', -1],
        [CONCATENATION_OPTIONS.fusedActivation, 'int8', 0],
      ],
    );
    return { tensor: y, shape };
  }

  private pool(l: Extract<NetLayer, { op: 'avgpool' | 'maxpool' }>, x: Built): Built {
    const [h, w, c] = NetWriter.hwc(x);
    // a window [FH, FW] of its own per axis (a 3x1 pool, an average over the whole map), or one side for both; strides likewise
    const [fh, fw] = typeof l.size === 'number' ? [l.size, l.size] : l.size;
    const [sh, sw] = l.stride === undefined ? [fh, fw] : typeof l.stride === 'number' ? [l.stride, l.stride] : l.stride;
    const padding = l.padding ?? 'valid';
    const shape = [1, windowOut(h, fh, sh, padding), windowOut(w, fw, sw, padding), c];
    const y = this.act(l.name, shape, this.int8 ? this.quantOf(x.tensor) : undefined);
    this.op(l.op === 'maxpool' ? Op.MAX_POOL_2D : Op.AVERAGE_POOL_2D, [x.tensor], [y], BuiltinOptions.Pool2DOptions, [
      [POOL_2D_OPTIONS.padding, 'int8', sameOrValid(padding)],
      [POOL_2D_OPTIONS.strideW, 'int32', sw],
      [POOL_2D_OPTIONS.strideH, 'int32', sh],
      [POOL_2D_OPTIONS.filterWidth, 'int32', fw],
      [POOL_2D_OPTIONS.filterHeight, 'int32', fh],
      [POOL_2D_OPTIONS.fusedActivation, 'int8', ACT_CODE[l.act ?? 'none']],
    ]);
    return { tensor: y, shape };
  }

  private mean(l: Extract<NetLayer, { op: 'mean' }>, x: Built): Built {
    const c = NetWriter.hwc(x)[2];
    const axes = this.constant({ name: `${l.name}/axes`, shape: [2], type: INT32, data: i32Bytes([1, 2]) });
    const shape = l.keepDims ? [1, 1, 1, c] : [1, c];
    const y = this.act(l.name, shape);
    this.op(Op.MEAN, [x.tensor, axes], [y], BuiltinOptions.ReducerOptions, [[REDUCER_OPTIONS.keepDims, 'bool', l.keepDims]]);
    return { tensor: y, shape };
  }

  private reshape(op: 'reshape' | 'squeeze', name: string, x: Built): Built {
    const n = x.shape.reduce((a, b) => a * b, 1);
    const y = this.act(name, [1, n], this.int8 ? this.quantOf(x.tensor) : undefined);
    if (op === 'reshape') this.op(Op.RESHAPE, [x.tensor, this.constant({ name: `${name}/shape`, shape: [2], type: INT32, data: i32Bytes([-1, n]) })], [y]);
    else this.op(Op.SQUEEZE, [x.tensor], [y]);
    return { tensor: y, shape: [1, n] };
  }

  private maximum(l: Extract<NetLayer, { op: 'maximum' }>, x: Built): Built {
    const q = this.int8 ? this.quantOf(x.tensor) : undefined;
    const c = q
      ? this.constant({ name: `${l.name}/y`, shape: [], type: INT8, data: i8Bytes([Math.max(-128, Math.min(127, Math.round(l.value / q.scale[0]!) + q.zeroPoint[0]!))]), quant: q })
      : this.constant({ name: `${l.name}/y`, shape: [], type: FLOAT32, data: f32Bytes([l.value]) });
    const y = this.act(l.name, x.shape, q);
    this.op(Op.MAXIMUM, [x.tensor, c], [y]);
    return { tensor: y, shape: x.shape };
  }

  private padChannels(l: Extract<NetLayer, { op: 'padchannels' }>, x: Built): Built {
    const shape = [...x.shape.slice(0, -1), x.shape[x.shape.length - 1]! + l.extra];
    const pads = this.constant({ name: `${l.name}/paddings`, shape: [4, 2], type: INT32, data: i32Bytes([0, 0, 0, 0, 0, 0, 0, l.extra]) });
    const y = this.act(l.name, shape, this.int8 ? this.quantOf(x.tensor) : undefined);
    this.op(Op.PAD, [x.tensor, pads], [y]);
    return { tensor: y, shape };
  }

  private prelu(l: Extract<NetLayer, { op: 'prelu' }>, x: Built): Built {
    let alpha: number;
    if (!this.int8) {
      alpha = this.constant({ name: `${l.name}/alpha`, shape: l.shape, type: FLOAT32, data: f32Bytes(Float32Array.from(l.alpha)) });
    } else {
      // The slopes' range with 0 in it, on 255 steps (actQuantOf's rule, as for an activation).
      const q = actQuantOf([Math.min(...l.alpha), Math.max(...l.alpha)]);
      const ints = l.alpha.map((a) => Math.max(-128, Math.min(127, Math.round(a / q.scale[0]!) + q.zeroPoint[0]!)));
      alpha = this.constant({ name: `${l.name}/alpha`, shape: l.shape, type: INT8, data: i8Bytes(ints), quant: q });
    }
    const y = this.act(l.name, x.shape);
    this.op(Op.PRELU, [x.tensor, alpha], [y]);
    return { tensor: y, shape: x.shape };
  }

  private unary(code: number, name: string, x: Built, quant: QuantDef | undefined, optionsType?: number, options?: Field[]): Built {
    const y = this.act(name, x.shape, quant);
    this.op(code, [x.tensor], [y], optionsType, options);
    return { tensor: y, shape: x.shape };
  }
}

export function netModel(net: NetDef, mode: NetMode): ModelDef {
  return new NetWriter(net, mode).build();
}

/** The tensor that holds the logits: the last layer before a final softmax (or the last layer). */
export function logitsName(net: NetDef): string {
  const layers = net.layers.filter((l) => l.op !== 'softmax');
  return layers[layers.length - 1]!.name;
}
