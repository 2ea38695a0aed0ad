/**
 * Training steps on a compiled runtime (what `tinytrain train` runs, on the embedded
 * engine): the loss of each step, and whether it fell (mean of the first 50 steps vs the
 * last 50). A model trains on class labels (softmax cross-entropy, one-output bce) or on
 * real-valued targets (mse: the bench model's `target`, e.g. the input itself for an
 * autoencoder), with the loss compiled in (`--loss`).
 */
import { Rng } from '../../compiler/ir/rng.js';
import type { Runtime } from '../../host/runtime.js';
import type { LossName } from './models-catalog.js';

/** Steps averaged at each end to decide whether the loss fell. */
export const WINDOW = 50;
export const LEARNING_RATE = 0.01;
/**
 * A pretrained model fine-tuned on its own task (true labels) may need a far smaller rate
 * than a new mapping does, and which depends on the model's real-valued scales: the MLTK
 * keyword spotters take a spectrogram on an int8 grid of step 1 (values up to 127) and give
 * logits tens of units apart, so one misclassified sample's gradient is huge. Measured on
 * micro_speech with 128 spoken keywords: float32 SGD on the same data gives NaN at 1e-2 and
 * 1e-3 and still averages a loss of 34 over its first 50 steps at 1e-5; the int8 runtime
 * does best at 1e-7 (loss 0.51 -> 0.21, accuracy 88% -> 98%). As a user would, the bench
 * tries each of these from the same start and keeps the rate with the lowest final loss.
 */
export const FINE_TUNE_RATES = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7];

export type TrainResult =
  | {
      status: 'trained';
      steps: number;
      lr: number;
      labels: string;
      firstMean: number;
      lastMean: number;
      falling: boolean;
      /** Label-trained models: how often the runtime's prediction was the label, first and last 50 steps. */
      accuracyFirst?: number;
      accuracyLast?: number;
      skipped: number;
      /** Fine-tuning: each rate tried (from the same start) and its last-50 mean loss; `lr` is the best. */
      sweep?: { lr: number; lastMean: number }[];
    }
  | { status: 'pending' | 'not run'; reason: string };

/** What each sample trains towards: its class, or K real values. */
export type Supervision = { labels: number[] } | { targets: number[][] };

/** Why a model cannot train (null when it can). */
export function trainingVerdict(loss: LossName, classes: number, hasTargets: boolean): TrainResult | null {
  if (loss === 'mse' && !hasTargets) return { status: 'pending', reason: 'mse needs a target per sample, and this model has no task defined here' };
  if (loss === 'softmax-ce' && classes < 2) return { status: 'pending', reason: `softmax cross-entropy needs 2 or more outputs; the model has ${classes}` };
  return null;
}

export function trainOnRuntime(rt: Runtime, samples: Uint8Array[], sup: Supervision, o: { steps: number; seed: number }, labelText: string, lr = LEARNING_RATE): TrainResult {
  const rng = new Rng(o.seed);
  const losses: number[] = [];
  const hits: boolean[] = [];
  for (let s = 0; s < o.steps; s++) {
    const i = rng.nextU32() % samples.length;
    rt.setInputPixels(samples[i]!);
    if ('targets' in sup) {
      rt.setTargets(sup.targets[i]!);
      losses.push(rt.trainStep(0, lr));
    } else {
      losses.push(rt.trainStep(sup.labels[i]!, lr));
      hits.push(rt.lastPrediction() === sup.labels[i]);
    }
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const share = (xs: boolean[]): number => xs.filter(Boolean).length / xs.length;
  const firstMean = mean(losses.slice(0, WINDOW));
  const lastMean = mean(losses.slice(-WINDOW));
  return {
    status: 'trained',
    steps: o.steps,
    lr,
    labels: labelText,
    firstMean,
    lastMean,
    falling: lastMean < firstMean,
    ...(hits.length ? { accuracyFirst: share(hits.slice(0, WINDOW)), accuracyLast: share(hits.slice(-WINDOW)) } : {}),
    skipped: rt.stepsSkipped(),
  };
}

/** Fine-tuning on true labels: each of FINE_TUNE_RATES from the compiled start, the one with the lowest last-50 loss kept. */
export function fineTuneOnRuntime(rt: Runtime, samples: Uint8Array[], labels: number[], o: { steps: number; seed: number }, labelText: string): TrainResult {
  const runs = FINE_TUNE_RATES.map((lr) => {
    rt.reset(o.seed);
    return trainOnRuntime(rt, samples, { labels }, o, labelText, lr);
  });
  const lastMean = (r: TrainResult): number => (r.status === 'trained' ? r.lastMean : Infinity);
  const best = runs.reduce((a, b) => (lastMean(b) < lastMean(a) ? b : a));
  return best.status === 'trained' ? { ...best, sweep: runs.map((r, k) => ({ lr: FINE_TUNE_RATES[k]!, lastMean: lastMean(r) })) } : best;
}
