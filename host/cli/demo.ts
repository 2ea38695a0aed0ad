/**
 * The end-to-end story in one command: pretrain on the desktop, compile for a device,
 * fine-tune on the device runtime with data it has never seen, and compare with the
 * same fine-tuning in float32.
 *
 * Transfer task: MNIST digits 0-4 (desktop pretraining) -> digits 5-9 (on device). The
 * device gets a fixed small training set (as a device would collect), accuracy is measured
 * on all test images of digits 5-9. The classifier has 10 outputs, so before fine-tuning
 * the new digits are never predicted: the "before" accuracy is an honest 0.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { compile } from '../../compiler/index.js';
import { buildGraph } from '../../compiler/ir/graph.js';
import { loadParams } from '../../compiler/ir/params.js';
import type { ModelSpec } from '../../compiler/ir/model.js';
import { getTarget, type Target } from '../../targets/index.js';
import { packageRoot } from '../../compiler/codegen/build.js';
import { filterClasses, loadDataset, takeFirst, type Dataset } from '../data/dataset.js';
import { readArtifact, writeArtifact, type LoadedArtifact } from '../artifact.js';
import { Runtime } from '../runtime.js';
import { pretrain } from '../pretrain.js';
import { evaluateFloat, evaluateRuntime, trainFloat, trainRuntime } from '../train.js';
import { trainingProgress } from '../io/progress.js';
import { checkOutputFolder } from '../io/output-paths.js';
import { emit, floatOption, intOption, kb, note, pct } from './common.js';

interface DemoOptions {
  target: string;
  pretrainSteps: number;
  steps: number;
  deviceSamples: number;
  lr: number;
  seed: number;
  out?: string;
  json?: boolean;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('pretrain mnist-cnn on digits 0-4, compile for a device, fine-tune on device on digits 5-9, compare with float32')
    .option('--target <name>', 'device target', 'stm32f746')
    .option('--pretrain-steps <n>', 'desktop float32 pretraining steps', intOption('--pretrain-steps', 1), 4000)
    .option('--steps <n>', 'on-device fine-tuning steps', intOption('--steps', 1), 3000)
    .option('--device-samples <n>', 'size of the on-device training set (digits 5-9)', intOption('--device-samples', 1), 1000)
    .option('--lr <rate>', 'learning rate (pretraining and fine-tuning)', floatOption('--lr', 0, 10), 0.01)
    .option('--seed <s>', 'seed', intOption('--seed'), 1)
    .option('--out <dir>', 'keep the compiled artifact here: a new or empty folder, or an artifact tinytrain wrote (default: a temp folder, removed)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (o: DemoOptions) => runDemo(o));
}

/** The transfer task's data: old digits for desktop pretraining, a few new ones for the device, both test sets. */
interface DemoData {
  oldTrain: Dataset;
  newTrain: Dataset;
  oldTest: Dataset;
  newTest: Dataset;
}

/** Accuracy on the new and on the old digits. */
interface TaskAccuracy {
  newTask: number;
  oldTask: number;
}

/** One fine-tuning run: accuracy before and after, and the final training loss. */
interface FineTuning {
  before: TaskAccuracy;
  after: TaskAccuracy;
  finalTrainLoss: number;
}

const OLD_DIGITS = [0, 1, 2, 3, 4];
const NEW_DIGITS = [5, 6, 7, 8, 9];

async function runDemo(o: DemoOptions): Promise<void> {
  const target = getTarget(o.target);
  if (o.out) checkOutputFolder(o.out, '--out'); // before a minute of pretraining
  const spec = JSON.parse(readFileSync(join(packageRoot(), 'examples', 'mnist-cnn.json'), 'utf8')) as ModelSpec;
  const data = demoData(o.deviceSamples);
  const t0 = Date.now();
  const pre = pretrainOldDigits(spec, data, o);
  note('2/4 compile int8 training runtime...');
  const artifact = await compile(pre.spec, { target });
  const dir = o.out ?? mkdtempSync(join(tmpdir(), 'tinytrain-demo-'));
  try {
    await writeArtifact(o.out ?? join(dir, 'artifact'), artifact);
    const art = readArtifact(o.out ?? join(dir, 'artifact'));
    const int8 = await fineTuneOnDevice(art, target, data, o);
    const float32 = fineTuneFloat(pre.spec, data, o);
    const result = demoResult(art, target, data, o, int8, float32, t0);
    emit(!!o.json, result, () => demoText(result));
  } finally {
    if (!o.out) rmSync(dir, { recursive: true, force: true });
  }
}

function demoData(deviceSamples: number): DemoData {
  const train = loadDataset('mnist', 'train');
  const test = loadDataset('mnist', 'test');
  return {
    oldTrain: filterClasses(train, OLD_DIGITS),
    newTrain: takeFirst(filterClasses(train, NEW_DIGITS), deviceSamples),
    oldTest: filterClasses(test, OLD_DIGITS),
    newTest: filterClasses(test, NEW_DIGITS),
  };
}

function taskAccuracy(evaluate: (ds: Dataset) => number, data: DemoData): TaskAccuracy {
  return { newTask: evaluate(data.newTest), oldTask: evaluate(data.oldTest) };
}

/** Step 1: float32 pretraining on the old digits (the desktop's part). */
function pretrainOldDigits(spec: ModelSpec, data: DemoData, o: DemoOptions): ReturnType<typeof pretrain> {
  const bar = trainingProgress('1/4 pretrain float32 on digits 0-4 (desktop)', o.pretrainSteps);
  const pre = pretrain(spec, data.oldTrain, { steps: o.pretrainSteps, lr: o.lr, momentum: 0, seed: o.seed, onProgress: bar.onProgress });
  bar.stop();
  return pre;
}

/** Step 3: fine-tuning on the new digits on the compiled int8 runtime. */
async function fineTuneOnDevice(art: LoadedArtifact, target: Target, data: DemoData, o: DemoOptions): Promise<FineTuning & { skippedSteps: number }> {
  const rt = await Runtime.load(art);
  rt.reset(o.seed);
  const before = taskAccuracy((ds) => evaluateRuntime(rt, ds), data);
  const bar = trainingProgress(`3/4 fine-tune int8 on ${target.name} runtime (digits 5-9)`, o.steps);
  const dev = trainRuntime(rt, data.newTrain, { steps: o.steps, lr: o.lr, seed: o.seed + 7, onProgress: bar.onProgress });
  bar.stop();
  const after = taskAccuracy((ds) => evaluateRuntime(rt, ds), data);
  return { before, after, finalTrainLoss: dev.loss, skippedSteps: dev.skipped };
}

/** Step 4: the same fine-tuning (same samples, same order) in float32 on the desktop, for reference. */
function fineTuneFloat(spec: ModelSpec, data: DemoData, o: DemoOptions): FineTuning {
  const bar = trainingProgress('4/4 same fine-tuning in float32 (desktop reference)', o.steps);
  const g = buildGraph(spec);
  const fp = loadParams(g, spec);
  const before = taskAccuracy((ds) => evaluateFloat(g, fp, ds), data);
  const flt = trainFloat(g, fp, data.newTrain, { steps: o.steps, lr: o.lr, momentum: 0, seed: o.seed + 7, onProgress: bar.onProgress });
  bar.stop();
  const after = taskAccuracy((ds) => evaluateFloat(g, fp, ds), data);
  return { before, after, finalTrainLoss: flt.loss };
}

type DemoResult = ReturnType<typeof demoResult>;

/** What --json prints. */
function demoResult(art: LoadedArtifact, target: Target, data: DemoData, o: DemoOptions, int8: FineTuning & { skippedSteps: number }, float32: FineTuning, t0: number) {
  const m = art.manifest;
  return {
    task: 'MNIST: pretrain on digits 0-4 (desktop, float32), fine-tune on digits 5-9 (device)',
    target: target.name,
    model: m.model,
    scheme: m.scheme.name,
    memory: {
      sramPeakBytes: m.memory.sramPeakBytes,
      flashBytes: m.memory.flashBytes,
      targetSramBytes: target.sramBytes,
      targetFlashBytes: target.flashBytes,
      breakdown: m.memory.breakdown,
    },
    deviceTrainingSamples: data.newTrain.count,
    testSamples: { newTask: data.newTest.count, oldTask: data.oldTest.count },
    steps: o.steps,
    lr: o.lr,
    int8,
    float32,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
  };
}

/** The human summary: memory against the target, then the before/after accuracy table. */
function demoText(r: DemoResult): string {
  const row = (what: string, a: TaskAccuracy): string => `  ${what.padEnd(29)}${pct(a.newTask).padStart(16)}   ${pct(a.oldTask).padStart(16)}`;
  const mem = r.memory;
  return [
    '',
    `tinytrain demo: ${r.task}`,
    `target ${r.target}: SRAM needed ${kb(mem.sramPeakBytes)} of ${kb(mem.targetSramBytes)}, Flash needed ${kb(mem.flashBytes)} of ${kb(mem.targetFlashBytes)}`,
    `on-device training set: ${r.deviceTrainingSamples} images of digits 5-9, ${r.steps} SGD steps (batch 1, lr ${r.lr}); test: ${r.testSamples.newTask} images of digits 5-9`,
    '',
    '                               digits 5-9 (new)   digits 0-4 (old)',
    row('before fine-tuning (int8)', r.int8.before),
    row('after, int8 on device', r.int8.after),
    row('after, float32 reference', r.float32.after),
    '',
    `(${r.seconds} s; the old digits are forgotten because the device only sees new ones)`,
  ].join('\n');
}
