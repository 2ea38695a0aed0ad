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
 * Cost. The exact planner: sramNeeded(planModel(quant, {scheme, momentum}), target), the
 * same plan compile() emits, never an estimate. It is far from additive: training a layer
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
import { planModel, sramNeeded } from '../index.js';
import type { Target } from '../../targets/index.js';
import { RATIOS } from './parse.js';
import { splitChannels, trainedChannels, type LayerTraining, type Scheme } from './scheme.js';
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
   * (compiler/sparse/evolve.ts); 'best' keeps the highest value of all three.
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

export interface AutoMove {
  layer: string;
  kind: 'bias' | 'weight';
  ratio: number;
}

export interface AutoTraceStep extends AutoMove {
  /** Value gained by this move and SRAM (exact plan) after it. */
  gain: number;
  sramBytes: number;
  deltaBytes: number;
}

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

interface Candidate extends AutoMove {
  gain: number;
  /** SRAM increase when last planned, and the scheme version it was planned against. */
  delta: number;
  version: number;
}

const nextRatio = (r: number): number | undefined => RATIOS.find((x) => x > r + 1e-9);

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
  const g = quant.graph;
  const layers = g.nodes.filter(hasParams);
  const index = new Map(layers.map((n, i) => [n.name, i]));
  const imp = importance(quant, params, calibration, labels, opts.maxSamples);
  const importanceMs = performance.now() - t0;
  const reserve = opts.staticReserveBytes ?? 1024;
  const limit = budgetBytes - reserve;
  const strategy = opts.strategy ?? 'best';

  const current = new Map<string, LayerTraining>(layers.map((n) => [n.name, { bias: false, weightRatio: 0 }]));
  const cache = new Map<string, number>();
  let evaluated = 0;
  const keyOf = (m: Map<string, LayerTraining>): string =>
    layers
      .map((n) => {
        const t = m.get(n.name)!;
        return `${t.bias ? 1 : 0}${t.weightRatio}`;
      })
      .join(',');
  const cost = (m: Map<string, LayerTraining>): number => {
    const key = keyOf(m);
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    evaluated++;
    const bytes = sramNeeded(planModel(quant, { scheme: { name: 'auto', layers: m }, momentum: opts.momentum ?? 0 }), target);
    cache.set(key, bytes);
    return bytes;
  };
  const applied = (mv: AutoMove): Map<string, LayerTraining> => {
    const m = new Map(current);
    const t = current.get(mv.layer)!;
    m.set(mv.layer, mv.kind === 'bias' ? { ...t, bias: true } : { ...t, weightRatio: mv.ratio });
    return m;
  };
  const earliest = (): number =>
    layers.findIndex((n) => {
      const t = current.get(n.name)!;
      return t.bias || t.weightRatio > 0;
    });
  const gainOf = (mv: AutoMove): number => {
    const n = layers[index.get(mv.layer)!]!;
    const t = current.get(mv.layer)!;
    const after = mv.kind === 'bias' ? { ...t, bias: true } : { ...t, weightRatio: mv.ratio };
    return layerValue(imp.get(mv.layer)!, after, n) - layerValue(imp.get(mv.layer)!, t, n);
  };

  // Infeasible: not even the cheapest single move fits.
  const empty = cost(current);
  const singles = layers
    .flatMap((n): AutoMove[] => [
      { layer: n.name, kind: 'bias', ratio: 0 },
      { layer: n.name, kind: 'weight', ratio: RATIOS[1]! },
    ])
    .map((mv) => ({ mv, bytes: cost(applied(mv)) }));
  const cheapest = singles.reduce((a, b) => (b.bytes < a.bytes ? b : a));
  if (cheapest.bytes > limit) {
    const need = cheapest.bytes + reserve;
    throw new TinytrainError(
      `budget ${budgetBytes} B is too small to train anything on ${target.name}: the smallest trainable scheme ` +
        `(${describeMove(cheapest.mv)}) needs ${need} B of SRAM${reserve ? ` (incl. ${reserve} B kept for the runtime's static data)` : ''}, ` +
        `${need - budgetBytes} B over (training nothing needs ${empty + reserve} B)`,
      `raise --budget to at least ${need} B (${(need / 1024).toFixed(1)} KB), or use a smaller model`,
    );
  }

  const greedy = (strategy: 'per-byte' | 'value'): { sram: number; trace: AutoTraceStep[]; layers: Map<string, LayerTraining> } => {
    for (const n of layers) current.set(n.name, { bias: false, weightRatio: 0 });
    let version = 0;
    let sram = empty;
    const moves: Candidate[] = [];
    for (const n of layers) {
      moves.push({ layer: n.name, kind: 'bias', ratio: 0, gain: 0, delta: 0, version: -1 });
      moves.push({ layer: n.name, kind: 'weight', ratio: RATIOS[1]!, gain: 0, delta: 0, version: -1 });
    }
    const refresh = (c: Candidate): void => {
      c.gain = gainOf(c);
      c.delta = cost(applied(c)) - sram;
      c.version = version;
    };
    moves.forEach(refresh);
    const score = (c: Candidate): number => {
      if (strategy === 'value') return c.gain;
      return c.delta <= 0 ? Infinity : c.gain / c.delta;
    };
    const better = (a: Candidate, b: Candidate): boolean => {
      const sa = score(a),
        sb = score(b);
      if (sa !== sb) return sa > sb;
      if (a.gain !== b.gain) return a.gain > b.gain;
      return a.delta < b.delta;
    };
    const trace: AutoTraceStep[] = [];
    let blocked = new Set<Candidate>();
    let freshPass = false; // true once every move has been re-planned against the current scheme

    for (;;) {
      const live = moves.filter((c) => !blocked.has(c) && c.gain > 0);
      if (live.length === 0) {
        if (freshPass || blocked.size === 0) break;
        // Nothing fits by (possibly stale) costs: re-plan everything once before stopping.
        blocked = new Set();
        moves.forEach(refresh);
        freshPass = true;
        continue;
      }
      live.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
      let c = live[0]!;
      if (opts.eager && c.version !== version) {
        moves.forEach(refresh);
        continue;
      }
      if (c.version !== version) {
        refresh(c);
        const rival = live[1];
        if (rival && better(rival, c)) continue; // its fresh cost made it worse: look again
      }
      if (sram + c.delta > limit) {
        blocked.add(c);
        continue;
      }
      // Accept.
      const depthBefore = earliest();
      for (const [k, v] of applied(c)) current.set(k, v);
      sram += c.delta;
      version++;
      trace.push({ layer: c.layer, kind: c.kind, ratio: c.ratio, gain: c.gain, sramBytes: sram, deltaBytes: c.delta });
      const i = moves.indexOf(c);
      const nr = c.kind === 'weight' ? nextRatio(c.ratio) : undefined;
      if (nr !== undefined) {
        c = { ...c, ratio: nr };
        refresh(c);
        moves[i] = c;
      } else moves.splice(i, 1);
      blocked = new Set();
      freshPass = false;
      // Gradients now reach further down: moves above the new earliest layer got cheaper.
      if (earliest() !== depthBefore) moves.forEach(refresh);
    }
    return { sram, trace, layers: new Map(current) };
  };

  const name = `auto-${Math.round(budgetBytes / 1024)}KB`;
  const greedyRuns: ('per-byte' | 'value')[] = strategy === 'per-byte' || strategy === 'value' ? [strategy] : ['per-byte', 'value'];
  const runs: { strategy: SearchStrategy; sram: number; trace: AutoTraceStep[]; scheme: Scheme; value: number }[] = greedyRuns.map((st) => {
    const r = greedy(st);
    const scheme: Scheme = { name, layers: r.layers };
    return { strategy: st, sram: r.sram, trace: r.trace, scheme, value: schemeValue(imp, scheme, layers) };
  });
  if (strategy === 'evolution' || strategy === 'best') {
    const names = layers.map((n) => n.name);
    const e = evolveScheme(
      {
        layerNames: names,
        limit,
        cost: (m) => cost(m),
        value: (m) => schemeValue(imp, { name, layers: m }, layers),
      },
      runs.map((r) => r.scheme.layers),
      { generations: opts.generations ?? 25 },
    );
    runs.push({ strategy: 'evolution', sram: e.cost, trace: [], scheme: { name, layers: e.layers }, value: e.value });
  }
  if (strategy === 'evolution') runs.splice(0, runs.length - 1);
  const best = runs.reduce((a, b) => (b.value > a.value ? b : a));
  return {
    scheme: best.scheme,
    sramBytes: best.sram,
    value: best.value,
    strategy: best.strategy,
    evaluated,
    ms: performance.now() - t0,
    importanceMs,
    trace: best.trace,
    candidates: runs.map((r) => ({ strategy: r.strategy, value: r.value, sramBytes: r.sram })),
  };
}
function describeMove(m: AutoMove): string {
  return m.kind === 'bias' ? `bias of '${m.layer}'` : `${m.ratio} of the weights of '${m.layer}'`;
}

/** Our JSON scheme form (readable by `--scheme FILE`): trained layers only. */
export function schemeToJson(s: Scheme): { name: string; layers: Record<string, LayerTraining> } {
  const layers: Record<string, LayerTraining> = {};
  for (const [name, t] of s.layers) if (t.bias || t.weightRatio > 0) layers[name] = { bias: t.bias, weightRatio: t.weightRatio };
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
