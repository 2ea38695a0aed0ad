/**
 * Training steps on a compiled runtime (what `tinytrain train` runs, on the embedded
 * engine): the loss of each step, and whether it fell (mean of the first 50 steps vs the
 * last 50). Which losses can train is one set here: the runtime trains softmax
 * cross-entropy today; the `loss` helper's branch adds bce and mse (`--loss`), and when it
 * lands their names go into TRAINABLE_LOSSES (and the loss into the compile options).
 */
import { Rng } from '../../compiler/ir/rng.js';
import type { Runtime } from '../../host/runtime.js';
import type { LossName } from './models-catalog.js';

export const TRAINABLE_LOSSES: ReadonlySet<LossName> = new Set(['softmax-ce']);
/** Steps averaged at each end to decide whether the loss fell. */
export const WINDOW = 50;
export const LEARNING_RATE = 0.01;

export type TrainResult =
  | {
      status: 'trained';
      steps: number;
      lr: number;
      labels: string;
      firstMean: number;
      lastMean: number;
      falling: boolean;
      accuracyFirst: number;
      accuracyLast: number;
      skipped: number;
    }
  | { status: 'pending' | 'not run'; reason: string };

/** Why a model cannot train yet (null when it can). */
export function trainingVerdict(loss: LossName, classes: number): TrainResult | null {
  if (!TRAINABLE_LOSSES.has(loss)) return { status: 'pending', reason: `needs --loss ${loss} (pending)` };
  if (classes < 2) return { status: 'pending', reason: `softmax cross-entropy needs 2 or more outputs; the model has ${classes}` };
  return null;
}

export function trainOnRuntime(rt: Runtime, samples: Uint8Array[], labels: number[], o: { steps: number; seed: number }, labelText: string): TrainResult {
  const rng = new Rng(o.seed);
  const losses: number[] = [];
  const hits: boolean[] = [];
  for (let s = 0; s < o.steps; s++) {
    const i = rng.nextU32() % samples.length;
    rt.setInputPixels(samples[i]!);
    losses.push(rt.trainStep(labels[i]!, LEARNING_RATE));
    hits.push(rt.lastPrediction() === labels[i]);
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const share = (xs: boolean[]): number => xs.filter(Boolean).length / xs.length;
  const firstMean = mean(losses.slice(0, WINDOW));
  const lastMean = mean(losses.slice(-WINDOW));
  return {
    status: 'trained',
    steps: o.steps,
    lr: LEARNING_RATE,
    labels: labelText,
    firstMean,
    lastMean,
    falling: lastMean < firstMean,
    accuracyFirst: share(hits.slice(0, WINDOW)),
    accuracyLast: share(hits.slice(-WINDOW)),
    skipped: rt.stepsSkipped(),
  };
}
