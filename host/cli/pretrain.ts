import { InvalidArgumentError, type Command } from 'commander';
import { TinytrainError } from '../../compiler/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkOutputFile } from '../io/output-paths.js';
import { trainingProgress } from '../io/progress.js';
import { filterClasses, loadDataset, parseClassList } from '../data/dataset.js';
import { pretrain } from '../pretrain.js';
import { emit, floatOption, intOption, pct, readModelFile } from './common.js';
import { parseLoss, type LossKind } from '../../compiler/loss.js';

/** --loss: a bad value is a usage error (exit 2), as compile's. */
function lossOption(v: string): LossKind {
  try {
    return parseLoss(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function registerPretrain(program: Command): void {
  program
    .command('pretrain')
    .description('train a model in float32 on the desktop (full update) and store its weights and calibration ranges')
    .argument('<model>', 'model file')
    .requiredOption('--data <dataset>', 'training data (mnist | fashion-mnist | DIR | IMAGES,LABELS)')
    .requiredOption('--out <file>', 'model file to write (atomically); replaces only a model pretrain wrote, never a hand-written one')
    .option('--classes <list>', 'keep only these labels, e.g. 0-4')
    .option('--steps <n>', 'SGD steps (one sample each)', intOption('--steps', 1), 4000)
    .option('--lr <rate>', 'learning rate', floatOption('--lr', 0, 10), 0.01)
    .option('--momentum <m>', 'SGD momentum', floatOption('--momentum', 0, 0.999), 0)
    .option('--seed <s>', 'seed for the sample order', intOption('--seed'), 0)
    .option('--loss <loss>', 'training loss: softmax-ce | bce | mse (default: as compile chooses it)', lossOption)
    .option('--json', 'print one JSON object on stdout')
    .action((modelPath: string, o: { data: string; out: string; classes?: string; steps: number; lr: number; momentum: number; seed: number; loss?: LossKind; json?: boolean }) => {
      // Before training; this also refuses to overwrite a hand-written model (the input itself, say).
      const checkOut = (): void => checkOutputFile(o.out, 'model-json', '--out');
      checkOut();
      const spec = readModelFile(modelPath);
      let ds = loadDataset(o.data, 'train');
      if (o.classes) ds = filterClasses(ds, parseClassList(o.classes));
      if (ds.shape.join() !== spec.input.join()) throw new TinytrainError(`dataset samples are ${ds.shape.join('x')}, the model takes ${spec.input.join('x')}`);
      const bar = trainingProgress('pretrain', o.steps);
      const r = pretrain(spec, ds, { ...o, onProgress: bar.onProgress });
      bar.stop();
      writeFileAtomic(o.out, JSON.stringify(r.spec, null, 1) + '\n', { beforeRename: checkOut });
      emit(
        !!o.json,
        { out: o.out, steps: r.summary.steps, loss: r.summary.loss, trainAccuracy: r.summary.accuracy },
        () =>
          `pretrained ${spec.name}: ${r.summary.steps} steps, loss ${r.summary.loss.toFixed(4)}${Number.isNaN(r.summary.accuracy) ? '' : `, train accuracy ${pct(r.summary.accuracy)}`}\nwrote ${o.out}`,
      );
    });
}
