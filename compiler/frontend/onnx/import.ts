/**
 * importOnnx: .onnx bytes -> tinytrain ModelSpec, or a TinytrainError that names the
 * node, its op type and what is supported. Pure: reads bytes, writes nothing.
 *
 *   decode (proto.ts) -> model checks (IR version, opsets, one float input [1,C,H,W] or
 *   [1,N], one output) -> keep only nodes the output depends on -> one handler per node
 *   (nodes.ts, qdq.ts) -> fold/fuse (fold.ts) -> ModelSpec (emit.ts) -> buildGraph check.
 */
import { TinytrainError } from '../../errors.js';
import { buildGraph } from '../../ir/graph.js';
import type { ModelSpec } from '../../ir/model.js';
import { Attrs } from './attrs.js';
import { emitSpec, safeName } from './emit.js';
import { foldAndFuse } from './fold.js';
import { addOp, newAct, nodeError, onnxDims, shapeText, type ActShape, type ImportContext, type Value } from './ir.js';
import { HANDLERS } from './nodes.js';
import { isKnownOp, isSupportedVersion, MAX_OPSET, MIN_OPSET, resolveVersion, SUPPORTED_OPS_TEXT } from './opsets.js';
import { decodeModel, DataType, SCHEMA_IR_VERSION, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxValueInfo } from './proto.js';
import { dtypeName, MAX_ELEMENTS, readTensor } from './tensor.js';
import type { ChwOrder } from './layout.js';

export interface OnnxImportOptions {
  /** Model name (default: the graph's name). */
  name?: string;
  /** Real-valued range of the input, as ModelSpec.inputRange (default [0, 1]). */
  inputRange?: [number, number];
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

const DEFAULT_DOMAINS = new Set(['', 'ai.onnx']);

export function importOnnx(bytes: Uint8Array, opts: OnnxImportOptions = {}, where = 'ONNX model'): OnnxImport {
  const model = decodeModel(bytes, where);
  const graph = checkModel(model, where);
  const opset = defaultOpset(model, where);
  const ctx: ImportContext = { acts: [], ops: [], warnings: [], notes: [], opset };

  const initializers = new Map<string, number>();
  graph.initializer.forEach((t, i) => {
    if (!t.name) throw new TinytrainError(`${where}: initializer ${i} has no name`);
    initializers.set(t.name, i);
  });
  const sparse = new Set(graph.sparse_initializer.map((t) => String((t as { values?: { name?: string } }).values?.name ?? '')));
  const runtimeInputs = graph.input.filter((v) => !initializers.has(v.name ?? ''));
  if (runtimeInputs.length !== 1) {
    throw new TinytrainError(
      `${where}: the model has ${runtimeInputs.length} inputs (${runtimeInputs.map((v) => `'${v.name}'`).join(', ') || 'none'})`,
      'tinytrain models take exactly one input tensor; weights must be initializers',
    );
  }
  const inputInfo = runtimeInputs[0]!;
  const inputName = inputInfo.name ?? '';
  const inShape = inputShape(inputInfo, where);
  newAct(ctx, inShape, -1);

  if (graph.output.length !== 1) {
    throw new TinytrainError(`${where}: the model has ${graph.output.length} outputs`, 'tinytrain trains models with one output (the class logits)');
  }
  const outputName = graph.output[0]!.name ?? '';

  // Producers, and the nodes the output depends on (others are dropped, with a note).
  const producer = new Map<string, number>();
  graph.node.forEach((n, i) => {
    for (const o of n.output) {
      if (!o) continue;
      if (producer.has(o) || o === inputName || initializers.has(o))
        throw nodeError(label(n, i), `output '${o}' is already defined`, 'every tensor name must be produced once (SSA)');
      producer.set(o, i);
    }
  });
  const needed = new Set<number>();
  const stack = [outputName];
  const seen = new Set<string>();
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const p = producer.get(t);
    if (p === undefined || needed.has(p)) continue;
    needed.add(p);
    for (const i of graph.node[p]!.input) if (i) stack.push(i);
  }
  const dropped = graph.node.length - needed.size;
  if (dropped > 0) ctx.notes.push(`${dropped} node(s) do not contribute to the output '${outputName}' and were ignored`);
  const consumed = new Set<string>([outputName]);
  for (const i of needed) for (const t of graph.node[i]!.input) consumed.add(t);

  // Values by tensor name: initializers read on first use.
  const env = new Map<string, Value>([[inputName, { kind: 'act', act: 0 }]]);
  const lookup = (name: string, who: string): Value => {
    const v = env.get(name);
    if (v) return v;
    const ii = initializers.get(name);
    if (ii !== undefined) {
      const c: Value = { kind: 'const', t: readTensor(graph.initializer[ii]!, `${where}: initializer '${name}'`) };
      env.set(name, c);
      return c;
    }
    if (sparse.has(name)) throw nodeError(who, `input '${name}' is a sparse initializer`, 'store weights as dense initializers');
    if (producer.has(name)) throw nodeError(who, `input '${name}' is produced by a later node`, 'the graph must be topologically sorted');
    throw nodeError(who, `input '${name}' is not defined by any node, initializer or graph input`);
  };

  graph.node.forEach((node, i) => {
    if (!needed.has(i)) return;
    const lbl = label(node, i);
    const op = node.op_type ?? '';
    const domain = node.domain ?? '';
    if (!DEFAULT_DOMAINS.has(domain)) {
      throw nodeError(lbl, `op '${domain}.${op}' (domain '${domain}') is not supported`, `tinytrain supports ONNX standard ops: ${SUPPORTED_OPS_TEXT}`);
    }
    if (!isKnownOp(op)) throw nodeError(lbl, `op ${op || '(empty)'} is not supported`, `supported: ${SUPPORTED_OPS_TEXT}`);
    const version = resolveVersion(op, opset);
    if (version === undefined || !isSupportedVersion(op, version)) {
      throw nodeError(
        lbl,
        `${op} as defined in opset ${opset} (${op}-${version ?? 'none'}) is not supported`,
        `tinytrain implements the definitions in effect in opsets ${MIN_OPSET}-${MAX_OPSET}; convert the model with onnx.version_converter`,
      );
    }
    const inputs = node.input.map((n) => (n ? lookup(n, lbl) : undefined));
    const attrs = new Attrs(node, lbl);
    const outs = HANDLERS[op]!({
      ctx,
      node,
      label: lbl,
      version,
      inputs,
      attrs,
      name: node.name || node.output[0] || `${op}_${i}`,
      outputUsed: (k) => consumed.has(node.output[k] ?? ''),
    });
    node.output.forEach((o, k) => {
      if (!o) return;
      const v = outs[k];
      if (v) env.set(o, v);
      else if (consumed.has(o)) throw nodeError(lbl, `output ${k} ('${o}') is used but tinytrain does not compute it`);
    });
  });

  const result = env.get(outputName) ?? lookup(outputName, `output '${outputName}'`);
  let outputAct: number;
  let outputActivation: 'softmax' | 'logsoftmax' | undefined;
  if (result.kind === 'act') outputAct = result.act;
  else if (result.kind === 'post') {
    outputAct = result.act;
    outputActivation = result.fn;
    ctx.notes.push(`${result.by}: dropped for training (the loss applies softmax to the logits); recorded as outputActivation '${result.fn}' for inference`);
  } else if (result.kind === 'const') {
    throw new TinytrainError(`${where}: the output '${outputName}' is a constant`, 'the output must be computed from the input');
  } else {
    throw new TinytrainError(`${where}: the output '${outputName}' is the integer output of ${result.by}`, 'end the model with DequantizeLinear (float output)');
  }
  if (outputAct === 0 && !opts.appendFlatten) throw new TinytrainError(`${where}: the output is the input: the model computes nothing`);

  foldAndFuse(ctx, outputAct);

  const outShape = ctx.acts[outputAct]!.shape;
  const outDims = onnxDims(outShape);
  if (opts.appendFlatten) {
    let chw: ChwOrder | null = null;
    if (outShape.kind === 'map' && outShape.h * outShape.w > 1) chw = { c: outShape.c, h: outShape.h, w: outShape.w };
    else if (outShape.kind === 'flat') chw = outShape.chw;
    addOp(
      ctx,
      { kind: 'flatten', node: 'appended flatten', name: 'output_flatten', inputs: [outputAct], activation: 'none' },
      { kind: 'flat', n: outDims.reduce((p, q) => p * q, 1), chw },
    );
    return finish(ctx, opts, model, graph, where, inputName, inShape, outputName, outDims, chw, outputActivation);
  }
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
  return finish(ctx, opts, model, graph, where, inputName, inShape, outputName, outDims, null, outputActivation);
}

function finish(
  ctx: ImportContext,
  opts: OnnxImportOptions,
  model: OnnxModel,
  graph: OnnxGraph,
  where: string,
  inputName: string,
  inShape: ActShape,
  outputName: string,
  outDims: number[],
  chw: ChwOrder | null,
  outputActivation: 'softmax' | 'logsoftmax' | undefined,
): OnnxImport {
  checkDeclaredOutput(graph.output[0]!, outDims, where);
  if (ctx.acts.some((a) => a.quant)) {
    const missing = ctx.ops.filter((op) => !op.removed && !['flatten', 'relu', 'relu6'].includes(op.kind) && !ctx.acts[op.output]!.quant).map((op) => op.node);
    if (!ctx.acts[0]!.quant) missing.unshift('the model input');
    if (missing.length) {
      const it = missing.length === 1 ? 'it' : 'them';
      ctx.warnings.push(
        `no QuantizeLinear/DequantizeLinear on the output of ${missing.join(', ')}: the model keeps ${it} in float, ` + `tinytrain quantises ${it} from calibration ranges`,
      );
    }
  }
  const input: [number, number, number] = inShape.kind === 'map' ? [inShape.h, inShape.w, inShape.c] : [1, 1, inShape.n];
  const name = safeName(opts.name ?? graph.name ?? '', 'onnx-model');
  const producer = [model.producer_name, model.producer_version].filter(Boolean).join(' ');
  const notes = [
    `imported from ONNX (${producer || 'unknown producer'}, IR ${model.ir_version}, opset ${ctx.opset})`,
    inShape.kind === 'map' && inShape.c > 1 ? `input '${inputName}' is [1, ${inShape.c}, ${inShape.h}, ${inShape.w}] in ONNX: give tinytrain H,W,C samples (nchwToHwc)` : '',
    ...ctx.notes,
    ...ctx.warnings.map((w) => `warning: ${w}`),
  ]
    .filter(Boolean)
    .join('\n');
  const spec = emitSpec(ctx, { name, input, inputRange: opts.inputRange ?? [0, 1], notes, ...(outputActivation ? { outputActivation } : {}) });
  if (spec.layers.length === 0) throw new TinytrainError(`${where}: the model computes nothing`);
  buildGraph(spec); // the emitted spec must be a valid tinytrain model; its errors name the layer
  return { spec, warnings: ctx.warnings, notes: ctx.notes, input: { name: inputName, dims: onnxDims(inShape) }, output: { name: outputName, dims: outDims, chw } };
}

function label(n: OnnxNode, i: number): string {
  return `${n.name ? `'${n.name}'` : `#${i}`} (${n.op_type ?? '?'})`;
}

function checkModel(m: OnnxModel, where: string): OnnxGraph {
  if (!m.graph || m.ir_version === undefined || !m.opset_import?.length) {
    throw new TinytrainError(
      `${where}: not an ONNX model (${!m.graph ? 'no graph' : m.ir_version === undefined ? 'no IR version' : 'no opset import'})`,
      'give a .onnx file saved by torch.onnx.export, onnx.save or another ONNX exporter',
    );
  }
  if (!Number.isInteger(m.ir_version) || m.ir_version < 3 || m.ir_version > SCHEMA_IR_VERSION) {
    throw new TinytrainError(
      `${where}: ONNX IR version ${m.ir_version} is not supported`,
      `tinytrain reads IR versions 3-${SCHEMA_IR_VERSION} (ONNX 1.17 and older); re-export with an older opset/IR or update the vendored onnx.proto`,
    );
  }
  return m.graph;
}

function defaultOpset(m: OnnxModel, where: string): number {
  const entries = m.opset_import.filter((o) => DEFAULT_DOMAINS.has(o.domain ?? ''));
  if (entries.length !== 1) {
    throw new TinytrainError(`${where}: ${entries.length === 0 ? 'no opset is declared for the standard domain ai.onnx' : "the standard domain's opset is declared twice"}`);
  }
  const v = entries[0]!.version ?? 0;
  if (!Number.isInteger(v) || v < 1) throw new TinytrainError(`${where}: invalid opset version ${v}`);
  if (v > MAX_OPSET) {
    throw new TinytrainError(
      `${where}: opset ${v} is newer than this importer knows (ONNX 1.17: opsets up to ${MAX_OPSET})`,
      `re-export with opset_version between ${MIN_OPSET} and ${MAX_OPSET}`,
    );
  }
  return v;
}

/** One float input, [1, C, H, W] or [1, N]; a symbolic batch dimension means 1. */
function inputShape(v: OnnxValueInfo, where: string): ActShape {
  const name = `'${v.name}'`;
  const t = v.type?.tensor_type;
  if (!t) throw new TinytrainError(`${where}: input ${name} is not a tensor`, 'the model input must be a float tensor');
  if (t.elem_type !== DataType.FLOAT) {
    throw new TinytrainError(`${where}: input ${name} is ${dtypeName(t.elem_type)}`, 'the model input must be FLOAT (float32); quantised inputs are taken through QuantizeLinear');
  }
  const dims = t.shape?.dim;
  if (!dims) throw new TinytrainError(`${where}: input ${name} has no shape`, 'export with a fixed input shape');
  const vals = dims.map((d, i) => {
    if (d.dim_value !== undefined && d.dim_value > 0 && Number.isSafeInteger(d.dim_value)) return d.dim_value;
    if (i === 0 && (d.dim_value === undefined || d.dim_value === 0)) return 1; // symbolic/unknown batch
    if (d.dim_value !== undefined && d.dim_value !== 0) throw new TinytrainError(`${where}: input ${name} has an invalid dimension ${d.dim_value}`);
    throw new TinytrainError(
      `${where}: input ${name} has a dynamic dimension ${i}${d.dim_param ? ` ('${d.dim_param}')` : ''}`,
      'tinytrain compiles static shapes: export with fixed height, width and channels (only the batch dimension may be symbolic)',
    );
  });
  if (vals.length !== 4 && vals.length !== 2) {
    throw new TinytrainError(`${where}: input ${name} has shape [${vals.join(', ')}]`, 'tinytrain takes an image [1, C, H, W] or a vector [1, N]');
  }
  if (vals[0] !== 1) {
    throw new TinytrainError(`${where}: input ${name} has batch size ${vals[0]}`, 'tinytrain models take one sample: export with batch 1 (or a symbolic batch dimension)');
  }
  const size = vals.reduce((p, q) => p * q, 1);
  if (size > MAX_ELEMENTS) throw new TinytrainError(`${where}: input ${name} of shape [${vals}] is too large`);
  if (vals.length === 4) return { kind: 'map', c: vals[1]!, h: vals[2]!, w: vals[3]! };
  return { kind: 'flat', n: vals[1]!, chw: null };
}

/** The output shape the file declares (where static) must be the one we computed. */
function checkDeclaredOutput(v: OnnxValueInfo, dims: number[], where: string): void {
  const d = v.type?.tensor_type?.shape?.dim;
  if (!d) return;
  const declared = d.map((x, i) => (i === 0 ? 1 : x.dim_value));
  const match = declared.length === dims.length && declared.every((x, i) => x === undefined || x === 0 || x === dims[i]);
  if (!match) {
    throw new TinytrainError(
      `${where}: the output '${v.name}' is declared as [${d.map((x) => x.dim_value ?? x.dim_param ?? '?').join(', ')}] but computes [${dims.join(', ')}]`,
      'the model file is inconsistent; re-export it',
    );
  }
}
