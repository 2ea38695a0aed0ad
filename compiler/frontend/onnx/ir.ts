/**
 * The importer's working form between ONNX nodes and tinytrain layers.
 *
 * Every ONNX tensor name is bound to a Value: a compile-time constant, an activation
 * (a tensor the device computes, in tinytrain's HWC layout), or one of two wrappers that
 * only exist between a QuantizeLinear and its DequantizeLinear or after the final
 * Softmax. Activations are produced by IrOps, which map one-to-one onto tinytrain layers
 * except 'affine' (a per-channel x*a+b from BatchNormalization, or an Add, Sub, Mul or Div by a constant),
 * which fold.ts merges into the producing conv/dense (or turns into a 1x1 depthwise conv).
 */
import { TinytrainError } from '../../errors.js';
import type { Pads } from '../../ops/padding.js';
import type { ChwOrder } from './layout.js';
import type { ConstTensor } from './tensor.js';

export type Activation = 'none' | 'relu' | 'relu6';

/**
 * A feature map [1, C, H, W] in ONNX = [H, W, C] in tinytrain; `oneD`: a sequence [1, C, L]
 * in ONNX (1-D Conv and pools), which tinytrain holds as a map of one row, h = 1, w = L.
 */
export interface MapShape {
  kind: 'map';
  c: number;
  h: number;
  w: number;
  oneD?: true;
}
/** A vector [1, N] in ONNX = [1, 1, N] in tinytrain; `chw` set when it is a flattened map whose ONNX order differs from ours. */
export interface FlatShape {
  kind: 'flat';
  n: number;
  chw: ChwOrder | null;
}
export type ActShape = MapShape | FlatShape;

/** Per-tensor int8 quantisation taken from the model's QuantizeLinear/DequantizeLinear (uint8 already shifted to int8). */
export interface ActQuant {
  scale: number;
  zp: number;
  by: string;
}

export interface Act {
  id: number;
  shape: ActShape;
  /** Index of the producing IrOp; -1 for the model input. */
  producer: number;
  quant?: ActQuant;
}

/** Where a constant came from when it was produced by DequantizeLinear. */
export interface ConstQuant {
  /** Integer values (ONNX order), their type, and the scale/zero point per `axis` (null: per tensor). */
  ints: Float64Array;
  dtype: number;
  scale: Float64Array;
  zp: Float64Array;
  axis: number | null;
  by: string;
}

export type Value =
  | { kind: 'act'; act: number }
  | { kind: 'const'; t: ConstTensor; q?: ConstQuant }
  /** The output of the final Softmax/LogSoftmax: inference-only post-processing of `act`. */
  | { kind: 'post'; fn: 'softmax' | 'logsoftmax'; act: number; by: string }
  /** QuantizeLinear's integer output on an activation: only DequantizeLinear may read it. */
  | { kind: 'quantized'; of: Value; scale: number; zpRaw: number; dtype: number; by: string }
  /** A constant Pad's output on H/W of map `act`: only a Conv, MaxPool or AveragePool may read it, folding the pads into its window. */
  | { kind: 'padded'; act: number; pads: Pads; value: number; by: string };

/** The table activations (compiler/ops/table-activation.ts). */
export type IrFunction = 'sigmoid' | 'hardsigmoid' | 'hardswish' | 'silu' | 'leakyrelu' | 'clampmin';
export type IrKind =
  'conv2d' | 'dense' | 'add' | 'mul' | 'concat' | 'avgpool' | 'maxpool' | 'globalavgpool' | 'relu' | 'relu6' | 'flatten' | 'affine' | 'prelu' | 'padchannels' | IrFunction;

export interface IrOp {
  kind: IrKind;
  /** The ONNX node as users know it: "'name' (OpType)". */
  node: string;
  /** Candidate layer name. */
  name: string;
  inputs: number[];
  output: number;
  activation: Activation;
  /** pads per side [top, left, bottom, right] (compiler/ops/padding.ts). */
  conv?: { kh: number; kw: number; sh: number; sw: number; pads: Pads; depthwise: boolean; filters: number };
  units?: number;
  /**
   * A pool's ph x pw window and its strides per axis; padding as the layers take it ('same'
   * as TF: ceil(H / sh) x ceil(W / sw) outputs, the smaller half of each axis's padding
   * before; or per side); countIncludePad: an avgpool dividing by the whole window (ONNX
   * count_include_pad 1).
   */
  pool?: { ph: number; pw: number; sh: number; sw: number; padding?: 'valid' | 'same' | Pads; countIncludePad?: boolean };
  /** Float parameters in tinytrain's layouts. */
  weight?: Float32Array;
  bias?: Float32Array;
  /** Per-output-channel weight scales from a QDQ model (weights are then exact multiples of them). */
  wScales?: Float64Array;
  /** leakyrelu's alpha; hardsigmoid's alpha and beta (y = clamp(alpha x + beta, 0, 1)). */
  fn?: { alpha?: number; beta?: number };
  /** padchannels: how many zero channels follow the input's (compiler/ops/pad-channels.ts). */
  padAfter?: number;
  /** prelu's slopes, as its layer takes them (compiler/frontend/prelu-slopes.ts): one, one per channel, or one per element (HWC). */
  slopes?: number[];
  /**
   * A sigmoid or hardsigmoid whose output a Mul(x, f(x)) read, imported as one silu or
   * hardswish layer: that Mul's label and the layer (fold.ts's note when it goes).
   */
  foldedInto?: { by: string; as: IrFunction };
  /** affine only: y[c] = x[c] * scale[c] + shift[c]. */
  affine?: { scale: Float64Array; shift: Float64Array };
  /** Bias as the model stored it in int32 (QDQ), with its scale: lets emit.ts check the requantisation is exact. */
  qBias?: { ints: Float64Array; scale: Float64Array };
  removed?: boolean;
}

export interface ImportContext {
  acts: Act[];
  ops: IrOp[];
  warnings: string[];
  notes: string[];
  /** Opset of the default domain. */
  opset: number;
}

export function newAct(ctx: ImportContext, shape: ActShape, producer: number): number {
  const id = ctx.acts.length;
  ctx.acts.push({ id, shape, producer });
  return id;
}

/** Appends an op and its output activation. */
export function addOp(ctx: ImportContext, op: Omit<IrOp, 'output'>, shape: ActShape): number {
  const output = newAct(ctx, shape, ctx.ops.length);
  ctx.ops.push({ ...op, output });
  return output;
}

/** ONNX dims of an activation (batch 1). */
export function onnxDims(s: ActShape): number[] {
  if (s.kind === 'flat') return [1, s.n];
  return s.oneD ? [1, s.c, s.w] : [1, s.c, s.h, s.w];
}

export function shapeText(s: ActShape): string {
  return `[${onnxDims(s).join(', ')}]`;
}

export function sameShape(a: ActShape, b: ActShape): boolean {
  if (a.kind === 'map' && b.kind === 'map') return a.c === b.c && a.h === b.h && a.w === b.w && !a.oneD === !b.oneD;
  if (a.kind === 'flat' && b.kind === 'flat') {
    return a.n === b.n && JSON.stringify(a.chw) === JSON.stringify(b.chw);
  }
  return false;
}

/** Channels tinytrain sees (last axis of [H, W, C]). */
export function channels(s: ActShape): number {
  return s.kind === 'map' ? s.c : s.n;
}

/** An error about one node: names the op type and node, says what is supported. */
export function nodeError(node: string, what: string, hint?: string): TinytrainError {
  return new TinytrainError(`ONNX node ${node}: ${what}`, hint);
}
