/**
 * The greedy searches of `--scheme auto`, strategies 'per-byte' (value gain per SRAM byte)
 * and 'value' (value gain alone): start from nothing trained, repeatedly take the best move
 * whose exact plan stays within the limit, stop when no move fits. Moves are planned lazily
 * and re-planned when the earliest trained layer changes; auto.ts's file comment ("Search")
 * says why. Costs come from PlanCosts, values from the caller (additive over layers).
 */
import type { Node } from '../ir/graph.js';
import { RATIOS } from './parse.js';
import type { PlanCosts } from './plan-costs.js';
import { trainsAnything, type LayerTraining } from './scheme.js';

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

export type GreedyStrategy = 'per-byte' | 'value';

export interface GreedyProblem {
  /** The trainable layers, in graph order. */
  layers: Node[];
  /** Value of training layer `n` as `t` (additive over layers). */
  value(n: Node, t: LayerTraining): number;
  plans: PlanCosts;
  /** SRAM the plan may need at most. */
  limit: number;
  /** Re-plan every move on every step (slow, exact greedy; for comparison). */
  eager: boolean;
}

export interface GreedyResult {
  sram: number;
  trace: AutoTraceStep[];
  layers: Map<string, LayerTraining>;
}

/** Every layer frozen: where each search starts. */
export function noTraining(layers: Node[]): Map<string, LayerTraining> {
  return new Map(layers.map((n) => [n.name, { bias: false, weightRatio: 0 }]));
}

/** The first moves a frozen layer offers: its bias, or the smallest weight ratio. */
export function firstMoves(layer: string): AutoMove[] {
  return [
    { layer, kind: 'bias', ratio: 0 },
    { layer, kind: 'weight', ratio: RATIOS[1]! },
  ];
}

/** A copy of `layers` with `mv` applied. */
export function applyMove(layers: Map<string, LayerTraining>, mv: AutoMove): Map<string, LayerTraining> {
  const m = new Map(layers);
  m.set(mv.layer, withMove(layers.get(mv.layer)!, mv));
  return m;
}

function withMove(t: LayerTraining, mv: AutoMove): LayerTraining {
  return mv.kind === 'bias' ? { ...t, bias: true } : { ...t, weightRatio: mv.ratio };
}

const nextRatio = (r: number): number | undefined => RATIOS.find((x) => x > r + 1e-9);

export function greedySearch(problem: GreedyProblem, strategy: GreedyStrategy): GreedyResult {
  return new GreedySearch(problem, strategy).run();
}

interface Candidate extends AutoMove {
  gain: number;
  /** SRAM increase when last planned, and the scheme version it was planned against. */
  delta: number;
  version: number;
}

class GreedySearch {
  private readonly current: Map<string, LayerTraining>;
  private readonly byName: Map<string, Node>;
  private readonly moves: Candidate[];
  private readonly trace: AutoTraceStep[] = [];
  /** Bumped by every accepted move: a candidate planned against an older one is stale. */
  private version = 0;
  private sram: number;
  /** Moves that did not fit since the last accepted move. */
  private blocked = new Set<Candidate>();
  /** True once every move has been re-planned against the current scheme. */
  private freshPass = false;

  constructor(
    private readonly p: GreedyProblem,
    private readonly strategy: GreedyStrategy,
  ) {
    this.current = noTraining(p.layers);
    this.byName = new Map(p.layers.map((n) => [n.name, n]));
    this.sram = p.plans.cost(this.current);
    this.moves = p.layers.flatMap((n) => firstMoves(n.name)).map((mv) => ({ ...mv, gain: 0, delta: 0, version: -1 }));
    this.refreshAll();
  }

  run(): GreedyResult {
    while (this.step()) {
      // one move (or one re-plan) per turn, until no move fits
    }
    return { sram: this.sram, trace: this.trace, layers: new Map(this.current) };
  }

  /** One turn: take, block or re-plan the best move; false when the search is over. */
  private step(): boolean {
    const live = this.moves.filter((c) => !this.blocked.has(c) && c.gain > 0);
    if (live.length === 0) return this.replanBeforeStopping();
    live.sort((a, b) => (this.better(a, b) ? -1 : this.better(b, a) ? 1 : 0));
    const c = live[0]!;
    if (c.version !== this.version) {
      if (this.p.eager) {
        this.refreshAll();
        return true;
      }
      this.refresh(c);
      const rival = live[1];
      if (rival && this.better(rival, c)) return true; // its fresh cost made it worse: look again
    }
    if (this.sram + c.delta > this.p.limit) this.blocked.add(c);
    else this.accept(c);
    return true;
  }

  /** Nothing fits by (possibly stale) costs: re-plan everything once before stopping. */
  private replanBeforeStopping(): boolean {
    if (this.freshPass || this.blocked.size === 0) return false;
    this.blocked = new Set();
    this.refreshAll();
    this.freshPass = true;
    return true;
  }

  private accept(c: Candidate): void {
    const depthBefore = this.earliest();
    this.current.set(c.layer, withMove(this.current.get(c.layer)!, c));
    this.sram += c.delta;
    this.version++;
    this.trace.push({ layer: c.layer, kind: c.kind, ratio: c.ratio, gain: c.gain, sramBytes: this.sram, deltaBytes: c.delta });
    this.replaceTaken(c);
    this.blocked = new Set();
    this.freshPass = false;
    // Gradients now reach further down: moves above the new earliest layer got cheaper.
    if (this.earliest() !== depthBefore) this.refreshAll();
  }

  /** A taken weight move gives way to the next ratio up (if any); a taken bias move is done. */
  private replaceTaken(c: Candidate): void {
    const i = this.moves.indexOf(c);
    const ratio = c.kind === 'weight' ? nextRatio(c.ratio) : undefined;
    if (ratio === undefined) {
      this.moves.splice(i, 1);
      return;
    }
    const next = { ...c, ratio };
    this.refresh(next);
    this.moves[i] = next;
  }

  private refreshAll(): void {
    for (const c of this.moves) this.refresh(c);
  }

  /** Re-plans `c` against the current scheme. */
  private refresh(c: Candidate): void {
    c.gain = this.gainOf(c);
    c.delta = this.p.plans.cost(applyMove(this.current, c)) - this.sram;
    c.version = this.version;
  }

  private gainOf(mv: AutoMove): number {
    const n = this.byName.get(mv.layer)!;
    const t = this.current.get(mv.layer)!;
    return this.p.value(n, withMove(t, mv)) - this.p.value(n, t);
  }

  private score(c: Candidate): number {
    if (this.strategy === 'value') return c.gain;
    return c.delta <= 0 ? Infinity : c.gain / c.delta;
  }

  /** Higher score, then higher gain, then the smaller SRAM increase. */
  private better(a: Candidate, b: Candidate): boolean {
    const sa = this.score(a);
    const sb = this.score(b);
    if (sa !== sb) return sa > sb;
    if (a.gain !== b.gain) return a.gain > b.gain;
    return a.delta < b.delta;
  }

  /** Index of the earliest layer that trains anything (-1: none). */
  private earliest(): number {
    return this.p.layers.findIndex((n) => trainsAnything(this.current.get(n.name)));
  }
}
