/**
 * Evolutionary search over sparse-update schemes (strategy 'evolution' of autoScheme):
 * a (mu + lambda) evolution with elitism, seeded with the greedy searches' results, so it
 * never returns less value than they found. Children come from uniform crossover of two
 * parents and one to three point mutations (flip a layer's bias, move its weight ratio one
 * step up or down the RATIOS ladder); a child whose exact plan exceeds the budget is
 * dropped. Greedy moves one parameter group at a time and cannot trade two cheap groups
 * for one dear one or leave a deep layer once it paid for its gradient path; evolution can.
 *
 * Deterministic for a given seed: it stops after a fixed number of generations (never on
 * a clock, so the same compile picks the same scheme on every machine).
 */
import { Rng } from '../ir/rng.js';
import { RATIOS } from './parse.js';
import type { LayerTraining } from './scheme.js';

/** One gene per conv/dense layer: bias on/off and the index into RATIOS of its weights. */
export interface Genome {
  bias: boolean[];
  ratio: number[];
}

export interface EvolveOptions {
  seed?: number;
  population?: number;
  children?: number;
  generations?: number;
}

export interface EvolveProblem {
  layerNames: string[];
  /** Value of a scheme (higher is better). */
  value(layers: Map<string, LayerTraining>): number;
  /** Exact SRAM of a scheme (the planner). */
  cost(layers: Map<string, LayerTraining>): number;
  limit: number;
}

export function toLayers(names: string[], g: Genome): Map<string, LayerTraining> {
  return new Map(names.map((n, i) => [n, { bias: g.bias[i]!, weightRatio: RATIOS[g.ratio[i]!]! }]));
}

export function toGenome(names: string[], layers: Map<string, LayerTraining>): Genome {
  return {
    bias: names.map((n) => layers.get(n)?.bias ?? false),
    ratio: names.map((n) => {
      const r = layers.get(n)?.weightRatio ?? 0;
      const i = RATIOS.findIndex((x) => Math.abs(x - r) < 1e-9);
      if (i < 0) throw new Error(`evolve: weight ratio ${r} of ${n} is not one of RATIOS`);
      return i;
    }),
  };
}

interface Scored {
  genome: Genome;
  key: string;
  value: number;
  cost: number;
}

export function evolveScheme(
  p: EvolveProblem,
  seeds: Map<string, LayerTraining>[],
  o: EvolveOptions = {},
): { layers: Map<string, LayerTraining>; value: number; cost: number; generations: number } {
  const rng = new Rng(o.seed ?? 1);
  const mu = o.population ?? 8;
  const lambda = o.children ?? 16;
  const maxGen = o.generations ?? 25;
  const n = p.layerNames.length;
  const seen = new Map<string, Scored | null>();
  const keyOf = (g: Genome): string => g.bias.map((b, i) => `${b ? 1 : 0}${g.ratio[i]}`).join(',');
  const score = (g: Genome): Scored | null => {
    const key = keyOf(g);
    if (seen.has(key)) return seen.get(key)!;
    const layers = toLayers(p.layerNames, g);
    const cost = p.cost(layers);
    const s = cost <= p.limit ? { genome: g, key, value: p.value(layers), cost } : null;
    seen.set(key, s);
    return s;
  };
  let pop: Scored[] = seeds.map((s) => score(toGenome(p.layerNames, s))).filter((s): s is Scored => s !== null);
  if (pop.length === 0) throw new Error('evolve: no seed scheme fits the budget');
  const pick = (): Genome => pop[rng.nextU32() % pop.length]!.genome;
  const mutate = (g: Genome): void => {
    const i = rng.nextU32() % n;
    if (rng.uniform() < 0.5) g.bias[i] = !g.bias[i];
    else g.ratio[i] = Math.max(0, Math.min(RATIOS.length - 1, g.ratio[i]! + (rng.uniform() < 0.5 ? -1 : 1)));
  };
  let gen = 0;
  for (; gen < maxGen; gen++) {
    const born: Scored[] = [];
    for (let c = 0; c < lambda; c++) {
      const a = pick(),
        b = pick();
      const child: Genome = { bias: [], ratio: [] };
      for (let i = 0; i < n; i++) {
        const from = rng.uniform() < 0.5 ? a : b;
        child.bias.push(from.bias[i]!);
        child.ratio.push(from.ratio[i]!);
      }
      const flips = 1 + (rng.nextU32() % 3);
      for (let f = 0; f < flips; f++) mutate(child);
      const fresh = !seen.has(keyOf(child));
      const s = score(child);
      if (s && fresh) born.push(s);
    }
    // Elitist selection; ties go to the cheaper plan, then to the older entry.
    pop = [...pop, ...born].sort((x, y) => y.value - x.value || x.cost - y.cost).slice(0, mu);
  }
  const best = pop[0]!;
  return { layers: toLayers(p.layerNames, best.genome), value: best.value, cost: best.cost, generations: gen };
}
