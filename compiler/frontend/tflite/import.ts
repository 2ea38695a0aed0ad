/**
 * importTflite: .tflite bytes -> tinytrain ModelSpec, or a TinytrainError that names what
 * is wrong (the operator by its index and name, and what is supported). Pure: reads
 * bytes, writes nothing.
 *
 *   TfliteModel (model.ts, checked flatbuffer reads) -> schema version, operator count,
 *   every operator of the main subgraph known (the first that is not is named) -> one
 *   subgraph, one input [1,H,W,C] or [1,N] (float32, int8 or uint8), one output -> one
 *   handler per operator (ops/) -> fold/fuse and emit (the ONNX importer's, onnx/fold.ts and
 *   onnx/emit.ts) -> buildGraph check.
 */
import { TinytrainError } from '../../errors.js';
import { buildGraph } from '../../ir/graph.js';
import { LIMITS } from '../../ir/limits.js';
import type { ModelSpec } from '../../ir/model.js';
import { emitSpec, safeName } from '../onnx/emit.js';
import { foldAndFuse } from '../onnx/fold.js';
import { newAct } from '../onnx/ir.js';
import { chooseOutput } from '../outputs.js';
import { actQuant, hwcOf, operatorLabel, tensorText, type TfliteContext } from './context.js';
import { TfliteModel, type Operator, type SubGraph, type Tensor } from './model.js';
import { HANDLERS, SUPPORTED_OPS_TEXT } from './ops/index.js';
import { SCHEMA_VERSION, tensorTypeName, TensorType } from './schema.js';

export interface TfliteImportOptions {
  /** Model name (default: 'tflite-model'). */
  name?: string;
  /** Real-valued range of the input, as ModelSpec.inputRange (default: an int8 input's quantisation range, else [0, 1]). */
  inputRange?: [number, number];
  /** For a model with several outputs: the one to train, by tensor name (--model-output); operators only the others need are dropped. */
  output?: string;
}

export interface TfliteImport {
  spec: ModelSpec;
  /** Where tinytrain's int8 maths will differ from the model's; empty when none. */
  warnings: string[];
  /** What the import did: fusions, edges turned into quantisation facts, dropped operators. */
  notes: string[];
  input: { name: string; shape: number[]; type: string };
  output: { name: string; shape: number[] };
}

export function importTflite(bytes: Uint8Array, opts: TfliteImportOptions = {}, where = 'TFLite model'): TfliteImport {
  const model = new TfliteModel(bytes, where);
  const { graph, operators, output, dropped } = mainSubgraph(model, where, opts.output);
  // opset belongs to the shared ImportContext and means nothing here (only ONNX handlers read it).
  const ctx: TfliteContext = { acts: [], ops: [], warnings: [], notes: [], opset: 0, where, model, graph, env: new Map(), parameters: 0, output: output.index };
  const input = bindInput(ctx);
  if (dropped) ctx.notes.push(`${dropped} operator(s) that only the other outputs need were dropped (the model's output here is ${tensorText(output)})`);
  for (const op of operators) HANDLERS[op.code.builtin]!({ ctx, op, label: operatorLabel(op) });
  const { act, outputActivation } = resolveOutput(ctx, output);
  foldAndFuse(ctx, act);
  const shape = ctx.acts[act]!.shape;
  if (shape.kind === 'map' && shape.h * shape.w > 1) {
    throw new TinytrainError(
      `${where}: the output ${tensorText(output)} is a feature map [${output.shape}]`,
      'tinytrain trains classifiers: end the model with [1, classes] logits (MEAN or RESHAPE, then FULLY_CONNECTED)',
    );
  }
  warnFloatOps(ctx);
  const spec = emitSpec(ctx, {
    name: safeName(opts.name ?? '', 'tflite-model'),
    input: hwcOf(input.shape)!,
    inputRange: opts.inputRange ?? inputRangeOf(ctx),
    notes: notesOf(ctx, model, input),
    ...(outputActivation ? { outputActivation } : {}),
  });
  if (spec.layers.length === 0) throw new TinytrainError(`${where}: the model computes nothing`);
  buildGraph(spec); // the emitted spec must be a valid tinytrain model; its errors name the layer
  return {
    spec,
    warnings: ctx.warnings,
    notes: ctx.notes,
    input: { name: input.name, shape: input.shape, type: tensorTypeName(input.type) },
    output: { name: output.name, shape: output.shape },
  };
}

/**
 * Subgraph 0's output to train and the operators it depends on, every one of them known;
 * then the checks that concern the model as a whole.
 */
function mainSubgraph(model: TfliteModel, where: string, wanted: string | undefined): { graph: SubGraph; operators: Operator[]; output: Tensor; dropped: number } {
  if (model.version !== SCHEMA_VERSION) {
    throw new TinytrainError(
      `${where}: TFLite schema version ${model.version} is not supported`,
      `tinytrain reads schema version ${SCHEMA_VERSION} (every converter since TensorFlow 1.x writes it)`,
    );
  }
  if (model.subgraphCount === 0) throw new TinytrainError(`${where}: the model has no subgraph`);
  const graph = model.subgraph(0);
  if (graph.operatorCount > LIMITS.maxLayers) {
    throw new TinytrainError(`${where}: ${graph.operatorCount} operators, more than the limit of ${LIMITS.maxLayers}`, 'use a smaller model');
  }
  const outputs = graph.outputs.map((i) => graph.tensor(i));
  const name = chooseOutput(
    outputs.map((t) => t.name),
    wanted,
    where,
  );
  const output = outputs.find((t) => t.name === name)!;
  const all = Array.from({ length: graph.operatorCount }, (_, i) => graph.operator(i));
  const operators = liveOperators(all, output.index);
  for (const op of operators) {
    if (!HANDLERS[op.code.builtin] || op.hasOptions2) throw new TinytrainError(`${where}: ${operatorLabel(op)} is not supported`, `supported: ${SUPPORTED_OPS_TEXT}`);
  }
  if (model.subgraphCount > 1) {
    throw new TinytrainError(`${where}: the model has ${model.subgraphCount} subgraphs`, 'tinytrain imports models with one subgraph (no control flow, CALL_ONCE or WHILE bodies)');
  }
  return { graph, operators, output, dropped: all.length - operators.length };
}

/**
 * The operators `output` depends on, in file (execution) order: walked back from it. An
 * operator with no outputs acts by side effect (CALL_ONCE, ASSIGN_VARIABLE) and is kept, so
 * it is refused as itself rather than dropped.
 */
function liveOperators(all: Operator[], output: number): Operator[] {
  const needed = new Set([output]);
  const live: Operator[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    const op = all[i]!;
    if (op.outputs.length > 0 && !op.outputs.some((t) => needed.has(t))) continue;
    live.push(op);
    for (const t of op.inputs) if (t >= 0) needed.add(t);
  }
  return live.reverse();
}

/** The one input: [1, H, W, C] or [1, N], static apart from the batch, float32, int8 or uint8. */
function bindInput(ctx: TfliteContext): Tensor {
  const { graph, where } = ctx;
  if (graph.inputs.length !== 1) {
    const names = graph.inputs.map((i) => tensorText(graph.tensor(i))).join(', ');
    throw new TinytrainError(`${where}: the model has ${graph.inputs.length} inputs${names ? ` (${names})` : ''}`, 'tinytrain models take exactly one input tensor');
  }
  const t = graph.tensor(graph.inputs[0]!);
  const dynamic = (t.shapeSignature ?? []).findIndex((d, i) => i > 0 && d < 0);
  if (dynamic >= 0) {
    throw new TinytrainError(
      `${where}: input ${tensorText(t)} has a dynamic dimension ${dynamic} (shape signature [${t.shapeSignature}])`,
      'tinytrain compiles static shapes: convert with a fixed input shape (only the batch dimension may be dynamic)',
    );
  }
  if ((t.shape.length !== 4 && t.shape.length !== 2) || t.shape.some((d) => !(Number.isInteger(d) && d >= 1 && d <= LIMITS.maxTensorElements))) {
    throw new TinytrainError(`${where}: input ${tensorText(t)} has shape [${t.shape}]`, 'tinytrain takes an image [1, H, W, C] or a vector [1, N]');
  }
  if (t.shape[0] !== 1) throw new TinytrainError(`${where}: input ${tensorText(t)} has batch size ${t.shape[0]}`, 'tinytrain models take one sample: convert with batch 1');
  const [h, w, c] = hwcOf(t.shape)!;
  if (h * w * c > LIMITS.maxTensorElements) throw new TinytrainError(`${where}: input ${tensorText(t)} of shape [${t.shape}] is too large`);
  newAct(ctx, { kind: 'map', h, w, c }, -1);
  if (t.type !== TensorType.UINT8) {
    const q = actQuant(null, t, where); // float32 or int8; anything else is refused here
    if (q) ctx.acts[0]!.quant = { ...q, by: `input ${tensorText(t)}` };
  } else if (!t.quant || t.quant.scale.length !== 1) throw new TinytrainError(`${where}: uint8 input ${tensorText(t)} has no per-tensor quantisation`);
  ctx.env.set(t.index, { kind: 'act', act: 0 });
  return t;
}

function resolveOutput(ctx: TfliteContext, output: Tensor): { act: number; outputActivation?: 'softmax' } {
  const v = ctx.env.get(output.index);
  if (!v) throw new TinytrainError(`${ctx.where}: the output ${tensorText(output)} is not computed by any operator`);
  if (v.kind === 'const') throw new TinytrainError(`${ctx.where}: the output ${tensorText(output)} is a constant`, 'the output must be computed from the input');
  if (v.kind === 'shape') throw new TinytrainError(`${ctx.where}: the output ${tensorText(output)} is shape arithmetic (${v.by})`, 'the output must be computed from the input');
  if (v.kind === 'padded')
    throw new TinytrainError(
      `${ctx.where}: the output ${tensorText(output)} is the output of ${v.by}`,
      'tinytrain folds PAD/PADV2 into the conv or pool that reads it; the model must not end in one',
    );
  if (v.kind === 'act') {
    if (v.act === 0) throw new TinytrainError(`${ctx.where}: the output is the input: the model computes nothing`);
    return { act: v.act };
  }
  ctx.notes.push(`${v.by}: dropped for training (the loss applies softmax to the logits); recorded as outputActivation 'softmax' for inference`);
  return { act: v.act, outputActivation: 'softmax' };
}

/** In an int8 model, a layer the model computes in float is quantised from calibration ranges instead: say so. */
function warnFloatOps(ctx: TfliteContext): void {
  if (!ctx.acts.some((a) => a.quant)) return;
  const float = ctx.ops.filter((op) => !op.removed && !['flatten', 'relu', 'relu6'].includes(op.kind) && !ctx.acts[op.output]!.quant).map((op) => op.node);
  if (!ctx.acts[0]!.quant) float.unshift('the model input');
  if (float.length) ctx.warnings.push(`the model keeps the output of ${[...new Set(float)].join(', ')} in float; tinytrain quantises it from calibration ranges`);
}

/** An int8 input's real range is its quantisation grid; a float input is taken as [0, 1] unless told. */
function inputRangeOf(ctx: TfliteContext): [number, number] {
  const q = ctx.acts[0]!.quant;
  return q ? [(-128 - q.zp) * q.scale, (127 - q.zp) * q.scale] : [0, 1];
}

function notesOf(ctx: TfliteContext, model: TfliteModel, input: Tensor): string {
  const q = ctx.acts[0]!.quant;
  return [
    `imported from TFLite (schema version ${model.version}${model.description ? `, '${model.description.slice(0, 80)}'` : ''})`,
    q && input.type !== TensorType.FLOAT32
      ? `input ${tensorText(input)} is ${tensorTypeName(input.type)} in the model: the runtime's int8 input has scale ${q.scale}, zero point ${q.zp}`
      : '',
    ...ctx.notes,
    ...ctx.warnings.map((w) => `warning: ${w}`),
  ]
    .filter(Boolean)
    .join('\n');
}
