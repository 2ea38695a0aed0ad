/**
 * Instructions per native kernel call, per parameter record, on one Cortex-M core in QEMU
 * (issue 15): the program-step marks of `npm run bench:mcu` cannot split a streamed chain,
 * whose layers run row by row inside one program step. This builds the profiling firmware
 * with TT_KPROF (targets/firmware/native-kprof.h): each native kernel call is charged to
 * its record, and the table below names the record's shape for the int8 convs.
 *
 *   npm run build && node dist/bench/mcu-kernels.js --artifact DIR [--core cortex-m7] [--steps 3]
 *
 * DIR is a compiled artifact for an MCU target (e.g. `tinytrain compile` of
 * examples/mbv2-w0.35-128.json with examples/schemes/mbv2-99kb.json for stm32f746). Counts
 * are the mean of training steps 2..K+1 (K = --steps) on synthetic images; a measuring aid,
 * nothing is written to bench/results.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readArtifact, type LoadedArtifact } from '../host/artifact.js';
import { buildFirmware } from '../host/firmware/build.js';
import { erasedFlash } from '../host/firmware/flash-slots.js';
import { NATIVE_KERNELS, withNativeKernels } from '../host/firmware/native-kernels.js';
import { runFirmwareJob } from '../host/firmware/qemu.js';
import { buildProfiledRuntime } from '../host/profile/instrument.js';
import { getTarget } from '../targets/index.js';
import { MCU_CORES, instructionsPerTick, onCore } from './support/mcu-cores.js';
import { syntheticImages } from './support/mcu-measure.js';

interface KernelRecord {
  kernel: string;
  record: number;
  calls: number;
  ticks: number;
}

/** The `tt-kprof` lines of a run (profile-marks.c). */
function parseKprof(stdout: string): KernelRecord[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('tt-kprof {'))
    .map((l) => JSON.parse(l.slice('tt-kprof '.length)) as KernelRecord);
}

/** An int8 conv record's shape (tt_conv_forward_t, targets/firmware/tt-kernel-records.h), and its multiply-accumulates. */
function convShape(a: LoadedArtifact, record: number): { text: string; macs: number } {
  const at = (k: number): number => new DataView(a.image.buffer, a.image.byteOffset + record - a.manifest.image.offset + 4 * k, 4).getInt32(0, true);
  const [H, W, C, OH, OW, CO, KH, KW, sh, dw, split] = [1, 2, 3, 10, 11, 12, 16, 17, 18, 22, 24].map(at) as number[];
  const macs = OH! * OW! * CO! * KH! * KW! * (dw ? 1 : C!);
  return { text: `${H}x${W}x${C} -> ${OH}x${OW}x${CO} k${KH}x${KW} s${sh}${dw ? ' depthwise' : ''}${split ? ` split ${split}` : ''}`, macs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { artifact: { type: 'string' }, core: { type: 'string', default: 'cortex-m7' }, steps: { type: 'string', default: '3' } } });
  if (!values.artifact) throw new Error('usage: node dist/bench/mcu-kernels.js --artifact DIR [--core cortex-m4|cortex-m7|cortex-m33] [--steps K]');
  const core = MCU_CORES.find((c) => c.core === values.core);
  if (!core) throw new Error(`unknown core ${values.core}: ${MCU_CORES.map((c) => c.core).join(', ')}`);
  const k = Number(values.steps);
  const a = readArtifact(values.artifact);
  const target = onCore(getTarget(a.manifest.target), core);
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-mcu-kernels-'));
  try {
    const { wasm } = await buildProfiledRuntime(a, 'scalar', (source) => withNativeKernels(source, NATIVE_KERNELS).source);
    const elf = join(work, 'kprof.elf');
    const defines = { TT_PROFILE: 1, TT_PROFILE_STEPS: a.manifest.program.length, TT_KPROF: 1 };
    await buildFirmware(a, target, elf, { instrumented: { wasm, sources: ['profile-marks.c'], defines } });
    const run = await runFirmwareJob(a, target, syntheticImages(a, 4), { steps: 1 + k, lr: 0.01, seed: 1, resume: false, flash: erasedFlash(a.manifest), icount: true, elf });
    const perStep = (ticks: number): number => (ticks * instructionsPerTick(core)) / k / 1e6;
    const rows = parseKprof(run.stdout).sort((p, q) => q.ticks - p.ticks);
    const byKernel = new Map<string, number>();
    for (const r of rows) {
      byKernel.set(r.kernel, (byKernel.get(r.kernel) ?? 0) + perStep(r.ticks));
      const conv = r.kernel.startsWith('conv2dForward') ? convShape(a, r.record) : undefined;
      const detail = conv ? `${conv.text}, ${((perStep(r.ticks) * 1e6) / conv.macs).toFixed(2)} instructions/MAC` : '';
      process.stdout.write(
        `${perStep(r.ticks).toFixed(2).padStart(7)}  ${r.kernel.padEnd(34)} record ${String(r.record).padEnd(7)} ${(r.calls / k).toFixed(0).padStart(4)} calls  ${detail}\n`,
      );
    }
    process.stdout.write('\nM instructions per step by kernel:\n');
    for (const [kernel, m] of [...byKernel].sort((p, q) => q[1] - p[1])) process.stdout.write(`${m.toFixed(2).padStart(7)}  ${kernel}\n`);
    process.stdout.write(`checkpoint area sha256 ${createHash('sha256').update(run.flash).digest('hex').slice(0, 16)}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
