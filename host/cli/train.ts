import type { Command } from 'commander';
import { TinytrainError } from '../../compiler/errors.js';
import { readArtifact, type LoadedArtifact } from '../artifact.js';
import { Runtime } from '../runtime.js';
import { evaluateRuntime, trainRuntime, type TrainSummary } from '../train.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkOutputFile } from '../io/output-paths.js';
import { readCheckpointFile } from './user-files.js';
import { trainingProgress } from '../io/progress.js';
import type { Dataset } from '../data/dataset.js';
import { addDataOptions, openDataset, type DataOptions } from './dataset-options.js';
import { emit, floatOption, intOption, note, pct } from './common.js';
import { ENGINES, trainOnEngine, type Engine } from '../engines/index.js';

interface TrainCliOptions extends DataOptions {
  steps?: number;
  epochs?: number;
  lr: number;
  seed: number;
  save?: string;
  load?: string;
  eval: boolean;
  json?: boolean;
  variant?: 'simd' | 'scalar';
  engine: string;
}

export function registerTrain(program: Command): void {
  addDataOptions(
    program.command('train').description("train a compiled runtime on a dataset (on the embedded engine, Node's V8)").argument('<dir>', 'artifact folder from `tinytrain compile`'),
  )
    .option('--steps <n>', 'training steps (one sample each)', intOption('--steps', 1))
    .option('--epochs <e>', 'passes over the training set (instead of --steps)', intOption('--epochs', 1))
    .option('--lr <rate>', 'learning rate', floatOption('--lr', 0, 10), 0.01)
    .option('--seed <s>', 'seed for sample order and stochastic rounding', intOption('--seed'), 0)
    .option('--load <file>', 'start from this checkpoint instead of the compiled weights')
    .option('--save <file>', 'write the trained parameters (checkpoint) here, atomically; its folder must exist, and only a checkpoint may be replaced (checked before training)')
    .option('--no-eval', 'skip the test-split evaluation after training')
    .option('--variant <v>', "simd | scalar module for the node engine (default: the target's)")
    .option('--engine <name>', `where the runtime runs: ${ENGINES.join(' | ')}`, 'node')
    .option('--json', 'print one JSON object on stdout')
    .action(trainCommand);
}

async function trainCommand(dir: string, o: TrainCliOptions): Promise<void> {
  checkTrainOptions(o);
  const art = readArtifact(dir);
  // Before any work: a training run must not be thrown away because --save cannot be written.
  const checkSave = (): void => {
    if (o.save) checkOutputFile(o.save, 'checkpoint', '--save');
  };
  checkSave();
  const loaded = o.load ? readCheckpointFile(o.load, art.manifest.checkpoint.bytes) : undefined;
  const ds = openDataset(o, 'train', art.manifest, o.limit);
  const steps = o.steps ?? (o.epochs ?? 1) * ds.count;
  const rt = await Runtime.load(art, o.variant);
  rt.reset(o.seed);
  if (loaded) rt.importCheckpoint(loaded, o.load);
  const summary = o.engine === 'node' ? trainInProcess(rt, ds, steps, o) : await trainOnOtherEngine(o.engine as Engine, art, rt, ds, steps, o, loaded);
  const accuracy = o.eval ? evaluateRuntime(rt, openDataset(o, 'test', art.manifest, undefined)) : null;
  if (o.save) writeFileAtomic(o.save, rt.exportCheckpoint(), { beforeRename: checkSave });
  const result = trainResult(dir, art, ds, o, summary, accuracy, rt.stepsNonFinite());
  emit(!!o.json, result, () => trainText(result));
}

/** Option combinations commander cannot check. */
function checkTrainOptions(o: TrainCliOptions): void {
  if (o.steps !== undefined && o.epochs !== undefined) throw new TinytrainError('give --steps or --epochs, not both');
  if (o.variant && o.variant !== 'simd' && o.variant !== 'scalar') throw new TinytrainError(`--variant must be simd or scalar, got '${o.variant}'`);
  if (!(ENGINES as readonly string[]).includes(o.engine)) {
    throw new TinytrainError(`unknown engine '${o.engine}'`, `choose one of: ${ENGINES.join(', ')}`);
  }
}

/** The embedded engine runs in this process, with a live progress bar. */
function trainInProcess(rt: Runtime, ds: Dataset, steps: number, o: TrainCliOptions): TrainSummary {
  const bar = trainingProgress('train', steps);
  const summary = trainRuntime(rt, ds, { steps, lr: o.lr, seed: o.seed, every: 100, onProgress: bar.onProgress });
  bar.stop();
  return summary;
}

/**
 * Other engines run the artifact's WASI build out of process; the checkpoint they write
 * comes back into this runtime for evaluation and saving.
 */
async function trainOnOtherEngine(
  engine: Engine,
  art: LoadedArtifact,
  rt: Runtime,
  ds: Dataset,
  steps: number,
  o: TrainCliOptions,
  loaded: Uint8Array | undefined,
): Promise<TrainSummary> {
  note(`training on ${engine}...`);
  const r = await trainOnEngine(engine, art, ds, { steps, lr: o.lr, seed: o.seed, ...(loaded ? { load: loaded } : {}) });
  rt.importCheckpoint(r.checkpoint, `${engine} checkpoint`);
  return r;
}

type TrainResult = ReturnType<typeof trainResult>;

/** What --json prints. */
function trainResult(dir: string, art: LoadedArtifact, ds: Dataset, o: TrainCliOptions, summary: TrainSummary, accuracy: number | null, nonFiniteGradientSteps: number) {
  return {
    artifact: dir,
    target: art.manifest.target,
    engine: o.engine,
    data: o.data,
    classes: o.classes ?? null,
    samples: ds.count,
    steps: summary.steps,
    lr: o.lr,
    seed: o.seed,
    loss: summary.loss,
    trainAccuracy: summary.accuracy,
    accuracy,
    skippedSteps: summary.skipped,
    nonFiniteGradientSteps,
    checkpoint: o.save ?? null,
  };
}

function trainText(r: TrainResult): string {
  return [
    // A loss on target values (mse, multi-label bce) has no accuracy: NaN, not printed.
    `steps ${r.steps}  loss ${r.loss.toFixed(4)}` +
      (Number.isNaN(r.trainAccuracy) ? '' : `  train accuracy ${pct(r.trainAccuracy)}`) +
      (r.accuracy !== null && !Number.isNaN(r.accuracy) ? `  test accuracy ${pct(r.accuracy)}` : ''),
    ...(r.skippedSteps ? [`skipped ${r.skippedSteps} steps with a non-finite loss or learning rate`] : []),
    ...(r.nonFiniteGradientSteps ? [`${r.nonFiniteGradientSteps} steps had non-finite gradients (those parameters were left unchanged)`] : []),
    ...(r.checkpoint ? [`saved checkpoint ${r.checkpoint}`] : []),
  ].join('\n');
}
