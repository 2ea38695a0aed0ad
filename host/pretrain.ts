/**
 * Desktop pretraining (float32, full update): trains a model spec on a dataset and
 * returns a new spec holding the trained params and the calibration ranges measured on
 * the training data, ready for `tinytrain compile`.
 */
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { chooseLoss, type LossKind } from '../compiler/loss.js';
import { encodeParams, loadParams, type ParamSet } from '../compiler/ir/params.js';
import { calibrate } from '../compiler/quantize/quantize.js';
import { normaliseImage } from '../compiler/float/network.js';
import { imageAt, type Dataset } from './data/dataset.js';
import { sampleOrder, trainFloat, type TrainSummary } from './train.js';
import { PRETRAINED_MODEL_GENERATOR } from './io/provenance.js';

export interface PretrainOptions {
  steps: number;
  lr: number;
  momentum: number;
  seed: number;
  calibrationSamples?: number;
  /** The loss (compiler/loss.ts); default: by the model's output, as compile chooses it. */
  loss?: LossKind;
  onProgress?: (done: number, meanLoss: number, accuracy: number) => void;
}

export function pretrain(spec: ModelSpec, ds: Dataset, o: PretrainOptions): { spec: ModelSpec; params: ParamSet; summary: TrainSummary } {
  // Trained with the loss compile will use, on the graph it trains (bce: without a final sigmoid)...
  const loss = chooseLoss(spec, o.loss);
  const g = buildGraph(loss.spec);
  const params = loadParams(g, spec);
  const summary = trainFloat(g, params, ds, { ...o, loss: loss.kind, every: 200 });
  // ...and calibrated on the whole model, so every tensor of the file has its range.
  const whole = buildGraph(spec);
  const calib = [...sampleOrder(ds.count, o.calibrationSamples ?? 200, o.seed + 1)].map((i) => normaliseImage(imageAt(ds, i), g.inputRange));
  const ranges = calibrate(whole, params, calib);
  const out: ModelSpec = {
    ...spec,
    // Marks the file as tinytrain's, so a later `pretrain --out` may replace it (host/io/output-paths.ts).
    generator: PRETRAINED_MODEL_GENERATOR,
    params: encodeParams(params),
    calibration: Object.fromEntries(ranges),
    notes: `${spec.notes ?? ''} Pretrained by tinytrain on ${ds.name} (${ds.count} samples, ${o.steps} steps, lr ${o.lr}, momentum ${o.momentum}, seed ${o.seed}).`.trim(),
  };
  return { spec: out, params, summary };
}
