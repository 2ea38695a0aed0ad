/**
 * Measures how int8 parameter updates should be rounded, and what QAS does, on the demo's
 * transfer task (MNIST digits 0-4 pretrained in float32 -> fine-tune on 1000 images of
 * digits 5-9 on the device runtime, evaluated on all test images of digits 5-9).
 *
 *   npm run bench:rounding  -> table on stdout, bench/results/rounding.json
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../compiler/index.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { packageRoot } from '../compiler/codegen/build.js';
import { getTarget } from '../targets/index.js';
import { filterClasses, loadDataset, takeFirst } from '../host/data/dataset.js';
import { pretrain } from '../host/pretrain.js';
import { readArtifact, writeArtifact } from '../host/artifact.js';
import { Runtime } from '../host/runtime.js';
import { evaluateRuntime, trainRuntime } from '../host/train.js';
import { writeFileAtomic } from '../host/io/atomic.js';

const SEEDS = [1, 2, 3];
const SETTINGS = [
  { name: 'QAS, stochastic rounding (default)', qas: true, rounding: 'stochastic' as const },
  { name: 'QAS, round to nearest', qas: true, rounding: 'nearest' as const },
  { name: 'no QAS, stochastic rounding', qas: false, rounding: 'stochastic' as const },
];

async function main(): Promise<void> {
  const root = packageRoot();
  const spec = JSON.parse(readFileSync(join(root, 'examples', 'mnist-cnn.json'), 'utf8')) as ModelSpec;
  const train = loadDataset('mnist', 'train');
  const test = loadDataset('mnist', 'test');
  const device = takeFirst(filterClasses(train, [5, 6, 7, 8, 9]), 1000);
  const newTest = filterClasses(test, [5, 6, 7, 8, 9]);
  const pre = pretrain(spec, filterClasses(train, [0, 1, 2, 3, 4]), { steps: 4000, lr: 0.01, momentum: 0, seed: 1 });
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-bench-'));
  const rows = [];
  try {
    for (const s of SETTINGS) {
      const dir = join(work, s.name.replace(/\W+/g, '-'));
      await writeArtifact(dir, await compile(pre.spec, { target: getTarget('stm32f746'), qas: s.qas, rounding: s.rounding }));
      const accs: number[] = [];
      for (const seed of SEEDS) {
        const rt = await Runtime.load(readArtifact(dir));
        rt.reset(seed);
        trainRuntime(rt, device, { steps: 3000, lr: 0.01, seed });
        accs.push(evaluateRuntime(rt, newTest));
      }
      const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
      const sd = Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, accs.length - 1));
      rows.push({ ...s, accuracies: accs, mean, sd });
      process.stdout.write(`${s.name.padEnd(40)} ${(100 * mean).toFixed(2)} ± ${(100 * sd).toFixed(2)} %  (seeds ${SEEDS.join(', ')})\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const out = join(root, 'bench', 'results', 'rounding.json');
  writeFileAtomic(
    out,
    JSON.stringify(
      {
        task: 'mnist-cnn: pretrain digits 0-4 (float32, 4000 steps) -> fine-tune on device, 1000 images of digits 5-9, 3000 steps, lr 0.01; accuracy on the 4861 test images of digits 5-9',
        results: rows,
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(`wrote ${out}\n`);
}

await main();
