/**
 * The reference's three networks, each with its own ~100 KB scheme, trained as firmware on
 * an emulated STM32F746 (QEMU): the same losses and checkpoint bytes as Node, and the SRAM
 * the device really uses (.data + .bss from arm-none-eabi-size, plus the stack high-water
 * mark the firmware measures) against the manifest's two accountings.
 *
 *   npm run build && node dist/bench/memory-firmware.js   -> bench/results/memory-firmware.json
 *
 * Needs the firmware tools (bash scripts/setup-tests.sh); a few minutes on 2 cores.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../compiler/index.js';
import { packageRoot } from '../compiler/codegen/build.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { schemeFromJson } from '../compiler/scheme/parse.js';
import { readArtifact, writeArtifact } from '../host/artifact.js';
import { encodeCheckpoint } from '../host/checkpoint.js';
import type { Dataset } from '../host/data/dataset.js';
import { buildFirmware } from '../host/firmware/build.js';
import { erasedFlash, newestSlot } from '../host/firmware/flash-slots.js';
import { firmwareReport, runFirmwareJob } from '../host/firmware/qemu.js';
import { Runtime } from '../host/runtime.js';
import { trainRuntime } from '../host/train.js';
import { writeFileAtomic } from '../host/io/atomic.js';
import { getTarget } from '../targets/index.js';
import { NETWORKS } from './memory.js';

const STEPS = 3;
const LR = 0.01;
const SEED = 5;

/** Two fixed pseudo-random images with different labels (the bytes only need to match on both sides). */
function images(shape: [number, number, number], classes: number): Dataset {
  let k = 12345;
  const n = shape[0] * shape[1] * shape[2];
  const data = Uint8Array.from({ length: 2 * n }, () => (k = (k * 1103515245 + 12345) >>> 0) >>> 24);
  return { name: 'synthetic', images: data, labels: Uint8Array.from([0, 1 % classes]), count: 2, shape, classes };
}

async function network(model: string, work: string): Promise<Record<string, unknown>> {
  const target = getTarget('stm32f746');
  const spec = JSON.parse(readFileSync(join(packageRoot(), 'examples', `tte-${model}.json`), 'utf8')) as ModelSpec;
  const graph = buildGraph(spec);
  const x = Float32Array.from({ length: graph.inputShape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37));
  const dir = join(work, model);
  await writeArtifact(dir, await compile(spec, { target, scheme: schemeFromJson(graph, spec.scheme, 'own'), calibration: [x] }));
  const a = readArtifact(dir);
  const m = a.manifest;
  const b = await buildFirmware(a, target, join(dir, `firmware-${target.name}.elf`));
  const ds = images(m.inputs[0]!.shape as [number, number, number], m.classes);
  const run = await runFirmwareJob(a, target, ds, { steps: STEPS, lr: LR, seed: SEED, resume: false, flash: erasedFlash(m), lossEvery: 1 });
  const r = firmwareReport(run);
  const slot = newestSlot(m, run.flash);
  const rt = await Runtime.load(a);
  rt.reset(SEED);
  const losses: number[] = [];
  trainRuntime(rt, ds, { steps: STEPS, lr: LR, seed: SEED, every: 1, onProgress: (_, loss) => losses.push(loss) });
  const sameCheckpoint = !!slot && Buffer.from(encodeCheckpoint(m, slot.payload)).equals(Buffer.from(rt.exportCheckpoint()));
  const measured = b.sizes.data + b.sizes.bss + r.stackPeakBytes;
  return {
    model,
    scheme: m.scheme.name,
    steps: STEPS,
    sameLossesAsNode: JSON.stringify(r.losses) === JSON.stringify(losses),
    sameCheckpointAsNode: sameCheckpoint,
    dataBytes: b.sizes.data,
    bssBytes: b.sizes.bss,
    stackPeakBytes: r.stackPeakBytes,
    linkedStackBytes: b.stack.bytes,
    stackSource: b.stack.source,
    firmwareSramBytes: b.sramUsedBytes,
    stackReserveBytes: m.memory.accounting.stackBytes,
    measuredSramBytes: measured,
    allInclusiveBytes: m.memory.accounting.allInclusiveBytes,
    referenceStyleBytes: m.memory.accounting.referenceStyleBytes,
    insideAllInclusive: measured <= m.memory.accounting.allInclusiveBytes,
  };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-memory-firmware-'));
  try {
    const rows: Array<Record<string, unknown>> = [];
    for (const n of NETWORKS) {
      const row = await network(n.model, work);
      rows.push(row);
      process.stdout.write(`${JSON.stringify(row)}\n`);
    }
    const out = join(packageRoot(), 'bench', 'results', 'memory-firmware.json');
    writeFileAtomic(
      out,
      JSON.stringify(
        {
          target: 'stm32f746 (QEMU mps2-an500)',
          note: 'firmwareSramBytes = .data + .bss + the stack the ELF links (its call graph worst case); measuredSramBytes = .data + .bss + the measured stack peak; allInclusiveBytes: the manifest (the target reserve of 16 KiB for the stack)',
          rows,
        },
        null,
        2,
      ) + '\n',
    );
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('memory-firmware.js')) await main();
