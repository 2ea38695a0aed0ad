/**
 * importOnnx: .onnx bytes -> tinytrain ModelSpec, or a TinytrainError that names the
 * node, its op type and what is supported. Pure: reads bytes, writes nothing.
 *
 *   decode (proto.ts) -> model checks (IR version, opsets: model-checks.ts; one float input
 *   [1,C,H,W] or [1,N], one output: graph-io.ts) -> keep only nodes the output depends on
 *   (live-nodes.ts) -> one handler per node (nodes.ts, qdq.ts; values by name: values.ts)
 *   -> fold/fuse (fold.ts) -> ModelSpec (emit.ts) -> buildGraph check.
 */
import { TinytrainError } from '../../errors.js';
import { buildGraph } from '../../ir/graph.js';
import type { ModelSpec } from '../../ir/model.js';
import { Attrs } from './attrs.js';
import { emitSpec, safeName } from './emit.js';
import { foldAndFuse } from './fold.js';
import { checkDeclaredOutput, graphIo, type GraphIo } from './graph-io.js';
import { addOp, newAct, nodeError, onnxDims, shapeText, type ActShape, type ImportContext, type Value } from './ir.js';
import { liveNodes, nodeLabel, type LiveNodes } from './live-nodes.js';
import { checkModel, defaultOpset, supportedVersion } from './model-checks.js';
import { HANDLERS } from './nodes.js';
import { decodeModel, type OnnxGraph, type OnnxModel, type OnnxNode } from './proto.js';
import { TensorValues } from './values.js';
import type { ChwOrder } from './layout.js';

export interface OnnxImportOptions {
  /** Model name (default: the graph's name). */
  name?: string;
  /** Real-valued range of the input, as ModelSpec.inputRange (default [0, 1]). */
  inputRange?: [number, number];
  /** The input's dimensions in the file's order (N,C,H,W or N,F), pinning its dynamic ones (--input-shape). */
  inputShape?: readonly number[];
  /** For a model with several outputs: the one to train, by name (--model-output); the nodes only the others need are dropped. */
  output?: string;
  /**
   * Test harnesses only: end the model with a flatten so that an output that is not
   * [1, classes] (e.g. a single conv's feature map) can still be built and read, in
   * tinytrain's H,W,C order.
   */
  appendFlatten?: boolean;
}

export interface OnnxImport {
  spec: ModelSpec;
  /** Where tinytrain's int8 maths will differ from the model's (QDQ models); empty when none. */
  warnings: string[];
  /** What the import did: folds, fusions, transposes, dropped nodes. */
  notes: string[];
  input: { name: string; dims: number[] };
  output: {
    name: string;
    /** ONNX dims of the output (batch 1). */
    dims: number[];
    /** Set when tinytrain's output is a C x H x W map stored H,W,C (only with appendFlatten). */
    chw: ChwOrder | null;
  };
}

export function importOnnx(bytes: Uint8Array, opts: OnnxImportOptions = {}, where = 'ONNX model'): OnnxImport {
  const model = decodeModel(bytes, where);
  const graph = checkModel(model, where);
  const opset = defaultOpset(model, where);
  const ctx: ImportContext = { acts: [], ops: [], warnings: [], notes: [], opset };
  const io = graphIo(graph, where, opts.inputShape, opts.output);
  newAct(ctx, io.inShape, -1);
  const live = liveNodes(graph, io);
  if (live.dropped > 0) ctx.notes.push(`${live.dropped} node(s) do not contribute to the output '${io.outputName}' and were ignored`);
  const values = new TensorValues(graph, io, live.producer, where);
  graph.node.forEach((node, i) => {
    if (live.needed.has(i)) importNode(ctx, node, i, live, values);
  });

  const result = outputActivation(ctx, values.get(io.outputName, `output '${io.outputName}'`), io.outputName, where);
  if (result.act === 0 && !opts.appendFlatten) throw new TinytrainError(`${where}: the output is the input: the model computes nothing`);
  foldAndFuse(ctx, result.act);

  const outShape = ctx.acts[result.act]!.shape;
  const out: OutputEnd = { dims: onnxDims(outShape), chw: null, activation: result.fn };
  if (opts.appendFlatten) out.chw = appendOutputFlatten(ctx, result.act, outShape, out.dims);
  else checkClassifierOutput(outShape, io.outputName, where);
  return finish(ctx, opts, model, graph, io, out, where);
}

/** Checks one node's op, resolves its inputs, runs its handler and binds its outputs by name. */
function importNode(ctx: ImportContext, node: OnnxNode, i: number, live: LiveNodes, values: TensorValues): void {
  const label = nodeLabel(node, i);
  const op = node.op_type ?? '';
  const version = supportedVersion(node, label, ctx.opset);
  const inputs = node.input.map((n) => (n ? values.get(n, label) : undefined));
  const attrs = new Attrs(node, label);
  const outs = HANDLERS[op]!({
    ctx,
    node,
    label,
    version,
    inputs,
    attrs,
    name: node.name || node.output[0] || `${op}_${i}`,
    outputUsed: (k) => live.consumed.has(node.output[k] ?? ''),
  });
  node.output.forEach((o, k) => {
    if (!o) return;
    const v = outs[k];
    if (v) values.set(o, v);
    else if (live.consumed.has(o)) throw nodeError(label, `output ${k} ('${o}') is used but tinytrain does not compute it`);
  });
}

/** The activation the model's output names; a final Softmax/LogSoftmax is kept as `fn` (inference only). */
function outputActivation(ctx: ImportContext, result: Value, outputName: string, where: string): { act: number; fn?: 'softmax' | 'logsoftmax' } {
  if (result.kind === 'act') return { act: result.act };
  if (result.kind === 'post') {
    ctx.notes.push(`${result.by}: dropped for training (the loss applies softmax to the logits); recorded as outputActivation '${result.fn}' for inference`);
    return { act: result.act, fn: result.fn };
  }
  if (result.kind === 'const') throw new TinytrainError(`${where}: the output '${outputName}' is a constant`, 'the output must be computed from the input');
  if (result.kind === 'padded')
    throw new TinytrainError(`${where}: the output '${outputName}' is the output of ${result.by}`, 'tinytrain folds a Pad into the Conv or pool that reads it');
  throw new TinytrainError(`${where}: the output '${outputName}' is the integer output of ${result.by}`, 'end the model with DequantizeLinear (float output)');
}

/** Test harnesses (appendFlatten): end with a flatten; a C x H x W map is then stored H,W,C, as the returned order says. */
function appendOutputFlatten(ctx: ImportContext, outputAct: number, outShape: ActShape, outDims: number[]): ChwOrder | null {
  let chw: ChwOrder | null = null;
  if (outShape.kind === 'map' && outShape.h * outShape.w > 1) chw = { c: outShape.c, h: outShape.h, w: outShape.w };
  else if (outShape.kind === 'flat') chw = outShape.chw;
  addOp(
    ctx,
    { kind: 'flatten', node: 'appended flatten', name: 'output_flatten', inputs: [outputAct], activation: 'none' },
    { kind: 'flat', n: outDims.reduce((p, q) => p * q, 1), chw },
  );
  return chw;
}

/** tinytrain trains classifiers: the output must be [1, classes], not a feature map. */
function checkClassifierOutput(outShape: ActShape, outputName: string, where: string): void {
  if (outShape.kind === 'map' && outShape.h * outShape.w > 1) {
    throw new TinytrainError(
      `${where}: the output '${outputName}' is a feature map ${shapeText(outShape)}`,
      'tinytrain trains classifiers: end the model with [1, classes] logits (GlobalAveragePool/Flatten, then Gemm)',
    );
  }
  if (outShape.kind === 'flat' && outShape.chw && outShape.chw.h * outShape.chw.w > 1) {
    throw new TinytrainError(
      `${where}: the output '${outputName}' is a flattened feature map`,
      'tinytrain trains classifiers: end the model with a Gemm/MatMul producing [1, classes]',
    );
  }
}

/** The model's output as imported: ONNX dims, H,W,C order (appendFlatten only), inference activation. */
interface OutputEnd {
  dims: number[];
  chw: ChwOrder | null;
  activation: 'softmax' | 'logsoftmax' | undefined;
}

function finish(ctx: ImportContext, opts: OnnxImportOptions, model: OnnxModel, graph: OnnxGraph, io: GraphIo, out: OutputEnd, where: string): OnnxImport {
  checkDeclaredOutput(graph.output[0]!, out.dims, where);
  warnUnquantised(ctx);
  const { inShape } = io;
  const input: [number, number, number] = inShape.kind === 'map' ? [inShape.h, inShape.w, inShape.c] : [1, 1, inShape.n];
  const name = safeName(opts.name ?? graph.name ?? '', 'onnx-model');
  const notes = importNotes(ctx, model, io);
  const spec = emitSpec(ctx, { name, input, inputRange: opts.inputRange ?? [0, 1], notes, ...(out.activation ? { outputActivation: out.activation } : {}) });
  if (spec.layers.length === 0) throw new TinytrainError(`${where}: the model computes nothing`);
  buildGraph(spec); // the emitted spec must be a valid tinytrain model; its errors name the layer
  return {
    spec,
    warnings: ctx.warnings,
    notes: ctx.notes,
    input: { name: io.inputName, dims: onnxDims(inShape) },
    output: { name: io.outputName, dims: out.dims, chw: out.chw },
  };
}

/** A QDQ model that leaves some outputs in float: tinytrain quantises those from calibration, so say which. */
function warnUnquantised(ctx: ImportContext): void {
  if (!ctx.acts.some((a) => a.quant)) return;
  const missing = ctx.ops.filter((op) => !op.removed && !['flatten', 'relu', 'relu6'].includes(op.kind) && !ctx.acts[op.output]!.quant).map((op) => op.node);
  if (!ctx.acts[0]!.quant) missing.unshift('the model input');
  if (missing.length) {
    const it = missing.length === 1 ? 'it' : 'them';
    ctx.warnings.push(
      `no QuantizeLinear/DequantizeLinear on the output of ${missing.join(', ')}: the model keeps ${it} in float, ` + `tinytrain quantises ${it} from calibration ranges`,
    );
  }
}

/** The spec's `notes`: where the model came from, the input layout, what the import did, its warnings. */
function importNotes(ctx: ImportContext, model: OnnxModel, io: GraphIo): string {
  const { inShape, inputName } = io;
  const producer = [model.producer_name, model.producer_version].filter(Boolean).join(' ');
  return [
    `imported from ONNX (${producer || 'unknown producer'}, IR ${model.ir_version}, opset ${ctx.opset})`,
    inShape.kind === 'map' && inShape.c > 1
      ? `input '${inputName}' is ${shapeText(inShape)} in ONNX: give tinytrain ${inShape.oneD ? 'L,C' : 'H,W,C'} samples (nchwToHwc${inShape.oneD ? ' with H = 1' : ''})`
      : '',
    ...ctx.notes,
    ...ctx.warnings.map((w) => `warning: ${w}`),
  ]
    .filter(Boolean)
    .join('\n');
}
