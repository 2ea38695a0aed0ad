/**
 * The Cortex-M firmware (host/firmware/, targets/firmware/): wasm2c output on an
 * emulated STM32F746 (QEMU mps2-an500, Cortex-M7) must train to the same checkpoint
 * bytes as the Node reference, keep the frozen weights in Flash, fit the part, keep
 * the previous checkpoint through an interrupted save, and refuse a part it does not
 * fit with a clear error.
 *
 * A missing toolchain FAILS these tests with the install command: run
 * `bash scripts/setup-firmware.sh` once as root.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { schemeFromJson } from '../compiler/scheme/parse.js';
import { readArtifact, type LoadedArtifact } from '../host/artifact.js';
import { decodeCheckpoint, encodeCheckpoint } from '../host/checkpoint.js';
import { filterClasses, takeFirst, type Dataset } from '../host/data/dataset.js';
import { buildFirmware } from '../host/firmware/build.js';
import { erasedFlash, newestSlot, readSlots, slotStride, SLOT_HEADER_BYTES } from '../host/firmware/flash-slots.js';
import { ensureFirmware, firmwareReport, runFirmwareJob, trainOnCortexM, type FirmwareJob } from '../host/firmware/qemu.js';
import { isLibraryLeaf, LIBRARY_LEAF_BYTES } from '../host/firmware/stack-bound.js';
import { FIRMWARE_SETUP_COMMAND } from '../host/firmware/tools.js';
import { pretrain } from '../host/pretrain.js';
import { Runtime } from '../host/runtime.js';
import { trainRuntime } from '../host/train.js';
import { getTarget, type Target } from '../targets/index.js';
import { ArtifactCache, mnist, mnistCnn } from './support/models.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const STM32 = getTarget('stm32f746');
const STEPS = 200;
const LR = 0.01;
const SEED = 5;
/** Enough steps on two images for the loss to fall clearly (about 1-2 s a step in QEMU). */
const MBV2_STEPS = 16;
/** MobileNetV2's 99 KB scheme (examples/schemes/mbv2-99kb.json: 25 biases, 8 expand weights), as golden.test.ts trains it. */
const ANCHOR_99KB = JSON.parse(readFileSync(join(ROOT, 'examples', 'schemes', 'mbv2-99kb.json'), 'utf8')) as unknown;

const cache = new ArtifactCache();
afterAll(() => cache.dispose());
const notes: string[] = [];
afterAll(() => {
  if (notes.length) console.log(`firmware:\n  ${notes.join('\n  ')}`);
});

/** A TinytrainError (e.g. a missing tool) fails the test with its hint in the message. */
async function plain<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof TinytrainError) throw new Error(e.describe());
    throw e;
  }
}

/** Node reference: Runtime + trainRuntime, with every step's loss. */
async function nodeTrain(a: LoadedArtifact, ds: Dataset, o: { steps: number; lr: number; seed: number; load?: Uint8Array }) {
  const rt = await Runtime.load(a);
  rt.reset(o.seed);
  if (o.load) rt.importCheckpoint(o.load);
  const losses: number[] = [];
  const s = trainRuntime(rt, ds, { ...o, every: 1, onProgress: (_, loss) => losses.push(loss) });
  return { checkpoint: rt.exportCheckpoint(), losses, summary: s };
}

/**
 * What each library routine the ELF links (the ones stack-bound.ts allows LIBRARY_LEAF_BYTES
 * without a call graph) does to the stack, read from its disassembly: every push, vpush,
 * stmdb sp! and sub sp added up (as if all ran on one path), and whether it calls anything.
 */
function libraryRoutineFrames(elf: string): Array<{ name: string; bytes: number; calls: boolean }> {
  const nm = execFileSync('arm-none-eabi-nm', ['-S', '-t', 'd', elf], { encoding: 'utf8' });
  const regs = (list: string, width: number): number =>
    list.split(',').reduce((n, r) => {
      const range = /[a-z]+(\d+)\s*-\s*[a-z]+(\d+)/.exec(r);
      return n + (range ? Number(range[2]) - Number(range[1]) + 1 : 1) * width;
    }, 0);
  return nm
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 4 && /^[Tt]$/.test(f[2]!) && isLibraryLeaf(f[3]!))
    .map(([at, size, , name]) => {
      const start = Number(at) & ~1;
      const asm = execFileSync('arm-none-eabi-objdump', ['-d', `--start-address=${start}`, `--stop-address=${start + Number(size)}`, elf], { encoding: 'utf8' });
      let bytes = 0;
      for (const m of asm.matchAll(/\t(push|stmdb\s+sp!,|vpush)(?:\.w)?\s*\{([^}]*)\}/g)) bytes += regs(m[2]!, m[1] === 'vpush' ? 8 : 4);
      for (const m of asm.matchAll(/\tsub(?:\.w)?\s+sp,\s*(?:sp,\s*)?#(\d+)/g)) bytes += Number(m[1]);
      return { name: name!, bytes, calls: /\tblx?\s/.test(asm) };
    });
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** name -> [address, size] from the ELF's symbol table. */
function symbols(elf: string): Map<string, [number, number]> {
  const out = execFileSync('arm-none-eabi-nm', ['-S', '-t', 'd', elf], { encoding: 'utf8' });
  const m = new Map<string, [number, number]>();
  for (const line of out.trim().split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 4) m.set(f[3]!, [Number(f[0]), Number(f[1])]);
  }
  return m;
}
const RAM_ORIGIN = 0x20000000;

// ---------------------------------------------------------------------------------------
// mnist-cnn: pretrained on digits 0-4, fine-tuned on 5-9 on the emulated device

let mnistArt: LoadedArtifact;
let fineTune: Dataset;

beforeAll(async () => {
  const t0 = performance.now();
  const pre = pretrain(mnistCnn() as ModelSpec, takeFirst(filterClasses(mnist('train'), [0, 1, 2, 3, 4]), 2000), { steps: 500, lr: 0.01, momentum: 0, seed: 1 });
  mnistArt = (await cache.get('mnist-cnn-pretrained-0-4', pre.spec, { target: STM32 })).loaded;
  fineTune = takeFirst(filterClasses(mnist('train'), [5, 6, 7, 8, 9]), 600);
  notes.push(`mnist-cnn pretrain + compile: ${(performance.now() - t0).toFixed(0)} ms`);
});

describe('mnist-cnn on stm32f746 (QEMU mps2-an500)', () => {
  it(`trains ${STEPS} steps: loss falls, and the checkpoint and losses equal Node's bit for bit`, async () => {
    const t0 = performance.now();
    await plain(ensureFirmware(mnistArt, STM32));
    const t1 = performance.now();
    const fw = await plain(trainOnCortexM(mnistArt.dir, STM32, fineTune, { steps: STEPS, lr: LR, seed: SEED }));
    const t2 = performance.now();
    notes.push(`mnist-cnn firmware build ${(t1 - t0).toFixed(0)} ms; ${STEPS} steps in QEMU ${(t2 - t1).toFixed(0)} ms (${((t2 - t1) / STEPS).toFixed(1)} ms/step)`);

    const ref = await nodeTrain(mnistArt, fineTune, { steps: STEPS, lr: LR, seed: SEED });
    expect(fw.steps).toBe(STEPS);
    expect(fw.losses).toHaveLength(STEPS);
    expect(fw.losses).toEqual(ref.losses);
    expect(fw.loss).toBe(ref.summary.loss);
    expect(fw.accuracy).toBe(ref.summary.accuracy);
    expect(fw.skipped).toBe(ref.summary.skipped);
    expect(same(fw.checkpoint, ref.checkpoint), "firmware checkpoint differs from Node's").toBe(true);

    const q = STEPS / 4;
    const first = mean(fw.losses.slice(0, q)),
      last = mean(fw.losses.slice(-q));
    notes.push(`mnist-cnn fine-tune on 5-9: mean loss first quarter ${first.toFixed(3)}, last quarter ${last.toFixed(3)}`);
    expect(last).toBeLessThan(first * 0.8);
  });

  it('trains the same bytes on nrf52840 (QEMU mps2-an386, Cortex-M4F)', async () => {
    const nrf = getTarget('nrf52840');
    const fw = await plain(trainOnCortexM(mnistArt.dir, nrf, fineTune, { steps: 20, lr: LR, seed: SEED }));
    const ref = await nodeTrain(mnistArt, fineTune, { steps: 20, lr: LR, seed: SEED });
    expect(fw.losses).toEqual(ref.losses);
    expect(same(fw.checkpoint, ref.checkpoint), "Cortex-M4 checkpoint differs from Node's").toBe(true);
  });

  it('traps a store into the frozen (Flash) region instead of performing it', async () => {
    const run = await plain(
      runFirmwareJob(mnistArt, STM32, fineTune, { steps: 0, lr: LR, seed: SEED, resume: false, flash: erasedFlash(mnistArt.manifest), probeFrozenStore: true }),
    );
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('store of 4 B at 0x00000010: the frozen weights are read-only Flash');
  });
});

// ---------------------------------------------------------------------------------------
// Checkpoint slots in (emulated) Flash

describe('checkpoint slots in Flash', () => {
  const job = (flash: Uint8Array, extra: Partial<FirmwareJob> = {}): FirmwareJob => ({ steps: 8, lr: LR, seed: SEED, resume: true, flash, ...extra });

  it('an interrupted save leaves the previous checkpoint loadable, and the torn slot is rejected', async () => {
    const m = mnistArt.manifest;
    // 1. A first save lands in slot 0.
    const first = await plain(runFirmwareJob(mnistArt, STM32, fineTune, job(erasedFlash(m), { resume: false })));
    const r1 = firmwareReport(first);
    expect([r1.savedSlot, r1.savedSeq, r1.interrupted]).toEqual([0, 1, false]);
    // The stack the firmware really used (its painted-stack high-water mark) stays inside the
    // stack it links (the call graph's worst case), which is inside the reserve the
    // manifest's all-inclusive accounting counts.
    expect(r1.stackPeakBytes).toBeGreaterThan(0);
    expect(r1.stackPeakBytes).toBeLessThanOrEqual(r1.stackBytes);
    expect(r1.stackBytes).toBeLessThan(m.memory.accounting.stackBytes);
    notes.push(`mnist firmware stack peak ${r1.stackPeakBytes} B of the ${r1.stackBytes} B it links (manifest reserve ${m.memory.accounting.stackBytes} B)`);
    const slot0 = newestSlot(m, first.flash)!;
    expect(slot0.slot).toBe(0);

    // 2. Resume, train, and lose power halfway through writing slot 1.
    const cut = await plain(runFirmwareJob(mnistArt, STM32, fineTune, job(first.flash, { powerLoss: true })));
    const r2 = firmwareReport(cut);
    expect([r2.loaded, r2.savedSlot, r2.interrupted]).toEqual([0, 1, true]);
    const slots = readSlots(m, cut.flash);
    expect(slots[0].state).toBe('valid');
    expect(slots[1].state).not.toBe('valid');
    // Half the payload reached slot 1; its header never did.
    const base1 = slotStride(m) + SLOT_HEADER_BYTES;
    expect(cut.flash[base1]).not.toBe(0xff);
    expect(same(cut.flash.subarray(0, slotStride(m)), first.flash.subarray(0, slotStride(m))), 'slot 0 was touched').toBe(true);

    // 3. The next boot rejects slot 1, resumes from slot 0, and saves into slot 1.
    const next = await plain(runFirmwareJob(mnistArt, STM32, fineTune, job(cut.flash)));
    const r3 = firmwareReport(next);
    expect(r3.slots).toEqual(['valid', 'erased']);
    expect([r3.loaded, r3.savedSlot, r3.savedSeq]).toEqual([0, 1, 2]);
    const ref = await nodeTrain(mnistArt, fineTune, { steps: 8, lr: LR, seed: SEED, load: encodeCheckpoint(m, slot0.payload) });
    expect(same(encodeCheckpoint(m, newestSlot(m, next.flash)!.payload), ref.checkpoint), 'resume from slot 0 differs from Node').toBe(true);

    // 4. A torn payload under a complete header fails its CRC: slot 0 wins again.
    const torn = next.flash.slice();
    torn[base1 + 100] ^= 0x5a;
    expect(readSlots(m, torn)[1].state).toBe('bad-crc');
    const r4 = firmwareReport(await plain(runFirmwareJob(mnistArt, STM32, fineTune, job(torn, { steps: 1 }))));
    expect(r4.slots).toEqual(['valid', 'bad-crc']);
    expect(r4.loaded).toBe(0);
  });

  it('resumes a checkpoint file handed over by the host exactly as Node does', async () => {
    const m = mnistArt.manifest;
    const start = await nodeTrain(mnistArt, fineTune, { steps: 5, lr: LR, seed: SEED });
    const fw = await plain(trainOnCortexM(mnistArt.dir, STM32, fineTune, { steps: 6, lr: LR, seed: SEED + 1, load: start.checkpoint }));
    const ref = await nodeTrain(mnistArt, fineTune, { steps: 6, lr: LR, seed: SEED + 1, load: start.checkpoint });
    expect(same(fw.checkpoint, ref.checkpoint)).toBe(true);
    expect(decodeCheckpoint(m, fw.checkpoint, 'test').length).toBe(m.checkpoint.bytes);
  });
});

// ---------------------------------------------------------------------------------------
// MobileNetV2-w0.35 with the 99 KB scheme: sizes on the real part, a few steps in QEMU

describe('mbv2-w0.35-128 (99kb scheme) on stm32f746', () => {
  it('builds, fits, keeps the frozen weights in Flash, and trains like Node', async () => {
    const spec = JSON.parse(readFileSync(join(ROOT, 'examples', 'mbv2-w0.35-128.json'), 'utf8')) as ModelSpec;
    const scheme = schemeFromJson(buildGraph(spec), ANCHOR_99KB, '99kb');
    const x = Float32Array.from({ length: 128 * 128 * 3 }, (_, i) => Math.sin(i * 0.37));
    const { dir } = await cache.get('mbv2-99kb', spec, { target: STM32, scheme, calibration: [x] });
    const a = readArtifact(dir);
    const m = a.manifest;

    const t0 = performance.now();
    const elf = join(dir, 'firmware-stm32f746.elf');
    const b = await plain(buildFirmware(dir, STM32, elf));
    const buildMs = performance.now() - t0;
    const frozen = m.memory.breakdown.frozenParamsBytes;
    notes.push(
      `mbv2 firmware build ${buildMs.toFixed(0)} ms; arm-none-eabi-size: text ${b.sizes.text} data ${b.sizes.data} bss ${b.sizes.bss}`,
      `mbv2 firmware SRAM ${b.sramUsedBytes} B (.data+.bss+stack ${b.usage.stackBytes}) vs manifest sramPeakBytes ${m.memory.sramPeakBytes} vs ${STM32.name} ${STM32.sramBytes}`,
      `mbv2 firmware Flash ${b.flashUsedBytes} B (text+data ${b.sizes.text + b.sizes.data}, checkpoint slots ${b.usage.slotsBytes}) vs manifest flashBytes ${m.memory.flashBytes} vs ${STM32.name} ${STM32.flashBytes}`,
      `mbv2 frozen weights ${frozen} B in Flash; SRAM linear memory ${b.ramLinearBytes} B`,
    );
    expect(b.sramUsedBytes).toBeLessThanOrEqual(STM32.sramBytes);
    expect(b.flashUsedBytes).toBeLessThanOrEqual(STM32.flashBytes);

    // The stack it links is the call graph's worst case, well inside the target's reserve
    // (the real peak is checked against it below), and the library routines that bound
    // allows a flat LIBRARY_LEAF_BYTES are leaves that push no more than that.
    expect(b.stack.source).toBe('static-analysis');
    expect(b.sramUsedBytes).toBe(b.sizes.data + b.sizes.bss + b.stack.bytes);
    expect(b.stack.bytes).toBeLessThan(STM32.stackReserveBytes / 2);
    const library = libraryRoutineFrames(elf);
    notes.push(`mbv2 firmware stack ${b.stack.bytes} B: ${b.stack.source === 'static-analysis' ? b.stack.chain.map((f) => `${f.fn} ${f.bytes}`).join(' -> ') : ''}`);
    notes.push(`library routines: ${library.map((r) => `${r.name} ${r.bytes} B${r.calls ? ' (calls)' : ''}`).join(', ')}`);
    expect(library.map((r) => r.name)).toEqual(expect.arrayContaining(['memcpy', 'memset', '__aeabi_dadd']));
    for (const r of library) {
      expect(r.calls, `${r.name} calls another routine`).toBe(false);
      expect(r.bytes, r.name).toBeLessThanOrEqual(LIBRARY_LEAF_BYTES);
    }

    // Flash-resident weights: the frozen array is .rodata in Flash, and all of SRAM
    // (.data + .bss) is smaller than it, so no copy of it can exist there.
    const sym = symbols(elf);
    const [frozenAt, frozenSize] = sym.get('tt_frozen')!;
    expect(frozenAt).toBeLessThan(RAM_ORIGIN);
    expect(frozenSize).toBe(frozen);
    expect(b.sizes.data + b.sizes.bss).toBeLessThan(frozen);
    const [ramAt, ramSize] = sym.get('tt_ram')!;
    expect(ramAt).toBeGreaterThanOrEqual(RAM_ORIGIN);
    expect(ramSize).toBe(b.ramLinearBytes);
    expect(ramSize).toBeLessThan(m.wasmMemoryBytes - frozen);
    // Nothing allocates: no heap in the image.
    expect(sym.has('malloc')).toBe(false);

    // Two fixed images with different labels: a device repeating its own few samples.
    const ds = syntheticDataset(m.inputs[0]!.shape as [number, number, number], m.classes, 2);
    await plain(ensureFirmware(a, STM32)); // reuses the ELF built above when the key matches
    const t1 = performance.now();
    const fw = await plain(trainOnCortexM(dir, STM32, ds, { steps: MBV2_STEPS, lr: 0.01, seed: SEED }));
    notes.push(`mbv2 ${MBV2_STEPS} steps in QEMU ${(performance.now() - t1).toFixed(0)} ms; stack peak ${fw.stack.peakBytes} B of ${fw.stack.linkedBytes} B linked`);
    expect(fw.stack.linkedBytes).toBe(b.stack.bytes);
    expect(fw.stack.peakBytes).toBeGreaterThan(0);
    expect(fw.stack.peakBytes).toBeLessThanOrEqual(fw.stack.linkedBytes);
    const ref = await nodeTrain(a, ds, { steps: MBV2_STEPS, lr: 0.01, seed: SEED });
    expect(fw.losses).toEqual(ref.losses);
    expect(same(fw.checkpoint, ref.checkpoint), "mbv2 firmware checkpoint differs from Node's").toBe(true);
    // It really trains on the MCU: the mean loss of the last quarter is far below the first's.
    const q = MBV2_STEPS / 4;
    const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length;
    const first = mean(fw.losses.slice(0, q)),
      last = mean(fw.losses.slice(-q));
    notes.push(`mbv2 in QEMU: mean loss first quarter ${first.toFixed(3)}, last quarter ${last.toFixed(3)}`);
    expect(last).toBeLessThan(first / 2);
  });
});

/** Deterministic pseudo-random images: the bytes only need to be the same on both sides. */
function syntheticDataset(shape: [number, number, number], classes: number, count: number): Dataset {
  const n = shape[0] * shape[1] * shape[2];
  let k = 12345;
  const images = Uint8Array.from({ length: count * n }, () => (k = (k * 1103515245 + 12345) >>> 0) >>> 24);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % classes);
  return { name: 'synthetic', images, labels, count, shape, classes };
}

// ---------------------------------------------------------------------------------------
// Errors a user can meet

describe('firmware errors', () => {
  it('refuses a target too small, saying by how much and what dominates', async () => {
    const fits = await plain(buildFirmware(mnistArt.dir, STM32, join(mnistArt.dir, 'fits.elf')));
    const tiny: Target = { ...STM32, name: 'tiny-m7', sramBytes: 48 * 1024 };
    const over = fits.sramUsedBytes - tiny.sramBytes;
    expect(over).toBeGreaterThan(0);
    const err = await buildFirmware(mnistArt.dir, tiny, join(mnistArt.dir, 'tiny.elf')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TinytrainError);
    const msg = (err as TinytrainError).message;
    expect(msg).toContain(`of SRAM but tiny-m7 has 49152 B (48.0 KiB): ${over} B over`);
    expect(msg).toContain('.bss dominates');
    expect(msg).toContain('tt_ram');
  });

  it('names the install command when a tool is missing', async () => {
    const saved = process.env.TINYTRAIN_QEMU_SYSTEM_ARM;
    process.env.TINYTRAIN_QEMU_SYSTEM_ARM = '/nonexistent/qemu-system-arm';
    try {
      const err = await trainOnCortexM(mnistArt.dir, STM32, fineTune, { steps: 1, lr: LR, seed: SEED }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TinytrainError);
      expect((err as TinytrainError).message).toContain(FIRMWARE_SETUP_COMMAND);
    } finally {
      if (saved === undefined) delete process.env.TINYTRAIN_QEMU_SYSTEM_ARM;
      else process.env.TINYTRAIN_QEMU_SYSTEM_ARM = saved;
    }
  });
});
