/**
 * What every step-time peer (ours, PyTorch, TF.js) receives and returns, so that all of
 * them build the same network and train the same parameters. The graph is passed with
 * every shape already resolved (compiler/ir/graph.ts), so no peer re-implements shape
 * inference or scheme parsing: the TS side resolves the scheme into per-layer entries.
 */
import { readFileSync } from 'node:fs';
import type { Graph } from '../../compiler/ir/graph.js';
import { hasParams } from '../../compiler/ir/graph.js';
import { trainedChannels, splitChannels, type Scheme } from '../../compiler/scheme/scheme.js';

export interface LayerTrain {
  /** The layer's bias trains. */
  bias: boolean;
  /** Leading input channels (depthwise: channels; dense: flattened inputs) whose weights train. */
  channels: number;
  /** All of them: channels === splitChannels means the whole weight tensor trains. */
  splitChannels: number;
}

export interface PeerJob {
  graph: Graph;
  /** By conv/dense layer name; a missing layer is frozen. */
  train: Record<string, LayerTrain>;
  lr: number;
  warmup: number;
  /** Timed steps: at most `steps`, stopping early after `maxSeconds` (but at least `minSteps`). */
  steps: number;
  minSteps: number;
  maxSeconds: number;
  /** Distinct random samples cycled through (values do not matter for speed; finiteness does). */
  samples: number;
  seed: number;
}

/** One peer's measurement (every time in milliseconds per training step). */
export interface PeerResult {
  peer: string;
  measured: boolean;
  /** Why not measured, or what differs from the others (e.g. partial ratios trained whole). */
  note?: string;
  medianMs?: number;
  p10Ms?: number;
  p90Ms?: number;
  steps?: number;
  /** Rounds merged into this result (bench/speed.ts runs each peer several times). */
  rounds?: number;
  /** Every timed step, in order (the bench merges rounds from these). */
  timesMs?: number[];
  /** Peak resident set size of the peer's own process. */
  peakRssBytes?: number;
  /** RSS once the framework is loaded, before the network exists (its fixed cost). */
  baseRssBytes?: number;
  /** Framework version, thread count, backend, loss at the end (a finiteness check). */
  info?: Record<string, string | number | boolean | null>;
}

export function resolveTraining(g: Graph, scheme: Scheme): Record<string, LayerTrain> {
  const out: Record<string, LayerTrain> = {};
  for (const n of g.nodes) {
    if (!hasParams(n)) continue;
    const t = scheme.layers.get(n.name);
    const channels = trainedChannels(t, n);
    if (t?.bias || channels > 0) out[n.name] = { bias: !!t?.bias, channels, splitChannels: splitChannels(n) };
  }
  return out;
}

/** Median and 10th/90th percentiles (nearest rank) of step times. */
export function summarise(ms: number[]): { medianMs: number; p10Ms: number; p90Ms: number; steps: number; timesMs: number[] } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]!;
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { medianMs: median, p10Ms: at(0.1), p90Ms: at(0.9), steps: s.length, timesMs: ms };
}

/**
 * Runs `step` warm-up times, then times it until `steps` or `maxSeconds` (never fewer than
 * minSteps). `prepare` runs untimed before each step (e.g. writing the input sample).
 */
export function timeSteps(job: Pick<PeerJob, 'warmup' | 'steps' | 'minSteps' | 'maxSeconds'>, step: (i: number) => void, prepare: (i: number) => void = () => undefined): number[] {
  for (let i = 0; i < job.warmup; i++) {
    prepare(i);
    step(i);
  }
  const ms: number[] = [];
  const start = performance.now();
  for (let i = 0; i < job.steps; i++) {
    prepare(job.warmup + i);
    const t0 = performance.now();
    step(job.warmup + i);
    ms.push(performance.now() - t0);
    if (ms.length >= job.minSteps && performance.now() - start > job.maxSeconds * 1000) break;
  }
  return ms;
}

/** Current resident set size of this process (Linux), in bytes. */
export function rssNow(): number {
  return process.memoryUsage.rss();
}

/**
 * Peak resident set size of this process so far, in bytes: VmHWM of /proc/self/status.
 * Not getrusage's ru_maxrss: Linux folds the pre-exec address space (a fork of the parent,
 * the bench process with a compiled MobileNetV2 in it) into the child's ru_maxrss.
 */
export function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

/** A small deterministic generator for sample values and labels (xorshift32). */
export function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}
