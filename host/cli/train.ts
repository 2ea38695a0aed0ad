import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { TinytrainError } from '../../compiler/errors.js';
import { readArtifact } from '../artifact.js';
import { Runtime } from '../runtime.js';
import { evaluateRuntime, trainRuntime } from '../train.js';
import { writeFileAtomic } from '../io/atomic.js';
import { startProgress } from '../io/progress.js';
import { addDataOptions, openDataset, type DataOptions } from './dataset-options.js';
import { emit, floatOption, intOption, pct } from './common.js';

interface TrainCliOptions extends DataOptions {
  steps?: number; epochs?: number; lr: number; seed: number; save?: string; load?: string; eval: boolean; json?: boolean; variant?: 'simd' | 'scalar';
}

export function registerTrain(program: Command): void {
  addDataOptions(program.command('train')
    .description('train a compiled runtime on a dataset (on the embedded engine, Node\'s V8)')
    .argument('<dir>', 'artifact folder from `tinytrain compile`'))
    .option('--steps <n>', 'training steps (one sample each)', intOption('--steps', 1))
    .option('--epochs <e>', 'passes over the training set (instead of --steps)', intOption('--epochs', 1))
    .option('--lr <rate>', 'learning rate', floatOption('--lr', 0, 10), 0.01)
    .option('--seed <s>', 'seed for sample order and stochastic rounding', intOption('--seed'), 0)
    .option('--load <file>', 'start from this checkpoint instead of the compiled weights')
    .option('--save <file>', 'write the trained parameters (checkpoint) here, atomically')
    .option('--no-eval', 'skip the test-split evaluation after training')
    .option('--variant <v>', 'simd | scalar module (default: the target\'s)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (dir: string, o: TrainCliOptions) => {
      if (o.steps !== undefined && o.epochs !== undefined) throw new TinytrainError('give --steps or --epochs, not both');
      if (o.variant && o.variant !== 'simd' && o.variant !== 'scalar') throw new TinytrainError(`--variant must be simd or scalar, got '${o.variant}'`);
      const art = readArtifact(dir);
      const ds = openDataset(o, 'train', art.manifest);
      const rt = await Runtime.load(art, o.variant);
      rt.reset(o.seed);
      if (o.load) {
        rt.importCheckpoint(readFileSync(o.load), o.load);
      }
      const steps = o.steps ?? (o.epochs ?? 1) * ds.count;
      const bar = startProgress('train', steps);
      let last = 0;
      const summary = trainRuntime(rt, ds, {
        steps, lr: o.lr, seed: o.seed, every: 100,
        onProgress: (done, loss, acc) => { bar.tick(done - last, { loss, acc }); last = done; },
      });
      bar.stop();
      let accuracy: number | null = null;
      if (o.eval) accuracy = evaluateRuntime(rt, openDataset(o, 'test', art.manifest));
      if (o.save) writeFileAtomic(o.save, rt.exportCheckpoint());
      const result = {
        artifact: dir, target: art.manifest.target, data: o.data, classes: o.classes ?? null, samples: ds.count,
        steps: summary.steps, lr: o.lr, seed: o.seed, loss: summary.loss, trainAccuracy: summary.accuracy,
        accuracy, skippedSteps: summary.skipped, checkpoint: o.save ?? null,
      };
      emit(!!o.json, result, () => [
        `steps ${summary.steps}  loss ${summary.loss.toFixed(4)}  train accuracy ${pct(summary.accuracy)}` +
          (accuracy !== null ? `  test accuracy ${pct(accuracy)}` : ''),
        ...(summary.skipped ? [`skipped ${summary.skipped} steps with a non-finite loss`] : []),
        ...(o.save ? [`saved checkpoint ${o.save}`] : []),
      ].join('\n'));
    });
}
