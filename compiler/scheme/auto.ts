/**
 * `--scheme auto`: choose what trains on the device (which biases, which layers' weights,
 * and for those the fraction of input channels, one of RATIOS) so that the exact memory
 * plan fits an SRAM budget and the expected accuracy gain is as high as we can find.
 *
 * Value (importance). For every trainable parameter group we estimate, on calibration
 * samples with the float32 reference engine, E[g^2] (per-sample squared gradient of the
 * cross-entropy loss; labels if given, else the model's own argmax as a pseudo-label).
 * This is a first-order / Fisher-style estimate: one SGD step of size lr on a set P of
 * parameters decreases the loss by about lr * sum_{p in P} g_p^2, so the sum of E[g^2] over
 * P is the expected loss decrease of training P, up to the common factor lr. With QAS the
 * device's int8 updates are (in real units) the float SGD updates, so the same factor
 * holds for every layer and the numbers are comparable across layers; we divide by the
 * total over all parameters so a value is the fraction of a full update's first-order gain
 * (full scheme = 1). Per layer: bias = sum_c E[g_b[c]^2]; weights = per input channel ci
 * (depthwise: per channel) the sum over outputs and taps of E[g_w^2], prefix-summed so the
 * value of ratio r is the sum over the first trainedChannels(r) input channels, exactly the
 * channels the compiler trains. Values are additive over layers (no interactions).
 *
 * Cost. The planner compile() uses, without its order search (PlanCosts: the best of
 * the constructive placement orders, milliseconds a plan), never an estimate: compile()'s
 * search only lowers the arena from there, so every scheme the search accepts fits; the
 * chosen scheme's sramBytes is re-planned with the search, the figure compile() states. It is far from additive: training a layer
 * deep in the network makes gradients flow down to it, which can cost more than the
 * layer's own parameters many times over, and once some deep layer trains, layers above it
 * become cheap.
 *
 * Search (strategy 'per-byte'): greedy by marginal value per marginal byte. Start from
 * nothing; repeatedly apply the single move (turn on a layer's bias, or raise a layer's
 * weight ratio to the next RATIOS value) with the highest value gain / SRAM increase whose
 * plan stays within the budget; stop when no move fits. Plans are evaluated lazily: every
 * move keeps the SRAM increase measured when it was last planned; the best move by that
 * (possibly stale) ratio is re-planned, and taken only if its fresh ratio still beats
 * every other move's stale ratio. Because accepting a move can make other moves cheaper
 * (a deep layer already receives gradients), all moves are re-planned whenever the
 * earliest trained layer changes, and once more whenever the lazy search finds nothing
 * that fits, so "stop" is decided on fresh, exact costs.
 * Strategy 'value': the same loop, ordered by value gain alone. Default 'best': both,
 * keeping the higher value. Neither is optimal, and a larger budget is not guaranteed to
 * give a larger value (greedy is not monotone in the budget), though it does on the
 * budgets the tests try.
 */
import { TinytrainError } from '../errors.js';
import { backward, forward, argmax } from '../float/network.js';
import { softmaxCrossEntropy } from '../float/kernels.js';
import { hasParams, isDepthwise, weightShape, type Node } from '../ir/graph.js';
import type { ParamSet } from '../ir/params.js';
import type { QuantModel } from '../quantize/quantize.js';
import { PlanCosts } from './plan-costs.js';
import type { Target } from '../../targets/index.js';
import { applyMove, firstMoves, greedySearch, noTraining, type AutoMove, type AutoTraceStep, type GreedyProblem, type GreedyStrategy } from './greedy.js';
import { splitChannels, trainedChannels, trainsAnything, type LayerTraining, type Scheme } from './scheme.js';
import { evolveScheme } from './evolve.js';

export interface AutoSchemeOptions {
  /** SGD momentum of the compile the scheme is for (momentum buffers cost SRAM). */
  momentum?: number;
  /** Calibration samples used for the importance estimate (the first N). Default 32. */
  maxSamples?: number;
  /**
   * 'per-byte': greedy by value gain per SRAM byte; 'value': greedy by value gain alone;
   * 'best' (default): run both on the same importance and plan cache, keep the higher value
   * (the classic guard against density-greedy's myopia on knapsacks: here the first deep
   * layer costs a large one-off gradient path that per-byte greedy shies away from).
   * 'evolution': both greedy runs, then an evolutionary search seeded with their results
   * (compiler/scheme/evolve.ts); 'best' keeps the highest value of all three.
   */
  strategy?: 'per-byte' | 'value' | 'evolution' | 'best';
  /** Generations of the evolutionary search (16 children each). Default 25. */
  generations?: number;
  /**
   * SRAM kept free beside the plan for the runtime's static data, which compile() only
   * knows after building the WASM (about 0.5 KB). Default 1024 B.
   */
  staticReserveBytes?: number;
  /** Re-plan every candidate move on every step (slow, exact greedy; for comparison). */
  eager?: boolean;
}

export type SearchStrategy = 'per-byte' | 'value' | 'evolution';

export type { AutoMove, AutoTraceStep };

export interface AutoSchemeResult {
  scheme: Scheme;
  /** sramNeeded() of the chosen scheme's plan (without staticReserveBytes). */
  sramBytes: number;
  /** Sum of the chosen parameters' normalised importance (full update = 1). */
  value: number;
  /** The search that produced `scheme`. */
  strategy: SearchStrategy;
  /** Every search run, with its value and SRAM (one entry for 'per-byte' or 'value'). */
  candidates: { strategy: SearchStrategy; value: number; sramBytes: number }[];
  /** Number of distinct memory plans computed (all strategies). */
  evaluated: number;
  /** Wall-clock time of the whole search, importance included. */
  ms: number;
  importanceMs: number;
  trace: AutoTraceStep[];
}

export interface LayerImportance {
  bias: number;
  /** Prefix sums over input channels: weightPrefix[k] = value of training the first k channels. */
  weightPrefix: Float64Array;
}

/**
 * Normalised importance of every conv/dense layer's bias and weight channels (see the
 * file comment). `labels` undefined: the model's own prediction is the label.
 */
export function importance(quant: QuantModel, params: ParamSet, calibration: Float32Array[], labels: number[] | undefined, maxSamples = 32): Map<string, LayerImportance> {
  const g = quant.graph;
  const layers = g.nodes.filter(hasParams);
  const n = Math.min(calibration.length, maxSamples);
  if (n === 0) throw new TinytrainError('automatic scheme: no calibration samples', 'pass calibration data (--calibrate DATASET)');
  const bias = new Map<string, Float64Array>(layers.map((l) => [l.name, new Float64Array(l.outShape[2])]));
  const wch = new Map<string, Float64Array>(layers.map((l) => [l.name, new Float64Array(splitChannels(l))]));
  for (let s = 0; s < n; s++) {
    const x = calibration[s]!;
    const acts = forward(g, params, x);
    const logits = acts.get(g.output)!;
    const label = labels?.[s] ?? argmax(logits);
    const { grad } = softmaxCrossEntropy(logits, label);
    const grads = backward(g, params, acts, grad);
    for (const l of layers) {
      const gr = grads.get(l.name);
      if (!gr) continue;
      const b = bias.get(l.name)!;
      for (let c = 0; c < gr.gb.length; c++) b[c]! += gr.gb[c]! * gr.gb[c]!;
      accumulateChannels(l, gr.gw, wch.get(l.name)!);
    }
  }
  let total = 0;
  for (const l of layers) {
    for (const v of bias.get(l.name)!) total += v;
    for (const v of wch.get(l.name)!) total += v;
  }
  const norm = total > 0 ? 1 / total : 0; // the 1/n of the mean cancels in the normalisation
  const out = new Map<string, LayerImportance>();
  for (const l of layers) {
    const ch = wch.get(l.name)!;
    const prefix = new Float64Array(ch.length + 1);
    for (let c = 0; c < ch.length; c++) prefix[c + 1] = prefix[c]! + ch[c]! * norm;
    out.set(l.name, { bias: bias.get(l.name)!.reduce((a, b) => a + b, 0) * norm, weightPrefix: prefix });
  }
  return out;
}

/** Adds g^2 of every weight to its split channel (input channel; depthwise: channel). */
function accumulateChannels(n: Node, gw: Float32Array, acc: Float64Array): void {
  const [, kh, kw, cinG] = weightShape(n);
  if (isDepthwise(n)) {
    const taps = kh * kw;
    for (let i = 0; i < gw.length; i++) acc[Math.floor(i / taps)]! += gw[i]! * gw[i]!;
  } else {
    for (let i = 0; i < gw.length; i++) acc[i % cinG]! += gw[i]! * gw[i]!;
  }
}

/** Value of one layer's training setting under `imp`. */
export function layerValue(imp: LayerImportance, t: LayerTraining | undefined, n: Node): number {
  if (!t) return 0;
  return (t.bias ? imp.bias : 0) + imp.weightPrefix[trainedChannels(t, n)]!;
}

export function schemeValue(imp: Map<string, LayerImportance>, scheme: Scheme, layers: Node[]): number {
  return layers.reduce((a, n) => a + layerValue(imp.get(n.name)!, scheme.layers.get(n.name), n), 0);
}

export function autoScheme(
  quant: QuantModel,
  params: ParamSet,
  calibration: Float32Array[],
  labels: number[] | undefined,
  target: Target,
  budgetBytes: number,
  opts: AutoSchemeOptions = {},
): AutoSchemeResult {
  const t0 = performance.now();
  const layers = quant.graph.nodes.filter(hasParams);
  const imp = importance(quant, params, calibration, labels, opts.maxSamples);
  const importanceMs = performance.now() - t0;
  const reserve = opts.staticReserveBytes ?? 1024;
  const plans = new PlanCosts(quant, target, layers, opts.momentum ?? 0);
  checkAnythingFits(plans, layers, target, budgetBytes, reserve);
  const setup: SearchSetup = {
    name: `auto-${Math.round(budgetBytes / 1024)}KB`,
    imp,
    layers,
    value: (n, t) => layerValue(imp.get(n.name)!, t, n),
    plans,
    limit: budgetBytes - reserve,
    eager: !!opts.eager,
  };
  const runs = runSearches(setup, opts.strategy ?? 'best', opts.generations ?? 25);
  const best = runs.reduce((a, b) => (b.value > a.value ? b : a));
  return {
    scheme: best.scheme,
    sramBytes: plans.exact(best.scheme.layers),
    value: best.value,
    strategy: best.strategy,
    evaluated: plans.evaluated,
    ms: performance.now() - t0,
    importanceMs,
    trace: best.trace,
    candidates: runs.map((r) => ({ strategy: r.strategy, value: r.value, sramBytes: r.sram })),
  };
}

/** What every search of one autoScheme call shares: the problem, and the name its scheme gets. */
interface SearchSetup extends GreedyProblem {
  name: string;
  imp: Map<string, LayerImportance>;
}

interface SearchRun {
  strategy: SearchStrategy;
  sram: number;
  trace: AutoTraceStep[];
  scheme: Scheme;
  value: number;
}

/** Infeasible budget: not even the cheapest single move fits (a clear error, not an empty scheme). */
function checkAnythingFits(plans: PlanCosts, layers: Node[], target: Target, budgetBytes: number, reserve: number): void {
  const none = noTraining(layers);
  const empty = plans.cost(none);
  const singles = layers.flatMap((n) => firstMoves(n.name)).map((mv) => ({ mv, bytes: plans.cost(applyMove(none, mv)) }));
  const cheapest = singles.reduce((a, b) => (b.bytes < a.bytes ? b : a));
  if (cheapest.bytes > budgetBytes - reserve) {
    const need = cheapest.bytes + reserve;
    throw new TinytrainError(
      `budget ${budgetBytes} B is too small to train anything on ${target.name}: the smallest trainable scheme ` +
        `(${describeMove(cheapest.mv)}) needs ${need} B of SRAM${reserve ? ` (incl. ${reserve} B kept for the runtime's static data)` : ''}, ` +
        `${need - budgetBytes} B over (training nothing needs ${empty + reserve} B)`,
      `raise --budget to at least ${need} B (${(need / 1024).toFixed(1)} KB), or use a smaller model`,
    );
  }
}

/** The runs `strategy` asks for, on one plan cache: greedy ones first, evolution seeded with them. */
function runSearches(s: SearchSetup, strategy: NonNullable<AutoSchemeOptions['strategy']>, generations: number): SearchRun[] {
  const greedyRuns: GreedyStrategy[] = strategy === 'per-byte' || strategy === 'value' ? [strategy] : ['per-byte', 'value'];
  const runs = greedyRuns.map((st) => greedyRun(s, st));
  if (strategy === 'evolution' || strategy === 'best') runs.push(evolutionRun(s, runs, generations));
  return strategy === 'evolution' ? runs.slice(-1) : runs;
}

function greedyRun(s: SearchSetup, strategy: GreedyStrategy): SearchRun {
  const r = greedySearch(s, strategy);
  const scheme: Scheme = { name: s.name, layers: r.layers };
  return { strategy, sram: r.sram, trace: r.trace, scheme, value: schemeValue(s.imp, scheme, s.layers) };
}

function evolutionRun(s: SearchSetup, seeds: SearchRun[], generations: number): SearchRun {
  const e = evolveScheme(
    {
      layerNames: s.layers.map((n) => n.name),
      limit: s.limit,
      cost: (m) => s.plans.cost(m),
      value: (m) => schemeValue(s.imp, { name: s.name, layers: m }, s.layers),
    },
    seeds.map((r) => r.scheme.layers),
    { generations },
  );
  return { strategy: 'evolution', sram: e.cost, trace: [], scheme: { name: s.name, layers: e.layers }, value: e.value };
}

function describeMove(m: AutoMove): string {
  return m.kind === 'bias' ? `bias of '${m.layer}'` : `${m.ratio} of the weights of '${m.layer}'`;
}

/** Our JSON scheme form (readable by `--scheme FILE`): trained layers only. */
export function schemeToJson(s: Scheme): { name: string; layers: Record<string, LayerTraining> } {
  const layers: Record<string, LayerTraining> = {};
  for (const [name, t] of s.layers) if (trainsAnything(t)) layers[name] = { bias: t.bias, weightRatio: t.weightRatio };
  return { name: s.name, layers };
}

/** One-line summary: SRAM, bias layers, weight layers with ratios. */
export function describeScheme(s: Scheme, sramBytes?: number): string {
  const biases = [...s.layers].filter(([, t]) => t.bias).length;
  const weights = [...s.layers].filter(([, t]) => t.weightRatio > 0).map(([n, t]) => `${n}:${fmtRatio(t.weightRatio)}`);
  return `${sramBytes !== undefined ? `${(sramBytes / 1024).toFixed(1)} KB SRAM, ` : ''}${biases} bias layer(s), weights ${weights.length ? weights.join(' ') : 'none'}`;
}

function fmtRatio(r: number): string {
  return r === 1 ? '1' : `1/${Math.round(1 / r)}`;
}
