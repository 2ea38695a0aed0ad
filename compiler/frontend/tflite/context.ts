/**
 * The importer's state while it walks a TFLite subgraph, and what every operator handler
 * shares: reading its operands, refusing with a message that names the operator, and
 * producing an activation.
 *
 * The working form is the ONNX importer's (compiler/frontend/onnx/ir.ts): activations and
 * IrOps that map one-to-one onto tinytrain layers, so the same fusion passes (fold.ts) and
 * the same ModelSpec emitter (emit.ts) serve both frontends. TFLite tensors are NHWC, which
 * is tinytrain's HWC at batch 1: no activation is ever transposed.
 */
import type { Pads } from '../../ops/padding.js';
import { TinytrainError } from '../../errors.js';
import { LIMITS } from '../../ir/limits.js';
import { addOp, type ImportContext, type IrOp, type MapShape } from '../onnx/ir.js';
import type { Operator, SubGraph, Tensor, TfliteModel } from './model.js';
import { tensorTypeName, TensorType } from './schema.js';
import { builtinName } from './operator-names.js';

/** What a tensor index is bound to while the importer walks the operators. */
export type Value =
  /** A tensor the device computes (float32, or int8 with the quantisation on ctx.acts[act]). */
  | { kind: 'act'; act: number }
  /** A tensor with data in the file (directly, or seen through a DEQUANTIZE: `tensor` holds the data). */
  | { kind: 'const'; tensor: number }
  /** The output of the final SOFTMAX: inference-only post-processing of `act`. */
  | { kind: 'post'; fn: 'softmax'; act: number; by: string }
  /**
   * A PAD/PADV2 output on H/W of map `act` (ops/pad.ts): only a conv or pool may read it,
   * folding the pads into its window. `value`: the padding as a real number.
   */
  | { kind: 'padded'; act: number; pads: Pads; value: number; by: string }
  /**
   * Shape arithmetic (ops/shape-arithmetic.ts): a tensor computed from static shapes and
   * constants alone (SHAPE, then STRIDED_SLICE / PACK of it), as converters write a
   * RESHAPE's target. Only a RESHAPE's shape operand may read it: every shape in the file is
   * static, so RESHAPE goes by its declared output shape and never needs the value.
   */
  | { kind: 'shape'; by: string };

export interface TfliteContext extends ImportContext {
  where: string;
  model: TfliteModel;
  graph: SubGraph;
  env: Map<number, Value>;
  /** Float parameters read so far, held to LIMITS.maxParameters before each weight is read. */
  parameters: number;
  /** The output tensor trained (the model's only one, or the one --model-output names). */
  output: number;
}

export interface OpCall {
  ctx: TfliteContext;
  op: Operator;
  /** "operator #3 (CONV_2D)": how messages name it. */
  label: string;
}

export function operatorLabel(op: Operator): string {
  const code = op.code;
  if (code.builtin === 32 && code.custom) return `operator #${op.index} (CUSTOM '${code.custom}')`;
  return `operator #${op.index} (${builtinName(code.builtin)})`;
}

export function opError(c: OpCall, what: string, hint?: string): TinytrainError {
  return new TinytrainError(`${c.ctx.where}: ${c.label}: ${what}`, hint);
}

export function tensorText(t: Tensor): string {
  return t.name ? `'${t.name.split(';')[0]}'` : `tensor ${t.index}`;
}

/** Input `k`'s tensor, or null when the operator omits that optional input (index -1 or missing). */
export function inputTensor(c: OpCall, k: number): Tensor | null {
  const i = c.op.inputs[k];
  return i === undefined || i === -1 ? null : c.ctx.graph.tensor(i);
}

export function outputTensor(c: OpCall, k = 0): Tensor {
  const i = c.op.outputs[k];
  if (i === undefined || i < 0) throw opError(c, `output ${k} is missing`);
  return c.ctx.graph.tensor(i);
}

function valueOf(c: OpCall, t: Tensor): Value {
  const v = c.ctx.env.get(t.index);
  if (v) return v;
  if (c.ctx.model.bufferData(t.buffer, `tensor ${t.index}`).length > 0) return { kind: 'const', tensor: t.index };
  throw opError(c, `input ${tensorText(t)} is neither a constant nor the output of an earlier operator`, 'operators must be in execution order');
}

/** Input `k` as whatever it is bound to (an activation, a constant, or the final SOFTMAX's output). */
export function valueInput(c: OpCall, k: number): { value: Value; tensor: Tensor } {
  const t = inputTensor(c, k);
  if (!t) throw opError(c, `input ${k} is missing`);
  return { value: valueOf(c, t), tensor: t };
}

export interface ActInput {
  act: number;
  shape: MapShape;
  tensor: Tensor;
}

/** Input `k`, which must be an activation. */
export function actInput(c: OpCall, k: number): ActInput {
  const t = inputTensor(c, k);
  if (!t) throw opError(c, `input ${k} is missing`);
  const v = valueOf(c, t);
  if (v.kind === 'post') throw opError(c, `reads the output of ${v.by}`, 'tinytrain applies SOFTMAX only as the last operator (to the logits)');
  if (v.kind === 'padded')
    throw opError(c, `reads the output of ${v.by}`, 'tinytrain folds PAD/PADV2 on height and width into the CONV_2D, DEPTHWISE_CONV_2D or pool that reads it');
  if (v.kind === 'const') throw opError(c, `input ${k} (${tensorText(t)}) is a constant; tinytrain computes this operator on activations only`);
  if (v.kind === 'shape')
    throw opError(c, `reads the shape arithmetic of ${v.by}`, 'tinytrain takes SHAPE (and STRIDED_SLICE / PACK of it) only as the shape operand of a RESHAPE');
  return { act: v.act, shape: c.ctx.acts[v.act]!.shape as MapShape, tensor: t };
}

/** Input 0 of a conv or pool: an activation, and the PAD it reads through (folded into its window), if any. */
export function windowInput(c: OpCall): ActInput & { pre?: Extract<Value, { kind: 'padded' }> } {
  const t = inputTensor(c, 0);
  const v = t ? valueOf(c, t) : undefined;
  if (!t || v?.kind !== 'padded') return actInput(c, 0);
  return { act: v.act, shape: c.ctx.acts[v.act]!.shape as MapShape, tensor: t, pre: v };
}

/** Input `k`, which must be a constant (null when omitted): the tensor that holds its data. */
export function constInput(c: OpCall, k: number, what: string): Tensor | null {
  const t = inputTensor(c, k);
  if (!t) return null;
  const v = valueOf(c, t);
  if (v.kind === 'shape')
    throw opError(
      c,
      `its ${what} (${tensorText(t)}) is shape arithmetic of ${v.by}`,
      'tinytrain takes SHAPE (and STRIDED_SLICE / PACK of it) only as the shape operand of a RESHAPE',
    );
  if (v.kind !== 'const') throw opError(c, `its ${what} (${tensorText(t)}) is computed at run time; tinytrain needs it constant`);
  return c.ctx.graph.tensor(v.tensor);
}

/** A declared activation shape as tinytrain's [H, W, C]: [1,H,W,C], [1,N] or [N]. */
export function hwcOf(shape: number[]): [number, number, number] | null {
  if (shape.length === 4 && shape[0] === 1) return [shape[1]!, shape[2]!, shape[3]!];
  if (shape.length === 2 && shape[0] === 1) return [1, 1, shape[1]!];
  if (shape.length === 1) return [1, 1, shape[0]!];
  return null;
}

/** Per-tensor int8 quantisation of an activation tensor, or null for float32; anything else is refused. */
export function actQuant(c: OpCall | null, t: Tensor, where: string): { scale: number; zp: number } | null {
  const fail = (what: string, hint?: string): TinytrainError => (c ? opError(c, what, hint) : new TinytrainError(`${where}: ${what}`, hint));
  if (t.type === TensorType.FLOAT32) return null;
  if (t.type !== TensorType.INT8) {
    throw fail(`tensor ${tensorText(t)} is ${tensorTypeName(t.type)}`, 'tinytrain computes float32 models and int8 models (per-tensor int8 activations)');
  }
  const q = t.quant;
  if (!q || q.scale.length === 0) throw fail(`int8 tensor ${tensorText(t)} has no quantisation parameters`);
  if (q.detailsType !== 0) throw fail(`tensor ${tensorText(t)} uses custom or blockwise quantisation`, 'tinytrain reads affine (scale, zero point) quantisation');
  if (q.scale.length !== 1) throw fail(`activation ${tensorText(t)} is quantised per channel (${q.scale.length} scales)`, 'tinytrain quantises activations per tensor');
  const scale = q.scale[0]!;
  const zp = q.zeroPoint[0] ?? 0;
  if (!(scale >= LIMITS.minScale && scale <= LIMITS.maxAbsReal)) throw fail(`tensor ${tensorText(t)} has the scale ${scale}`, 'scales must be positive, finite float32 normals');
  if (!Number.isInteger(zp) || zp < -128 || zp > 127) throw fail(`tensor ${tensorText(t)} has the zero point ${zp}, outside int8`);
  return { scale, zp };
}

/** Records that activation `act` is int8 with this quantisation; a second, different one is refused. */
export function setActQuant(c: OpCall, act: number, q: { scale: number; zp: number }): void {
  const a = c.ctx.acts[act]!;
  if (a.quant && (a.quant.scale !== q.scale || a.quant.zp !== q.zp)) {
    throw opError(
      c,
      `requantises a tensor from (${a.quant.scale}, ${a.quant.zp}) to (${q.scale}, ${q.zp})`,
      'tinytrain keeps one (scale, zero point) per tensor; requantising QUANTIZE operators are not supported',
    );
  }
  a.quant = { scale: q.scale, zp: q.zp, by: c.label };
}

/** Inputs and output of an arithmetic operator must be all float32 or all int8. */
export function checkSameDomain(c: OpCall, inputs: Tensor[], output: Tensor): void {
  const isInt8 = (t: Tensor): boolean => actQuant(c, t, '') !== null;
  const out = isInt8(output);
  for (const t of inputs) {
    if (isInt8(t) !== out) {
      throw opError(
        c,
        `mixes ${tensorTypeName(t.type)} input ${tensorText(t)} with ${tensorTypeName(output.type)} output ${tensorText(output)}`,
        'tinytrain imports float32 models and fully int8-quantised models (QUANTIZE/DEQUANTIZE only at the edges)',
      );
    }
  }
}

/** A tensor is written once: by one operator, and never the model input. */
function checkUnwritten(c: OpCall, out: Tensor): void {
  if (c.ctx.env.has(out.index)) throw opError(c, `writes ${tensorText(out)}, which the model input or an earlier operator already holds`, 'every tensor must be written once');
}

/** Binds output tensor `out` to `value` (an activation or constant seen through this operator). */
export function bind(c: OpCall, out: Tensor, value: Value): void {
  checkUnwritten(c, out);
  c.ctx.env.set(out.index, value);
}

/**
 * Appends the IrOp for this operator and binds its output tensor to the new activation,
 * after checking that the shape the file declares is the one the op computes, and
 * recording the output's int8 quantisation.
 */
export function produce(c: OpCall, op: Omit<IrOp, 'output' | 'node' | 'name'>, shape: MapShape, out = outputTensor(c)): number {
  checkUnwritten(c, out);
  const declared = hwcOf(out.shape);
  if (!declared || declared[0] !== shape.h || declared[1] !== shape.w || declared[2] !== shape.c) {
    throw opError(c, `output ${tensorText(out)} is declared [${out.shape}] but the operator computes [1, ${shape.h}, ${shape.w}, ${shape.c}]`, 'the model file is inconsistent');
  }
  const act = addOp(c.ctx, { ...op, node: c.label, name: layerName(out, c.op.index) }, shape);
  const q = actQuant(c, out, '');
  if (q) setActQuant(c, act, q);
  bind(c, out, { kind: 'act', act });
  return act;
}

/** Converted models name tensors "a/b/Relu;a/b/BiasAdd;...": the first name is the layer's. */
function layerName(t: Tensor, index: number): string {
  return t.name.split(';')[0] || `op_${index}`;
}
