/**
 * Desktop pretraining (float32, full update): trains a model spec on a dataset and
 * returns a new spec holding the trained params and the calibration ranges measured on
 * the training data, ready for `tinytrain compile`.
 */
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
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
  onProgress?: (done: number, meanLoss: number, accuracy: number) => void;
}

export function pretrain(spec: ModelSpec, ds: Dataset, o: PretrainOptions): { spec: ModelSpec; params: ParamSet; summary: TrainSummary } {
  const g = buildGraph(spec);
  const params = loadParams(g, spec);
  const summary = trainFloat(g, params, ds, { ...o, every: 200 });
  const calib = [...sampleOrder(ds.count, o.calibrationSamples ?? 200, o.seed + 1)].map((i) => normaliseImage(imageAt(ds, i), g.inputRange));
  const ranges = calibrate(g, params, calib);
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
