/**
 * Instructions per training step of one artifact on one Cortex-M core, in QEMU with
 * -icount (bench/support/mcu-cores.ts turns SysTick ticks into instructions):
 *
 *  - whole step, shipped firmware: runs of 1 and 1+K steps; their difference over K is
 *    the exact mean of steps 2..K+1 (start-up, the first step and the save cancel). The
 *    1+K run is made twice: icount is deterministic, so both must report the same ticks.
 *  - per program step, profiling firmware (host/firmware/profile-build.ts): one 1+K run;
 *    each program step's mean over steps 2..K+1. Its checkpoint must equal the shipped
 *    firmware's (the marks must not change what is computed), and its step total against
 *    the shipped one is the instrumentation's overhead.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Target } from '../../targets/index.js';
import type { LoadedArtifact } from '../../host/artifact.js';
import type { Dataset } from '../../host/data/dataset.js';
import { erasedFlash } from '../../host/firmware/flash-slots.js';
import { buildProfilingFirmware, parseFirmwareProfile } from '../../host/firmware/profile-build.js';
import { firmwareReport, runFirmwareJob } from '../../host/firmware/qemu.js';
import { classify, type Phase } from '../../host/profile/profile.js';
import { instructionsPerTick, type McuCore } from './mcu-cores.js';

/** The README's roll-up of program steps. */
export type StepGroup = 'forward' | 'input grad' | 'weight grad+update' | 'loss' | 'other';

export interface McuStep {
  step: number;
  /** The manifest's program entry, e.g. "weightUpdate b12_project (8 ch)". */
  what: string;
  kind: string;
  layer: string;
  phase: Phase;
  group: StepGroup;
  instructions: number;
  share: number;
}

export interface McuMeasurement {
  /** Shipped firmware: mean instructions of steps 2..K+1 (exact, from two runs' difference). */
  instructionsPerStep: number;
  firstStepInstructions: number;
  measuredSteps: number;
  /** The repeated 1+K run reported the same ticks. */
  deterministic: boolean;
  profiled: {
    /** Mean instructions of the profiling firmware's trainStep calls 2..K+1. */
    instructionsPerStep: number;
    /** (profiled - shipped) / shipped. */
    overhead: number;
    /** Sum of the program steps / the profiled trainStep total (the rest: call entry, marks). */
    coverage: number;
    checkpointEqualsShipped: boolean;
    steps: McuStep[];
    groups: Record<StepGroup, number>;
  };
  wallMs: number;
}

const UPDATE_KINDS = new Set(['weightUpdate', 'biasUpdate', 'applyWeight', 'applyBias', 'weightGrad', 'biasGrad']);
/** gapHeadBackward: the fused pool + frozen 1x1 head backward, which is mostly the head's input gradient (compiler/autodiff/passes/fuse-pool-head.ts). */
const INPUT_GRAD_KINDS = new Set(['inputGrad', 'gapHeadBackward']);

export function stepGroup(kind: string, phase: Phase): StepGroup {
  if (phase === 'forward') return 'forward';
  if (phase === 'loss') return 'loss';
  if (INPUT_GRAD_KINDS.has(kind)) return 'input grad';
  if (UPDATE_KINDS.has(kind)) return 'weight grad+update';
  return 'other';
}

const LR = 0.01;
const SEED = 1;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export async function measureOnCore(a: LoadedArtifact, target: Target, core: McuCore, ds: Dataset, k: number, work: string): Promise<McuMeasurement> {
  const t0 = performance.now();
  const perTick = instructionsPerTick(core);
  const run = async (steps: number, elf?: string) => {
    const r = await runFirmwareJob(a, target, ds, { steps, lr: LR, seed: SEED, resume: false, flash: erasedFlash(a.manifest), icount: true, elf });
    return { run: r, report: firmwareReport(r) };
  };
  const one = await run(1);
  const many = await run(1 + k);
  const again = await run(1 + k);
  const instructionsPerStep = ((many.report.cycles - one.report.cycles) / k) * perTick;

  const elf = join(work, `profiling-${target.name}.elf`);
  const { comments } = await buildProfilingFirmware(a, target, elf);
  const prof = await run(1 + k, elf);
  const p = parseFirmwareProfile(prof.run.stdout, a.manifest.program.length);
  if (p.rows.length !== 1 + k) throw new Error(`the profiling firmware kept ${p.rows.length} rows of ${1 + k} steps`);
  const rows = p.rows.slice(1);
  const mean = (f: (r: (typeof rows)[number]) => number): number => (rows.reduce((s, r) => s + f(r), 0) / rows.length) * perTick;
  const profiledPerStep = mean((r) => r.total);
  const names = new Map((a.manifest.nodes ?? []).map((n) => [n.label, n.name]));
  const steps = a.manifest.program.map((what, i): McuStep => {
    const kind = what.split(' ')[0]!;
    const { phase, layer } = classify(what, comments[i] ?? '', names);
    return { step: i, what, kind, layer, phase, group: stepGroup(kind, phase), instructions: mean((r) => r.ticks[i]!), share: 0 };
  });
  const programTotal = steps.reduce((s, x) => s + x.instructions, 0);
  const groups: Record<StepGroup, number> = { forward: 0, 'input grad': 0, 'weight grad+update': 0, loss: 0, other: 0 };
  for (const s of steps) {
    s.share = s.instructions / programTotal;
    groups[s.group] += s.instructions;
  }
  return {
    instructionsPerStep,
    firstStepInstructions: one.report.cycles * perTick,
    measuredSteps: k,
    deterministic: many.report.cycles === again.report.cycles && sha(many.run.flash) === sha(again.run.flash),
    profiled: {
      instructionsPerStep: profiledPerStep,
      overhead: profiledPerStep / instructionsPerStep - 1,
      coverage: programTotal / profiledPerStep,
      checkpointEqualsShipped: sha(prof.run.flash) === sha(many.run.flash),
      steps,
      groups,
    },
    wallMs: performance.now() - t0,
  };
}

/** Deterministic pseudo-random images, one bench's and the next's: instruction counts do not depend on what the pictures show. */
export function syntheticImages(a: LoadedArtifact, count: number): Dataset {
  const shape = a.manifest.inputs[0]!.shape as [number, number, number];
  const n = shape[0] * shape[1] * shape[2];
  let s = 12345;
  const images = Uint8Array.from({ length: count * n }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24);
  return { name: 'synthetic', images, labels: Uint8Array.from({ length: count }, (_, i) => i % a.manifest.classes), count, shape, classes: a.manifest.classes };
}
