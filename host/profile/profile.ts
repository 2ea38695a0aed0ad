/**
 * Per-step timing of an artifact's training step: the profiling build (instrument.ts)
 * calls `profileMark(i)` as program step i starts; a step lasts until the next mark, the
 * last one until trainStep returns. Steps are then grouped by layer and by phase, and the
 * plain (unprofiled) module is timed on the same samples so the marks' cost is visible.
 */
import { LABEL } from '../../compiler/codegen/labels.js';
import { Rng } from '../../compiler/ir/rng.js';
import type { LoadedArtifact } from '../artifact.js';
import { Runtime } from '../runtime.js';
import { buildProfiledRuntime } from './instrument.js';

export type Phase = 'forward' | 'loss' | 'backward' | 'update';

/** ms: mean over the typical training steps (see Profile); medianMs: median over all timed steps. */
export interface StepTiming {
  step: number;
  what: string;
  layer: string;
  phase: Phase;
  ms: number;
  medianMs: number;
  share: number;
}
export interface LayerTiming {
  layer: string;
  forwardMs: number;
  backwardMs: number;
  updateMs: number;
  totalMs: number;
  share: number;
}

export interface Profile {
  variant: 'simd' | 'scalar';
  warmup: number;
  /** Timed training steps. */
  steps: number;
  /**
   * Those whose wall time is at or below the median: the step, layer and phase figures
   * are means over these (the slower half carries most of a shared machine's interference).
   */
  typicalSteps: number;
  typicalStepMs: number;
  /** Median wall time of one profiled trainStep call. */
  medianStepMs: number;
  /** Median wall time of one trainStep of the artifact's own (unprofiled) module, same samples. */
  plainMedianStepMs: number;
  /** Sum of the program steps' times (what the layer and phase figures add up to). */
  programMs: number;
  /** programMs / typicalStepMs: the share of the step the marks cover (the rest is the call's entry). */
  coverage: number;
  /** Steps whose loss was non-finite (their backward did not run). */
  skippedSteps: number;
  /** Program steps that never reported a mark (should be none: a gap in the instrumentation). */
  unmarkedSteps: number[];
  phases: Record<Phase, number>;
  layers: LayerTiming[];
  program: StepTiming[];
}

export interface ProfileOptions {
  variant?: 'simd' | 'scalar';
  steps?: number;
  warmup?: number;
  lr?: number;
  seed?: number;
}

const UPDATE = new Set(['weightUpdate', 'biasUpdate', 'applyWeight', 'applyBias', 'weightGrad', 'biasGrad']);
const FORWARD = new Set(['forward', 'forwardStream', 'saveSlice', 'saveMask']);

/**
 * Phase and layer of a manifest program entry ("weightUpdate fc (8 ch)", "forwardStream",
 * ...). The layer comes from the labels in the step's runtime.ts comment, mapped to the
 * model's names by `names` (the manifest's `nodes`): a streamed chain lists its layers.
 * Without labels (a runtime.ts from before them) the entry's own node name, or the
 * comment, is used.
 */
export function classify(what: string, comment: string, names: ReadonlyMap<string, string> = new Map()): { phase: Phase; layer: string } {
  const space = what.indexOf(' ');
  const kind = space < 0 ? what : what.slice(0, space);
  const phase: Phase = kind === 'loss' ? 'loss' : FORWARD.has(kind) ? 'forward' : UPDATE.has(kind) ? 'update' : 'backward';
  if (kind === 'loss') return { phase, layer: '(loss)' };
  const labels = (comment.match(LABEL) ?? []).filter((l) => names.has(l)).map((l) => names.get(l)!);
  if (labels.length > 0) return { phase, layer: kind === 'forwardStream' ? labels.join(' -> ') : labels[0]! };
  // The node name is the rest of the entry, less a "(N ch)" note; names may contain spaces.
  const node = space < 0 ? '' : what.slice(space + 1).replace(/ \(\d+ ch\)$/, '');
  return { phase, layer: node || comment || kind };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? 0 : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function samples(a: LoadedArtifact, count: number, seed: number): { xs: Uint8Array[]; ys: number[] } {
  const rng = new Rng(seed);
  const n = a.manifest.inputs[0]!.shape.reduce((p, q) => p * q, 1);
  const xs = Array.from({ length: count }, () => Uint8Array.from({ length: n }, () => Math.floor(rng.uniform() * 256)));
  return { xs, ys: xs.map(() => Math.floor(rng.uniform() * a.manifest.classes)) };
}

export async function profileArtifact(a: LoadedArtifact, o: ProfileOptions = {}): Promise<Profile> {
  const variant = o.variant ?? 'simd';
  const steps = o.steps ?? 20;
  const warmup = o.warmup ?? 5;
  const build = await buildProfiledRuntime(a, variant);
  const marks = markRecorder(a.manifest.program.length);
  const rt = await Runtime.load(a, variant, { wasm: build.wasm, env: { profileMark: marks.mark } });
  const plain = await Runtime.load(a, variant);
  const t = timeTrainingSteps(rt, plain, marks, samples(a, 8, o.seed ?? 1), { warmup, steps, lr: o.lr ?? 0.001 });
  // Figures are means over the typical training steps (wall time at or below the median):
  // on a shared machine the others carry interference, and means keep the sums exact.
  const medianWall = median(t.wall);
  const typical = t.rows.filter((_, i) => t.wall[i]! <= medianWall);
  const typicalStepMs = t.wall.filter((w) => w <= medianWall).reduce((p, q) => p + q, 0) / typical.length;
  const names = new Map((a.manifest.nodes ?? []).map((n) => [n.label, n.name]));
  const program = a.manifest.program.map((what, i) => stepTiming(i, what, classify(what, build.comments[i] ?? '', names), typical, t.rows));
  const programMs = program.reduce((p, q) => p + q.ms, 0);
  for (const s of program) s.share = s.ms / programMs;
  return {
    variant,
    warmup,
    steps,
    typicalSteps: typical.length,
    typicalStepMs,
    medianStepMs: medianWall,
    plainMedianStepMs: median(t.plainWall),
    programMs,
    coverage: programMs / typicalStepMs,
    skippedSteps: rt.stepsSkipped(),
    unmarkedSteps: [...t.marked.keys()].filter((i) => !t.marked[i]),
    phases: phaseTotals(program),
    layers: layerTimings(program, programMs),
    program,
  };
}

interface MarkRecorder {
  /** The profiling build's import: program step `i` starts now. */
  mark(i: number): void;
  /** Forget the marks of the last training step. */
  reset(): void;
  /** Adds each marked program step's time to `row` (the last one lasts until `end`) and flags it in `marked`. */
  collect(row: Float64Array, marked: Uint8Array, end: number): void;
}

/** Preallocated: the mark callback must not allocate while the step runs. */
function markRecorder(programSteps: number): MarkRecorder {
  const ids = new Int32Array(4 * programSteps + 16);
  const ts = new Float64Array(ids.length);
  let k = 0;
  return {
    mark: (i) => {
      if (k < ids.length) {
        ids[k] = i;
        ts[k] = performance.now();
        k++;
      }
    },
    reset: () => {
      k = 0;
    },
    collect: (row, marked, end) => {
      for (let j = 0; j < k; j++) {
        row[ids[j]!]! += (j + 1 < k ? ts[j + 1]! : end) - ts[j]!;
        marked[ids[j]!] = 1;
      }
    },
  };
}

interface StepTimes {
  /** Per timed training step: the time of each program step. */
  rows: Float64Array[];
  /** 1 where a program step reported a mark. */
  marked: Uint8Array;
  /** Wall time of each timed trainStep call, profiled and plain. */
  wall: number[];
  plainWall: number[];
}

/** Runs warm-up and timed training steps; the profiled and the plain module alternate step by step, so both see the same load. */
function timeTrainingSteps(
  rt: Runtime,
  plain: Runtime,
  marks: MarkRecorder,
  data: { xs: Uint8Array[]; ys: number[] },
  o: { warmup: number; steps: number; lr: number },
): StepTimes {
  const t: StepTimes = { rows: [], marked: new Uint8Array(rt.manifest.program.length), wall: [], plainWall: [] };
  for (let s = 0; s < o.warmup + o.steps; s++) {
    const x = data.xs[s % data.xs.length]!;
    const y = data.ys[s % data.ys.length]!;
    rt.setInputPixels(x);
    marks.reset();
    const t0 = performance.now();
    rt.trainStep(y, o.lr);
    const t1 = performance.now();
    plain.setInputPixels(x);
    const t2 = performance.now();
    plain.trainStep(y, o.lr);
    const t3 = performance.now();
    if (s < o.warmup) continue;
    const row = new Float64Array(t.marked.length);
    marks.collect(row, t.marked, t1);
    t.rows.push(row);
    t.wall.push(t1 - t0);
    t.plainWall.push(t3 - t2);
  }
  return t;
}

/** Program step `i`: mean over the typical training steps, median over all (share is set once the total is known). */
function stepTiming(i: number, what: string, where: { phase: Phase; layer: string }, typical: Float64Array[], rows: Float64Array[]): StepTiming {
  return {
    step: i,
    what,
    ...where,
    ms: typical.reduce((p, r) => p + r[i]!, 0) / typical.length,
    medianMs: median(rows.map((r) => r[i]!)),
    share: 0,
  };
}

function phaseTotals(program: StepTiming[]): Record<Phase, number> {
  const phases: Record<Phase, number> = { forward: 0, loss: 0, backward: 0, update: 0 };
  for (const s of program) phases[s.phase] += s.ms;
  return phases;
}

/** Program steps summed by layer, slowest layer first; loss counts as backward. */
function layerTimings(program: StepTiming[], programMs: number): LayerTiming[] {
  const byLayer = new Map<string, LayerTiming>();
  for (const s of program) {
    const l = byLayer.get(s.layer) ?? { layer: s.layer, forwardMs: 0, backwardMs: 0, updateMs: 0, totalMs: 0, share: 0 };
    if (s.phase === 'forward') l.forwardMs += s.ms;
    else if (s.phase === 'update') l.updateMs += s.ms;
    else l.backwardMs += s.ms;
    l.totalMs += s.ms;
    byLayer.set(s.layer, l);
  }
  const layers = [...byLayer.values()].sort((p, q) => q.totalMs - p.totalMs);
  for (const l of layers) l.share = l.totalMs / programMs;
  return layers;
}

export function renderProfile(p: Profile, top = 15): string {
  const ms = (v: number): string => v.toFixed(3).padStart(9);
  const pc = (v: number): string => `${(100 * v).toFixed(1)}%`.padStart(7);
  const lines = [
    `step profile (${p.variant} module; ${p.steps} timed training steps after ${p.warmup} warm-up; ms per training step, ` +
      `mean over the ${p.typicalSteps} steps at or below the median)`,
    `  training step: median ${p.medianStepMs.toFixed(3)} ms profiled, ${p.plainMedianStepMs.toFixed(3)} ms unprofiled; ` +
      `program steps sum to ${p.programMs.toFixed(3)} ms = ${(100 * p.coverage).toFixed(1)}% of the typical step (${p.typicalStepMs.toFixed(3)} ms)`,
    `  phases: ${(Object.keys(p.phases) as Phase[]).map((k) => `${k} ${p.phases[k].toFixed(3)} ms (${((100 * p.phases[k]) / p.programMs).toFixed(1)}%)`).join(', ')}`,
    ...(p.skippedSteps ? [`  note: ${p.skippedSteps} steps had a non-finite loss and skipped backward`] : []),
    '',
    `  ${'layer'.padEnd(40)} ${'forward'.padStart(9)} ${'backward'.padStart(9)} ${'update'.padStart(9)} ${'total'.padStart(9)} ${'share'.padStart(7)}`,
    ...p.layers.map((l) => `  ${l.layer.slice(0, 40).padEnd(40)} ${ms(l.forwardMs)} ${ms(l.backwardMs)} ${ms(l.updateMs)} ${ms(l.totalMs)} ${pc(l.share)}`),
    '',
    `  slowest program steps (of ${p.program.length})`,
    ...[...p.program]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((s) => `  ${String(s.step).padStart(4)} ${s.what.slice(0, 44).padEnd(44)} ${ms(s.ms)} ${pc(s.share)}`),
  ];
  return lines.join('\n');
}
