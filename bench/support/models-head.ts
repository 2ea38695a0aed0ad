/**
 * Transfer learning on a pretrained body: the model with its last layer replaced by a new
 * dense classifier head (He-normal initialised, the rest kept as the file's weights),
 * compiled for the target and trained with softmax cross-entropy on the runtime: a new
 * classification task on the model's features.
 */
import type { Layer, ModelSpec } from '../../compiler/ir/model.js';
import type { BenchModel } from './models-catalog.js';
import { compileFirstFitting, type CompileResult } from './models-compile.js';
import type { EvaluateOptions } from './models-evaluate.js';
import { makeSamples } from './models-inputs.js';
import { trainOnRuntime, type TrainResult } from './models-train.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Samples the head trains on (a larger set than the reference checks use). */
const HEAD_SAMPLES = 256;

export interface HeadResult {
  id: string;
  task: string;
  layers: string;
  inputs: string;
  compile: CompileResult;
  train: TrainResult;
}

export function withHead(spec: ModelSpec, classes: number): ModelSpec {
  const last = spec.layers[spec.layers.length - 1]!;
  if (last.op !== 'dense') throw new Error(`${spec.name}: the last layer is ${last.op}, not dense: no head to replace`);
  const head: Layer = { op: 'dense', name: 'head', units: classes };
  const params = Object.fromEntries(Object.entries(spec.params ?? {}).filter(([name]) => name !== last.name));
  const { calibration: _calibration, quantization: _quantization, ...rest } = spec;
  return { ...rest, name: `${spec.name}-head`, layers: [...spec.layers.slice(0, -1), head], params };
}

export async function evaluateHead(m: BenchModel, spec: ModelSpec, o: EvaluateOptions): Promise<HeadResult | undefined> {
  if (!m.head) return undefined;
  const headSpec = withHead(spec, m.head.classes);
  const samples = makeSamples(m.inputs, HEAD_SAMPLES, spec.input, spec.inputRange ?? [0, 1], o.seed + 1, m);
  const labels = samples.hwc.map((x) => m.head!.label(x));
  const dir = mkdtempSync(join(tmpdir(), `models-head-${m.id}-`));
  try {
    const { result, runtime } = await compileFirstFitting(headSpec, samples.hwc, dir, 'softmax-ce');
    const base = { id: `${m.id}+head`, task: m.head.task, layers: headSpec.layers.map((l) => l.op).join(' '), inputs: samples.description, compile: result };
    if (!runtime) return { ...base, train: { status: 'not run', reason: 'no scheme fits' } };
    return { ...base, train: trainOnRuntime(runtime, samples.bytes, { labels }, o, `the true class of each sample (${m.head.task})`) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
