/**
 * Instructions per training step on Cortex-M4, M7 and M33 in QEMU, whole and per program
 * step (layer and phase), for mnist-cnn (full update) and MobileNetV2-w0.35-128 with the
 * anchor's 99 KB scheme, both compiled for stm32f746 (issue 15):
 *
 *   npm run bench:mcu [-- --variant NAME] [--model ID] [--core CORE]
 *     -> tables on stdout, bench/results/mcu.json and bench/results/mcu.md
 *   node dist/bench/mcu.js --render   (mcu.md again from mcu.json, measuring nothing)
 *
 * --variant names the firmware build being measured (default: "native", the firmware as
 * built by host/firmware/build.ts at this commit, or "wasm2c" when $TINYTRAIN_FIRMWARE_NATIVE=0
 * builds it without native kernels: the before of issue 15). Rows of other variants already in
 * mcu.json are kept, so a run after a firmware change adds its rows beside the old ones.
 * Instruction counts are a proxy for time: QEMU is not cycle-accurate (see bench/support/mcu-*.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compile } from '../compiler/index.js';
import { packageRoot } from '../compiler/codegen/build.js';
import { normaliseImage } from '../compiler/float/network.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { parseScheme } from '../compiler/scheme/parse.js';
import { readArtifact, writeArtifact, type LoadedArtifact } from '../host/artifact.js';
import { imageAt, loadDataset, takeFirst, type Dataset } from '../host/data/dataset.js';
import { writeFileAtomic } from '../host/io/atomic.js';
import { getTarget } from '../targets/index.js';
import { nativeKernelsEnabled } from '../host/firmware/native-kernels.js';
import { MCU_CORES, onCore } from './support/mcu-cores.js';
import { checkTickRate, type TickCheck } from './support/mcu-calibrate.js';
import { measureOnCore, syntheticImages } from './support/mcu-measure.js';
import { mergeRows, REFERENCE, renderMarkdown, type McuResults, type McuRow } from './support/mcu-report.js';

interface McuCase {
  id: string;
  model: string;
  scheme: string;
  schemeName: string;
  /** Training steps after the first that are measured. */
  k: number;
  data: (a: LoadedArtifact) => Dataset;
  calibration: (spec: ModelSpec) => Float32Array[];
}

const mnistTrain = (): Dataset => takeFirst(loadDataset('mnist', 'train'), 64);

const CASES: McuCase[] = [
  {
    id: 'mnist-cnn',
    model: 'examples/mnist-cnn.json',
    scheme: 'full',
    schemeName: 'full update',
    k: 4,
    data: () => mnistTrain(),
    calibration: () => Array.from({ length: 64 }, (_, i) => normaliseImage(imageAt(mnistTrain(), i), [0, 1])),
  },
  {
    id: 'mbv2-w0.35-128',
    model: 'examples/mbv2-w0.35-128.json',
    scheme: 'examples/schemes/mbv2-99kb.json',
    schemeName: '99kb',
    k: 3,
    data: (a) => syntheticImages(a, 4),
    // The firmware test's fixed synthetic calibration image (test/firmware.test.ts).
    calibration: () => [Float32Array.from({ length: 128 * 128 * 3 }, (_, i) => Math.sin(i * 0.37))],
  },
];

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0]!;
  } catch {
    return 'unavailable';
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string', default: nativeKernelsEnabled() ? 'native' : 'wasm2c' },
      render: { type: 'boolean', default: false },
      model: { type: 'string', multiple: true },
      core: { type: 'string', multiple: true },
    },
  });
  const root = packageRoot();
  const jsonPath = join(root, 'bench', 'results', 'mcu.json');
  if (values.render) return writeMarkdown(root, JSON.parse(readFileSync(jsonPath, 'utf8')) as McuResults);
  const base = getTarget('stm32f746');
  const cases = CASES.filter((c) => !values.model || values.model.includes(c.id));
  const cores = MCU_CORES.filter((c) => !values.core || values.core.includes(c.core));
  if (!cases.length || !cores.length) throw new Error(`nothing to measure: models ${CASES.map((c) => c.id).join(', ')}; cores ${MCU_CORES.map((c) => c.core).join(', ')}`);
  const commit = firstLine('git', ['-C', root, 'rev-parse', '--short=12', 'HEAD']);
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-bench-mcu-'));
  const fresh: McuRow[] = [];
  const ticks: Record<string, TickCheck> = {};
  try {
    for (const core of cores) ticks[core.machine] = await checkTickRate(core, onCore(base, core), work);
    for (const c of cases) {
      const spec = JSON.parse(readFileSync(join(root, c.model), 'utf8')) as ModelSpec;
      const scheme = parseScheme(buildGraph(spec), c.scheme === 'full' ? 'full' : join(root, c.scheme));
      const dir = join(work, c.id);
      await writeArtifact(dir, await compile(spec, { target: base, scheme, calibration: c.calibration(spec) }));
      const a = readArtifact(dir);
      for (const core of cores) {
        process.stderr.write(`${c.id} on ${core.core} (${core.machine})...\n`);
        const m = await measureOnCore(a, onCore(base, core), core, c.data(a), c.k, work);
        process.stderr.write(`  ${(m.instructionsPerStep / 1e6).toFixed(2)} M instructions/step (${(m.wallMs / 1000).toFixed(0)} s)\n`);
        fresh.push({
          variant: values.variant,
          commit,
          date: new Date().toISOString(),
          core: core.core,
          machine: core.machine,
          model: c.id,
          scheme: c.schemeName,
          target: base.name,
          ...m,
        });
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const previous = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as McuResults) : undefined;
  const results: McuResults = {
    bench: 'mcu',
    note:
      'Instructions under qemu-system-arm -icount shift=0 (SysTick ticks x 1e9 / board clock). A proxy for time: QEMU is not cycle-accurate; ' +
      'a Cortex-M7 can issue two instructions per cycle, a Cortex-M4 takes more than one cycle for loads and taken branches.',
    reference: REFERENCE,
    tickChecks: { ...previous?.tickChecks, ...ticks },
    tools: {
      qemu: firstLine('qemu-system-arm', ['--version']),
      'arm-none-eabi-gcc': firstLine('arm-none-eabi-gcc', ['--version']),
      wabt: `wasm2c ${firstLine('wasm2c', ['--version'])}`,
    },
    rows: mergeRows(previous?.rows ?? [], fresh),
  };
  writeFileAtomic(jsonPath, JSON.stringify(results, null, 2) + '\n');
  writeMarkdown(root, results);
}

function writeMarkdown(root: string, results: McuResults): void {
  const md = renderMarkdown(results);
  writeFileAtomic(join(root, 'bench', 'results', 'mcu.md'), md + '\n');
  process.stdout.write(md + '\n');
}

await main();
