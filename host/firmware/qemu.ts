/**
 * Training on an emulated Cortex-M: the artifact's firmware ELF (built once and cached
 * in the artifact folder) runs in qemu-system-arm on the target's stand-in board, with
 * the job (host/engines/job.ts format) and the checkpoint Flash area as files in QEMU's
 * working directory, reached over semihosting.
 *
 * trainOnCortexM is the engine-style entry (same inputs and checkpoint bytes as the
 * other engines); runFirmwareJob is the lower level the tests use to drive the Flash
 * slots directly (resume from a Flash image, simulated power loss).
 *
 * $TINYTRAIN_QEMU_SYSTEM_ARM overrides the qemu binary.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TinytrainError } from '../../compiler/errors.js';
import { FIRMWARE_JOB } from '../../compiler/formats/firmware-job.js';
import { manifestLoss, type Manifest } from '../../compiler/manifest.js';
import type { Target } from '../../targets/index.js';
import { asLoaded, type LoadedArtifact } from '../artifact.js';
import { encodeCheckpoint } from '../checkpoint.js';
import type { Dataset } from '../data/dataset.js';
import { withJobDir } from '../engines/job.js';
import { writeFileAtomic } from '../io/atomic.js';
import { buildFirmware, firmwareBuildKey } from './build.js';
import { erasedFlash, flashWithCheckpoint, newestSlot, type SlotState } from './flash-slots.js';
import { runTool, type ToolRun } from './tools.js';

export interface CortexMOptions {
  steps: number;
  lr: number;
  seed: number;
  /** A checkpoint file (Runtime.exportCheckpoint format) to resume from. */
  load?: Uint8Array;
  /** Steps per entry of `losses` (window means); 1 gives every step's loss. */
  lossEvery?: number;
  timeoutMs?: number;
}

export interface CortexMResult {
  /** Same file format as Runtime.exportCheckpoint(). */
  checkpoint: Uint8Array;
  losses: number[];
  /** Mean loss and training accuracy over the last min(steps, 1000) steps, as host/train.ts reports them. */
  loss: number;
  accuracy: number;
  steps: number;
  skipped: number;
  /** The painted-stack high-water mark, and the stack the ELF links. */
  stack: { peakBytes: number; linkedBytes: number };
}

/** `artifact`: a verified artifact, or its folder (then read and verified here). */
export async function trainOnCortexM(artifact: LoadedArtifact | string, target: Target, ds: Dataset, o: CortexMOptions): Promise<CortexMResult> {
  const a = asLoaded(artifact);
  const m = a.manifest;
  const flash = o.load ? flashWithCheckpoint(m, o.load) : erasedFlash(m);
  const run = await runFirmwareJob(a, target, ds, { ...o, resume: !!o.load, flash });
  const r = firmwareReport(run);
  const saved = newestSlot(m, run.flash);
  if (!saved || saved.slot !== r.savedSlot) throw new Error(`firmware reported saving slot ${r.savedSlot}, but the Flash image's newest valid slot is ${saved?.slot ?? 'none'}`);
  // A loss on target values has no accuracy (NaN, as every engine reports it).
  const accuracy = manifestLoss(m).targets ? NaN : r.accuracy;
  return {
    checkpoint: encodeCheckpoint(m, saved.payload),
    losses: r.losses,
    loss: r.loss,
    accuracy,
    steps: r.steps,
    skipped: r.skipped,
    stack: { peakBytes: r.stackPeakBytes, linkedBytes: r.stackBytes },
  };
}

// ---------------------------------------------------------------------------------------
// One run of the firmware

export interface FirmwareJob {
  steps: number;
  lr: number;
  seed: number;
  /** Resume from the newest valid slot in `flash` (the firmware picks it). */
  resume: boolean;
  /** The checkpoint Flash area before the run (flash-slots.ts). */
  flash: Uint8Array;
  lossEvery?: number;
  /** Cut the checkpoint save off after half its payload, as a power loss would. */
  powerLoss?: boolean;
  /** Store into the frozen region before training (the firmware must trap). */
  probeFrozenStore?: boolean;
  /** Run QEMU with -icount, so the firmware's cycle count is proportional to instructions executed. */
  icount?: boolean;
  /** Run this ELF instead of the artifact's cached firmware (a measurement build of it, host/firmware/profile-build.ts). */
  elf?: string;
  timeoutMs?: number;
}

export interface FirmwareRun extends ToolRun {
  /** The checkpoint Flash area after the run. */
  flash: Uint8Array;
  elf: string;
  wallMs: number;
}

/** fwjob.bin, read by targets/firmware/main.c; its layout is compiler/formats/firmware-job.ts. */
function firmwareJobFile(j: FirmwareJob): Uint8Array {
  const fw = new DataView(new ArrayBuffer(FIRMWARE_JOB.bytes));
  const c = FIRMWARE_JOB.value;
  const values: Record<keyof typeof FIRMWARE_JOB.offset, number> = {
    magic: c.MAGIC,
    version: c.VERSION,
    flags: (j.powerLoss ? c.FLAG_POWER_LOSS : 0) | (j.probeFrozenStore ? c.FLAG_PROBE_FROZEN_STORE : 0),
    lossEvery: j.lossEvery ?? 1,
  };
  for (const f of FIRMWARE_JOB.fields) fw.setUint32(f.offset, values[f.name as keyof typeof values], true);
  return new Uint8Array(fw.buffer);
}

export async function runFirmwareJob(a: LoadedArtifact, target: Target, ds: Dataset, j: FirmwareJob): Promise<FirmwareRun> {
  const m = a.manifest;
  if (!target.qemuMachine) throw new TinytrainError(`target ${target.name} has no QEMU board to emulate it`, 'choose an MCU target: stm32f746 or nrf52840');
  // Semihosting addresses files with signed 32-bit lengths.
  const sampleBytes = ds.shape[0] * ds.shape[1] * ds.shape[2];
  if (ds.count * sampleBytes >= 2 ** 31) {
    throw new TinytrainError(`dataset ${ds.name} is ${ds.count * sampleBytes} B quantised; the emulated device reads at most 2 GiB per file`, 'train on fewer samples');
  }
  const elf = j.elf ?? (await ensureFirmware(a, target));
  // job.ts sets the resume flag from `load`; the firmware reads the checkpoint from the
  // Flash slots, so the newest slot stands in (and a resume with none fails here).
  let load: Uint8Array | undefined;
  if (j.resume) {
    const newest = newestSlot(m, j.flash);
    if (!newest) throw new TinytrainError('cannot resume: the checkpoint Flash image holds no valid slot', 'start without a checkpoint');
    load = encodeCheckpoint(m, newest.payload);
  }
  return withJobDir(a, ds, { steps: j.steps, lr: j.lr, seed: j.seed, load }, async (dir) => {
    writeFileSync(join(dir, 'fwjob.bin'), firmwareJobFile(j));
    writeFileSync(join(dir, 'flash.bin'), j.flash);
    const qemu = process.env.TINYTRAIN_QEMU_SYSTEM_ARM ?? 'qemu-system-arm';
    const t0 = performance.now();
    const r = await runTool(
      qemu,
      [
        '-M',
        target.qemuMachine!,
        '-nographic',
        '-monitor',
        'none',
        '-serial',
        'none',
        '-semihosting-config',
        'enable=on,target=native',
        ...(j.icount ? ['-icount', 'shift=0'] : []),
        '-kernel',
        elf,
      ],
      'the system emulator qemu-system-arm',
      { cwd: dir, timeoutMs: j.timeoutMs ?? defaultTimeoutMs(m, j.steps) },
    );
    const wallMs = performance.now() - t0;
    if (r.timedOut) throw new Error(`firmware run timed out after ${(wallMs / 1000).toFixed(0)} s (${j.steps} steps); pass a larger timeoutMs`);
    return { ...r, flash: new Uint8Array(readFileSync(join(dir, 'flash.bin'))), elf, wallMs };
  });
}

/**
 * A guard against a hung emulator, not a deadline: about five times the step times
 * measured here (mnist-cnn ~80 ms, MobileNetV2-0.35 at 128x128 ~1.2-1.9 s per step),
 * scaled by the model's memory as a stand-in for its work.
 */
function defaultTimeoutMs(m: Manifest, steps: number): number {
  const perStepMs = 20 + m.wasmMemoryBytes / 200;
  return 60_000 + steps * perStepMs;
}

// ---------------------------------------------------------------------------------------
// The firmware's JSON line

export interface FirmwareReport {
  slots: [SlotState, SlotState];
  loaded: number | null;
  losses: number[];
  steps: number;
  loss: number;
  accuracy: number;
  skipped: number;
  savedSlot: number;
  savedSeq: number;
  interrupted: boolean;
  stackPeakBytes: number;
  /** The stack the ELF links (its static worst case, or the target's reserve: build.ts firmwareStack). */
  stackBytes: number;
  /** SysTick cycles over the training loop: core cycles on a part, virtual time under QEMU (see cycles.h). */
  cycles: number;
}

interface RawReport {
  slots: [SlotState, SlotState];
  loaded: number | null;
  lossEvery: number;
  losses: string[];
  steps: number;
  statsFrom: number;
  counted: number;
  correct: number;
  lossSum: string;
  skipped: number;
  savedSlot: number;
  savedSeq: number;
  interrupted: boolean;
  stackPeakBytes: number;
  stackBytes: number;
  cyclesHi: number;
  cyclesLo: number;
}

/** A finished run's report; a failed run is an Error carrying the firmware's own message. */
export function firmwareReport(run: FirmwareRun): FirmwareReport {
  if (run.code !== 0) {
    throw new Error(`firmware failed (qemu exit ${run.code}):\n${(run.stdout + run.stderr).trim().slice(-2000)}`);
  }
  const line = run.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .pop();
  let r: RawReport;
  try {
    r = JSON.parse(line ?? '') as RawReport;
  } catch {
    throw new Error(`firmware printed no report line (stdout: ${JSON.stringify(run.stdout.slice(-400))})`);
  }
  return {
    slots: r.slots,
    loaded: r.loaded,
    losses: r.losses.map(f64FromHex),
    steps: r.steps,
    // Means exactly as host/train.ts computes them: an f64 sum in step order over the window.
    loss: r.counted ? f64FromHex(r.lossSum) / r.counted : NaN,
    accuracy: r.counted ? r.correct / r.counted : NaN,
    skipped: r.skipped,
    savedSlot: r.savedSlot,
    savedSeq: r.savedSeq,
    interrupted: r.interrupted,
    stackPeakBytes: r.stackPeakBytes,
    stackBytes: r.stackBytes,
    cycles: r.cyclesHi * 2 ** 32 + r.cyclesLo,
  };
}

function f64FromHex(hex: string): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setBigUint64(0, BigInt('0x' + hex));
  return v.getFloat64(0);
}

// ---------------------------------------------------------------------------------------
// The cached ELF

/**
 * The artifact's firmware for `target`: `firmware-<target>.elf` beside the manifest,
 * rebuilt when stale. The `.key` file beside it holds the build key and the ELF's
 * sha256, so a stale, damaged or swapped ELF is rebuilt rather than run.
 */
export async function ensureFirmware(a: LoadedArtifact, target: Target): Promise<string> {
  // Absolute: QEMU runs in the job folder.
  const elf = resolve(a.dir, `firmware-${target.name}.elf`);
  const keyFile = `${elf}.key`;
  const key = firmwareBuildKey(a, target);
  if (existsSync(elf) && existsSync(keyFile)) {
    const [storedKey, storedSha] = readFileSync(keyFile, 'utf8').trim().split('\n');
    if (storedKey === key && storedSha === sha256(readFileSync(elf))) return elf;
  }
  await buildFirmware(a, target, elf);
  writeFileAtomic(keyFile, `${key}\n${sha256(readFileSync(elf))}\n`);
  return elf;
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
