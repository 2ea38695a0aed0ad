/**
 * Training loops over a Dataset: one for the compiled int8 runtime, one for the float32
 * desktop engine. Both visit samples in the same seeded order, so the float baseline
 * sees exactly the data the device sees.
 */
import { Rng } from '../compiler/ir/rng.js';
import { FloatTrainer, normaliseImage } from '../compiler/float/network.js';
import type { Graph } from '../compiler/ir/graph.js';
import type { LossKind } from '../compiler/loss.js';
import type { ParamSet } from '../compiler/ir/params.js';
import { imageAt, type Dataset } from './data/dataset.js';
import type { Runtime } from './runtime.js';
import { checkDatasetTargets } from './data/targets.js';
import { lossOf } from '../compiler/float/kernels.js';
import { manifestLoss } from '../compiler/manifest.js';
import { TinytrainError } from '../compiler/errors.js';

export interface TrainOptions {
  steps: number;
  lr: number;
  seed: number;
  /** Called every `every` steps with the running means since the last call. */
  onProgress?: (done: number, meanLoss: number, accuracy: number) => void;
  every?: number;
}

export interface TrainSummary {
  steps: number;
  /** Mean loss over the last epoch-sized window (at most 1000 steps). */
  loss: number;
  /** Training accuracy (prediction before each update) over the same window. */
  accuracy: number;
  skipped: number;
}

/** Sample order: seeded reshuffle every epoch. */
export function* sampleOrder(count: number, steps: number, seed: number): Generator<number> {
  const rng = new Rng(seed);
  let perm = rng.permutation(count);
  for (let s = 0, k = 0; s < steps; s++, k++) {
    if (k === count) {
      perm = rng.permutation(count);
      k = 0;
    }
    yield perm[k]!;
  }
}

/** Loss and accuracy are reported over the last min(steps, 1000) steps: the first step counted. */
export function statsWindowStart(steps: number): number {
  return steps - Math.min(steps, 1000);
}

function windowed(steps: number): { add(loss: number, ok: boolean | number, step: number): void; mean(): { loss: number; accuracy: number } } {
  const from = statsWindowStart(steps);
  let loss = 0,
    ok = 0,
    n = 0;
  return {
    add(l, good, step) {
      if (step >= from) {
        loss += l;
        ok += typeof good === 'number' ? good : good ? 1 : 0;
        n++;
      }
    },
    mean: () => ({ loss: n ? loss / n : NaN, accuracy: n ? ok / n : NaN }),
  };
}

export function trainRuntime(rt: Runtime, ds: Dataset, o: TrainOptions): TrainSummary {
  const every = o.every ?? 100;
  const win = windowed(o.steps);
  let pl = 0,
    pc = 0,
    pn = 0,
    s = 0;
  checkDatasetTargets(rt.manifest, ds);
  const t = ds.targets;
  for (const i of sampleOrder(ds.count, o.steps, o.seed)) {
    rt.setInputPixels(imageAt(ds, i));
    if (t) rt.setTargets(t.values.subarray(i * t.width, (i + 1) * t.width));
    const label = ds.labels[i]!;
    const loss = rt.trainStep(label, o.lr);
    // Accuracy is a label's: a loss on target values has none (NaN, as every engine reports it).
    const ok = t ? NaN : rt.lastPrediction() === label;
    win.add(loss, ok, s);
    pl += loss;
    pc += typeof ok === 'number' ? ok : ok ? 1 : 0;
    pn++;
    s++;
    if (o.onProgress && (s % every === 0 || s === o.steps)) {
      o.onProgress(s, pl / pn, pc / pn);
      pl = pc = pn = 0;
    }
  }
  return { steps: s, ...win.mean(), skipped: rt.stepsSkipped() };
}

/** Accuracy of the predicted class against the labels; NaN for a dataset of target values (they have no class). */
export function evaluateRuntime(rt: Runtime, ds: Dataset, onProgress?: (done: number) => void): number {
  if (ds.targets) return NaN;
  let ok = 0;
  for (let i = 0; i < ds.count; i++) {
    rt.setInputPixels(imageAt(ds, i));
    if (rt.predict() === ds.labels[i]) ok++;
    if (onProgress && (i + 1) % 500 === 0) onProgress(i + 1);
  }
  return ok / ds.count;
}

/**
 * Mean loss of the runtime's outputs over a dataset of target values (mse, multi-label
 * bce), from the dequantised outputs with the float reference's formula: what `eval`
 * reports for a model that has no accuracy.
 */
export function evaluateLossRuntime(rt: Runtime, ds: Dataset): number {
  const t = ds.targets;
  if (!t) throw new TinytrainError(`dataset ${ds.name} has labels, not target values`, 'evaluate its accuracy');
  checkDatasetTargets(rt.manifest, ds);
  const kind = manifestLoss(rt.manifest).kind;
  let sum = 0;
  for (let i = 0; i < ds.count; i++) {
    rt.setInputPixels(imageAt(ds, i));
    rt.predict();
    sum += lossOf(kind, rt.logits(), t.values.subarray(i * t.width, (i + 1) * t.width)).loss;
  }
  return sum / ds.count;
}

export interface FloatTrainOptions extends TrainOptions {
  momentum: number;
  trainable?: ReadonlySet<string>;
  /** The loss (compiler/loss.ts; default softmax-ce); `g` is then the graph chooseLoss gives. */
  loss?: LossKind;
}

export function trainFloat(g: Graph, params: ParamSet, ds: Dataset, o: FloatTrainOptions): TrainSummary {
  const tr = new FloatTrainer(g, params, o.trainable, o.loss);
  const every = o.every ?? 100;
  const win = windowed(o.steps);
  const t = ds.targets;
  let pl = 0,
    pc = 0,
    pn = 0,
    s = 0;
  for (const i of sampleOrder(ds.count, o.steps, o.seed)) {
    const x = normaliseImage(imageAt(ds, i), g.inputRange);
    const label = ds.labels[i]!;
    const ok = t ? NaN : tr.predict(x) === label;
    const loss = tr.step(x, t ? t.values.subarray(i * t.width, (i + 1) * t.width) : label, { lr: o.lr, momentum: o.momentum });
    win.add(loss, ok, s);
    pl += loss;
    pc += typeof ok === 'number' ? ok : ok ? 1 : 0;
    pn++;
    s++;
    if (o.onProgress && (s % every === 0 || s === o.steps)) {
      o.onProgress(s, pl / pn, pc / pn);
      pl = pc = pn = 0;
    }
  }
  return { steps: s, ...win.mean(), skipped: 0 };
}

export function evaluateFloat(g: Graph, params: ParamSet, ds: Dataset): number {
  const tr = new FloatTrainer(g, params);
  let ok = 0;
  for (let i = 0; i < ds.count; i++) if (tr.predict(normaliseImage(imageAt(ds, i), g.inputRange)) === ds.labels[i]) ok++;
  return ok / ds.count;
}
