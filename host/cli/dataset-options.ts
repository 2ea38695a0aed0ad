/** --data/--classes/--limit, shared by train and eval. */
import type { Command } from 'commander';
import { checkDatasetTargets } from '../data/targets.js';
import { TinytrainError } from '../../compiler/errors.js';
import type { Manifest } from '../../compiler/manifest.js';
import { filterClasses, loadDataset, parseClassList, takeFirst, type Dataset, type Split } from '../data/dataset.js';
import { intOption } from './common.js';

export interface DataOptions {
  data: string;
  classes?: string;
  limit?: number;
}

export function addDataOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--data <dataset>', 'mnist | fashion-mnist | DIR with IDX files | IMAGES.idx,LABELS.idx')
    .option('--classes <list>', 'keep only these labels, e.g. 5-9 or 0,2,4')
    .option('--limit <n>', 'use only the first N samples (after --classes)', intOption('--limit', 1));
}

/**
 * The split's samples (--classes applied) for model `m`. `limit`: keep only the first N, for
 * the split a command reads as its data (train's training split, eval's test split) and not
 * for train's closing evaluation, which measures the whole test split.
 */
export function openDataset(o: DataOptions, split: Split, m: Manifest, limit: number | undefined): Dataset {
  let ds = loadDataset(o.data, split);
  if (o.classes) ds = filterClasses(ds, parseClassList(o.classes));
  if (limit !== undefined) ds = takeFirst(ds, limit);
  const want = m.inputs[0]!.shape;
  if (ds.shape.join('x') !== want.join('x')) {
    throw new TinytrainError(`dataset ${o.data} has samples of shape ${ds.shape.join('x')}, the model takes ${want.join('x')}`, 'use a dataset that matches the model input');
  }
  // Labels in range for the artifact's loss, or K valid targets per sample (host/data/targets.ts).
  checkDatasetTargets(m, ds);
  return ds;
}
