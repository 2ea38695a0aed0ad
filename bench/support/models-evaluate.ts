/**
 * One bench model, end to end: its operator inventory; import (or the importer's exact
 * refusal); the float engine against the reference (onnxruntime / LiteRT); a compile for
 * stm32f746 with the first training scheme that fits (or every scheme's reason); the int8
 * runtime against the reference; and, if its loss exists, training steps on the runtime.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argmax, forward } from '../../compiler/float/network.js';
import { loadModelFile } from '../../compiler/frontend/index.js';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { ModelSpec } from '../../compiler/ir/model.js';
import { loadParams } from '../../compiler/ir/params.js';
import type { Runtime } from '../../host/runtime.js';
import type { BenchModel } from './models-catalog.js';
import { compileFirstFitting, refusal, type CompileResult, type Refusal } from './models-compile.js';
import { evaluateHead, type HeadResult } from './models-head.js';
import { makeSamples, referenceLayout, type Samples } from './models-inputs.js';
import { onnxInventory, tfliteInventory, type Inventory } from './models-inventory.js';
import { runOnnxruntimeQuantized, runReference } from './models-reference.js';
import { fineTuneOnRuntime, trainOnRuntime, trainingVerdict, type Supervision, type TrainResult } from './models-train.js';

/** Float engine vs reference: the bound (relative, over each output tensor). */
export const FLOAT_TOLERANCE = 1e-4;
/** int8 runtime vs reference, classifiers: the bound on argmax agreement. */
export const ARGMAX_AGREEMENT = 0.99;

export interface ModelResult {
  id: string;
  source: string;
  package: string;
  version: string;
  member: string;
  inner?: string;
  bytes: number;
  sha256: string;
  domain: string;
  format: string;
  what: string;
  loss: string;
  inventory: Inventory;
  import: { ok: true; layers: string; parameters: number; classes: number } | ({ ok: false } & Refusal);
  inputs?: string;
  /**
   * referenceAccuracy: how often the reference's own argmax is the true class (inputs with
   * labels). int8Model: the file is an int8 model, so its reference runs int8 kernels and the
   * float engine (on the dequantised weights, no activation rounding) is not held to the
   * float bound: such a model is checked in int8 only (`pass` is then not a float verdict).
   */
  float?: { samples: number; maxRelError: number; pass: boolean; referenceAccuracy?: number; int8Model?: true };
  compile?: CompileResult;
  int8?: Int8Check;
  train: TrainResult;
  /**
   * Labelled classifiers: `train` fine-tunes on the true classes, which a pretrained model may
   * already fit (its loss then has little to fall); this is the new mapping every unlabelled
   * classifier trains on (the reference's class moved one along), from the same start.
   */
  relearn?: TrainResult;
  /** The transfer-learning variant (a new classifier head), for models that declare one. */
  head?: HeadResult;
}

export type Int8Check =
  | { kind: 'argmax'; samples: number; agreement: number; marginBound: number; maxLogitDiff: number; pass: boolean; peer?: PeerAgreement }
  | { kind: 'regression'; samples: number; maxAbsDiff: number; referenceRange: number };

/** A float model's int8 agreement when another tool quantises it, on the same calibration and inputs. */
export interface PeerAgreement {
  tool: string;
  version: string;
  settings: string;
  agreement: number;
}

export function inventoryOf(m: BenchModel): Inventory {
  const bytes = readFileSync(m.file);
  return m.format === 'onnx' ? onnxInventory(bytes, m.file) : tfliteInventory(bytes, m.file);
}

/** The float engine's output for one HWC sample, with the model's output activation (what the reference computes). */
export function floatOutput(spec: ModelSpec, x: Float32Array): Float32Array {
  const g = buildGraph(spec);
  const y = Float32Array.from(forward(g, loadParams(g, spec), x).get(g.output)!);
  if (!spec.outputActivation) return y;
  const max = Math.max(...y);
  const lse = max + Math.log(y.reduce((s, v) => s + Math.exp(v - max), 0));
  return y.map((v) => (spec.outputActivation === 'softmax' ? Math.exp(v - lse) : v - lse));
}

/** max |a - b| / max |b| over one output tensor. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0,
    den = 1e-6;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

/** The int8 runtime's outputs (output activation applied) on each sample. */
function runtimeOutputs(rt: Runtime, s: Samples): Float32Array[] {
  return s.bytes.map((b) => {
    rt.setInputPixels(b);
    rt.predict();
    return rt.outputs();
  });
}

/**
 * Classifiers (softmax cross-entropy or bce over several outputs): argmax agreement; models
 * trained on values (mse: regressions, autoencoders, embeddings), and one-output models: the
 * largest difference beside the output's range. The derived bound: where the reference's top-two margin
 * exceeds twice the largest output difference measured, the runtime must pick the same
 * class; `marginBound` is the share of samples with such a margin (agreement >= it).
 */
function compareInt8(ours: Float32Array[], ref: number[][], classes: number, loss: BenchModel['loss']): Int8Check {
  let maxDiff = 0;
  ours.forEach((o, i) => o.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - ref[i]![k]!)))));
  if (classes < 2 || loss === 'mse') {
    const flat = ref.flat();
    return { kind: 'regression', samples: ours.length, maxAbsDiff: maxDiff, referenceRange: Math.max(...flat) - Math.min(...flat) };
  }
  const agree = ours.filter((o, i) => argmax(o) === argmax(ref[i]!)).length / ours.length;
  const margin = (r: number[]): number => {
    const sorted = [...r].sort((a, b) => b - a);
    return sorted[0]! - sorted[1]!;
  };
  const safe = ref.filter((r) => margin(r) > 2 * maxDiff).length / ref.length;
  return { kind: 'argmax', samples: ours.length, agreement: agree, marginBound: safe, maxLogitDiff: maxDiff, pass: agree >= ARGMAX_AGREEMENT };
}

/**
 * A float ONNX classifier is quantised by tinytrain itself, so its int8 agreement measures
 * post-training quantisation as much as the runtime: onnxruntime's own quantize_static on
 * the same calibration inputs (the bench calibrates on the checked samples) says what a
 * mature PTQ tool reaches on the same file.
 */
function onnxruntimeAgreement(m: BenchModel, spec: ModelSpec, samples: Samples, ref: number[][]): PeerAgreement {
  const inputs = samples.hwc.map((x) => referenceLayout(x, m.format, spec.input));
  const peer = runOnnxruntimeQuantized({ model: m.file, shape: m.inputShape ?? [1, spec.input[2], spec.input[0], spec.input[1]], calibration: inputs, inputs });
  const agreement = peer.outputs.filter((o, i) => argmax(o) === argmax(ref[i]!)).length / ref.length;
  return { tool: 'onnxruntime', version: peer.onnxruntime, settings: peer.settings, agreement };
}

/**
 * What the model trains towards: mse its task's targets; a classifier the true class, or,
 * on inputs without one, the reference's predicted class moved one along (k -> k+1 mod K):
 * a mapping the pretrained model does not have yet, so the loss starts high and only
 * training brings it down (its own predictions would start near zero loss, showing nothing).
 */
function supervision(m: BenchModel, samples: Samples, ref: number[][], classes: number): Supervision {
  if (m.loss === 'mse' && m.target) return { targets: samples.hwc.map((x) => m.target!.values(x)) };
  return { labels: samples.labels ?? ref.map((r) => (argmax(r) + 1) % classes) };
}

/** The new mapping (k -> k+1 of the reference's class) from the compiled start, at the bench's usual rate. */
function relearnOnRuntime(runtime: Runtime, samples: Samples, ref: number[][], classes: number, o: EvaluateOptions): TrainResult {
  runtime.reset(o.seed);
  return trainOnRuntime(runtime, samples.bytes, { labels: ref.map((r) => (argmax(r) + 1) % classes) }, o, SHIFTED);
}

const SHIFTED = "the reference's predicted class moved one along (k -> k+1), a mapping to learn";

function supervisionText(m: BenchModel, samples: Samples): string {
  if (m.loss === 'mse' && m.target) return m.target.task;
  return samples.labels ? 'the true class of each sample' : SHIFTED;
}

export interface EvaluateOptions {
  samples: number;
  steps: number;
  seed: number;
}

/** The reference's outputs on the samples, and the float engine's largest relative difference from them. */
function checkFloat(m: BenchModel, spec: ModelSpec, samples: Samples): { ref: number[][]; float: NonNullable<ModelResult['float']> } {
  const ref = runReference({
    format: m.format,
    model: m.file,
    shape: m.inputShape ?? [1, spec.input[2], spec.input[0], spec.input[1]],
    inputs: samples.hwc.map((x) => referenceLayout(x, m.format, spec.input)),
    ...(m.output ? { output: m.output } : {}),
  });
  const maxRelError = Math.max(...samples.hwc.map((x, i) => relativeError(floatOutput(spec, x), ref[i]!)));
  const truth = samples.labels;
  const referenceAccuracy = truth ? ref.filter((r, i) => argmax(r) === truth[i]).length / ref.length : undefined;
  const int8Model = spec.quantization !== undefined;
  const pass = int8Model || maxRelError <= FLOAT_TOLERANCE;
  return { ref, float: { samples: samples.hwc.length, maxRelError, pass, ...(referenceAccuracy !== undefined ? { referenceAccuracy } : {}), ...(int8Model ? { int8Model } : {}) } };
}

export async function evaluateModel(m: BenchModel, o: EvaluateOptions): Promise<ModelResult> {
  const base = {
    id: m.id,
    source: m.source,
    package: m.package,
    version: m.version,
    member: m.member,
    ...(m.inner ? { inner: m.inner } : {}),
    bytes: m.bytes,
    sha256: m.sha256,
    domain: m.domain,
    format: m.format,
    what: m.what,
    loss: m.loss,
  };
  const inventory = inventoryOf(m);
  let spec: ModelSpec;
  try {
    spec = loadModelFile(m.file, {
      ...(m.inputShape ? { inputShape: m.inputShape } : {}),
      ...(m.inputRange ? { inputRange: m.inputRange } : {}),
      ...(m.output ? { output: m.output } : {}),
    });
  } catch (e) {
    return { ...base, inventory, import: { ok: false, ...refusal(e) }, train: { status: 'not run', reason: 'not imported' } };
  }
  const g = buildGraph(spec);
  const classes = g.classes;
  const parameters = [...loadParams(g, spec).values()].reduce((s, p) => s + p.weight.length + p.bias.length, 0);
  const imported = { ok: true as const, layers: spec.layers.map((l) => l.op).join(' '), parameters, classes };
  const samples = makeSamples(m.inputs, o.samples, spec.input, spec.inputRange ?? [0, 1], o.seed, m);
  const { ref, float } = checkFloat(m, spec, samples);
  const dir = mkdtempSync(join(tmpdir(), `models-bench-${m.id}-`));
  try {
    const { result, runtime } = await compileFirstFitting(spec, samples.hwc, dir, m.loss);
    if (!runtime) return { ...base, inventory, import: imported, inputs: samples.description, float, compile: result, train: { status: 'not run', reason: 'no scheme fits' } };
    const int8 = compareInt8(runtimeOutputs(runtime, samples), ref, classes, m.loss);
    if (int8.kind === 'argmax' && m.format === 'onnx' && !spec.quantization) int8.peer = onnxruntimeAgreement(m, spec, samples, ref);
    const verdict = trainingVerdict(m.loss, classes, m.target !== undefined);
    const labelled = verdict === null && samples.labels !== undefined && m.loss !== 'mse';
    const train =
      verdict ??
      (labelled
        ? fineTuneOnRuntime(runtime, samples.bytes, samples.labels!, o, supervisionText(m, samples))
        : trainOnRuntime(runtime, samples.bytes, supervision(m, samples, ref, classes), o, supervisionText(m, samples)));
    const relearn = labelled ? relearnOnRuntime(runtime, samples, ref, classes, o) : undefined;
    const head = await evaluateHead(m, spec, o);
    return { ...base, inventory, import: imported, inputs: samples.description, float, compile: result, int8, train, ...(relearn ? { relearn } : {}), ...(head ? { head } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
