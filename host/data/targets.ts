/**
 * What a sample's training target is for an artifact's loss (compiler/loss.ts), checked
 * once here for every host: a class label (softmax-ce; one-output bce: 0 or 1), or K
 * float32 values (multi-label bce: each 0 or 1; mse: any finite value).
 */
import { TinytrainError } from '../../compiler/errors.js';
import { manifestLabelLimit, manifestLoss, type Manifest } from '../../compiler/manifest.js';
import type { Dataset } from './dataset.js';

/** The dataset's targets fit the artifact's loss: labels in range, or K valid values per sample. Throws a TinytrainError naming the first bad one. */
export function checkDatasetTargets(m: Manifest, ds: Dataset): void {
  const loss = manifestLoss(m);
  if (!loss.targets) {
    if (ds.targets) {
      throw new TinytrainError(
        `dataset ${ds.name} has ${ds.targets.width} targets per sample, but the artifact's loss (${loss.kind}) trains on one label per sample`,
        labelHint(m),
      );
    }
    const limit = manifestLabelLimit(m);
    for (let i = 0; i < ds.count; i++) {
      if (ds.labels[i]! >= limit) throw new TinytrainError(`label ${ds.labels[i]} of sample ${i} is outside ${labelRange(m)}`, 'check that the dataset matches the model');
    }
    return;
  }
  const k = loss.targets.count;
  if (!ds.targets) {
    throw new TinytrainError(
      `the artifact's loss (${loss.kind}, ${k} outputs) trains on ${k} target values per sample, but dataset ${ds.name} has one label per sample`,
      `give a labels file of shape [N, ${k}] (IDX: u8 0/1 for bce, float32 for mse)`,
    );
  }
  if (ds.targets.width !== k) {
    throw new TinytrainError(`dataset ${ds.name} has ${ds.targets.width} targets per sample, the model has ${k} outputs`, `give a labels file of shape [N, ${k}]`);
  }
  for (let i = 0; i < ds.count; i++) checkTargetValues(m, ds.targets.values.subarray(i * k, (i + 1) * k), `sample ${i}`);
}

/** One sample's K target values for the artifact's loss. */
export function checkTargetValues(m: Manifest, values: ArrayLike<number>, where: string): void {
  const loss = manifestLoss(m);
  const k = loss.targets?.count ?? 0;
  if (values.length !== k) throw new TinytrainError(`${where}: ${values.length} target values, the artifact's loss takes ${k}`, labelHint(m));
  for (let j = 0; j < k; j++) {
    const v = values[j]!;
    if (!Number.isFinite(v)) throw new TinytrainError(`${where}: target ${j} is ${v}, not a finite number`, 'targets must be finite');
    if (loss.kind === 'bce' && v !== 0 && v !== 1)
      throw new TinytrainError(`${where}: target ${j} is ${v}; bce targets are 0 or 1`, 'multi-label targets say per output whether it applies (0 or 1)');
  }
}

function labelRange(m: Manifest): string {
  const loss = manifestLoss(m);
  return loss.kind === 'bce' ? 'the bce labels 0 and 1' : `the model's ${m.classes} classes`;
}

function labelHint(m: Manifest): string {
  const loss = manifestLoss(m);
  return loss.targets
    ? `this artifact was compiled with --loss ${loss.kind}: give ${loss.targets.count} targets per sample`
    : 'give one label per sample (an IDX file of shape [N])';
}
