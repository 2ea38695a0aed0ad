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
import { getTarget } from '../../targets/index.js';
import { packageRoot } from '../../compiler/codegen/build.js';
import { filterClasses, loadDataset, takeFirst } from '../data/dataset.js';
import { readArtifact, writeArtifact } from '../artifact.js';
import { Runtime } from '../runtime.js';
import { pretrain } from '../pretrain.js';
import { evaluateFloat, evaluateRuntime, trainFloat, trainRuntime } from '../train.js';
import { startProgress } from '../io/progress.js';
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

async function runDemo(o: DemoOptions): Promise<void> {
  const target = getTarget(o.target);
  if (o.out) checkOutputFolder(o.out, '--out'); // before a minute of pretraining
  const spec = JSON.parse(readFileSync(join(packageRoot(), 'examples', 'mnist-cnn.json'), 'utf8')) as ModelSpec;
  const train = loadDataset('mnist', 'train');
  const test = loadDataset('mnist', 'test');
  const oldTrain = filterClasses(train, [0, 1, 2, 3, 4]);
  const newTrain = takeFirst(filterClasses(train, [5, 6, 7, 8, 9]), o.deviceSamples);
  const oldTest = filterClasses(test, [0, 1, 2, 3, 4]);
  const newTest = filterClasses(test, [5, 6, 7, 8, 9]);
  const t0 = Date.now();

  let bar = startProgress('1/4 pretrain float32 on digits 0-4 (desktop)', o.pretrainSteps);
  let last = 0;
  const pre = pretrain(spec, oldTrain, {
    steps: o.pretrainSteps,
    lr: o.lr,
    momentum: 0,
    seed: o.seed,
    onProgress: (d, loss, acc) => {
      bar.tick(d - last, { loss, acc });
      last = d;
    },
  });
  bar.stop();

  note('2/4 compile int8 training runtime...');
  const artifact = await compile(pre.spec, { target });
  const dir = o.out ?? mkdtempSync(join(tmpdir(), 'tinytrain-demo-'));
  try {
    await writeArtifact(o.out ?? join(dir, 'artifact'), artifact);
    const art = readArtifact(o.out ?? join(dir, 'artifact'));
    const rt = await Runtime.load(art);
    rt.reset(o.seed);
    const before = { newTask: evaluateRuntime(rt, newTest), oldTask: evaluateRuntime(rt, oldTest) };

    bar = startProgress(`3/4 fine-tune int8 on ${target.name} runtime (digits 5-9)`, o.steps);
    last = 0;
    const dev = trainRuntime(rt, newTrain, {
      steps: o.steps,
      lr: o.lr,
      seed: o.seed + 7,
      onProgress: (d, loss, acc) => {
        bar.tick(d - last, { loss, acc });
        last = d;
      },
    });
    bar.stop();
    const afterInt8 = { newTask: evaluateRuntime(rt, newTest), oldTask: evaluateRuntime(rt, oldTest) };

    bar = startProgress('4/4 same fine-tuning in float32 (desktop reference)', o.steps);
    last = 0;
    const g = buildGraph(pre.spec);
    const fp = loadParams(g, pre.spec);
    const beforeFloat = { newTask: evaluateFloat(g, fp, newTest), oldTask: evaluateFloat(g, fp, oldTest) };
    const flt = trainFloat(g, fp, newTrain, {
      steps: o.steps,
      lr: o.lr,
      momentum: 0,
      seed: o.seed + 7,
      onProgress: (d, loss, acc) => {
        bar.tick(d - last, { loss, acc });
        last = d;
      },
    });
    bar.stop();
    const afterFloat = { newTask: evaluateFloat(g, fp, newTest), oldTask: evaluateFloat(g, fp, oldTest) };

    const m = art.manifest;
    const result = {
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
      deviceTrainingSamples: newTrain.count,
      testSamples: { newTask: newTest.count, oldTask: oldTest.count },
      steps: o.steps,
      lr: o.lr,
      int8: { before, after: afterInt8, finalTrainLoss: dev.loss, skippedSteps: dev.skipped },
      float32: { before: beforeFloat, after: afterFloat, finalTrainLoss: flt.loss },
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    };
    emit(!!o.json, result, () =>
      [
        '',
        `tinytrain demo: ${result.task}`,
        `target ${target.name}: SRAM needed ${kb(m.memory.sramPeakBytes)} of ${kb(target.sramBytes)}, Flash needed ${kb(m.memory.flashBytes)} of ${kb(target.flashBytes)}`,
        `on-device training set: ${newTrain.count} images of digits 5-9, ${o.steps} SGD steps (batch 1, lr ${o.lr}); test: ${newTest.count} images of digits 5-9`,
        '',
        '                               digits 5-9 (new)   digits 0-4 (old)',
        `  before fine-tuning (int8)    ${pct(before.newTask).padStart(16)}   ${pct(before.oldTask).padStart(16)}`,
        `  after, int8 on device        ${pct(afterInt8.newTask).padStart(16)}   ${pct(afterInt8.oldTask).padStart(16)}`,
        `  after, float32 reference     ${pct(afterFloat.newTask).padStart(16)}   ${pct(afterFloat.oldTask).padStart(16)}`,
        '',
        `(${result.seconds} s; the old digits are forgotten because the device only sees new ones)`,
      ].join('\n'),
    );
  } finally {
    if (!o.out) rmSync(dir, { recursive: true, force: true });
  }
}
