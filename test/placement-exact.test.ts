/**
 * Placement waste against an exact packing, on small cases. An exact packing is the best
 * first-fit over all orders of the buffers (firstFit's comment says why that is exact), so
 * for 6 buffers it is found by trying all 720 orders. The planner tries three orders, then
 * searches over orders; this measures what the first planner's two orders (the off switch)
 * leave on random lifetimes and sizes, that the search closes it, and that neither beats the exact packing nor goes below
 * the bytes live at the peak (which bounds every packing).
 */
import { describe, expect, it } from 'vitest';
import type { BufferKey, Program } from '../compiler/autodiff/program.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { planModel, quantizeSpec } from '../compiler/index.js';
import { packageRoot } from '../compiler/codegen/build.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { firstFit, lifetimes, planArena } from '../compiler/memory/planner.js';
import { schemeFromJson } from '../compiler/scheme/parse.js';

const root = packageRoot();

/** A program of `steps` steps whose buffers have random lifetimes and sizes (seeded LCG). */
function randomProgram(seed: number, buffers: number, steps: number): Program {
  let k = seed;
  const rnd = (n: number): number => ((k = (k * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const s = Array.from({ length: steps }, () => ({ reads: [] as BufferKey[], writes: [] as BufferKey[] }));
  const sizes = new Map<BufferKey, number>();
  for (let b = 0; b < buffers; b++) {
    const key = `act:t${b}` as BufferKey;
    const first = rnd(steps);
    const last = Math.min(steps - 1, first + rnd(4));
    s[first]!.writes.push(key);
    s[last]!.reads.push(key);
    sizes.set(key, 16 * (1 + rnd(64)) + rnd(16));
  }
  return { steps: s, sizes } as unknown as Program;
}

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

function exactArena(p: Program): number {
  const bufs = lifetimes(p, (key) => p.sizes.get(key)!);
  return Math.min(...permutations(bufs).map((order) => firstFit(order.map((b) => ({ ...b, offset: -1 })))));
}

describe('placement against an exact packing (small cases)', () => {
  it('the first planner (search off: the better of two orders) against the best of all orders, 150 random cases of 6 buffers', () => {
    let over = 0;
    let worst = 0;
    let wasteSum = 0;
    const cases = 150;
    for (let seed = 1; seed <= cases; seed++) {
      const p = randomProgram(seed, 6, 6);
      const plan = planArena(p, undefined, { search: false });
      const exact = exactArena(p);
      expect(exact, `seed ${seed}`).toBeLessThanOrEqual(plan.arenaBytes);
      expect(exact, `seed ${seed}`).toBeGreaterThanOrEqual(plan.peakLiveBytes);
      const waste = plan.arenaBytes / exact - 1;
      if (waste > 0) over++;
      worst = Math.max(worst, waste);
      wasteSum += waste;
    }
    console.log(
      `the first planner (two orders) vs exact packing: ${over}/${cases} cases above the optimum; mean waste ${((100 * wasteSum) / cases).toFixed(2)}%, worst ${(100 * worst).toFixed(1)}%`,
    );
    // What the first planner's two orders left, as measured when this test was written
    // (seeds 1..150: 3 cases above, mean 0.16%): a regression of the orders shows here.
    expect(wasteSum / cases).toBeLessThan(0.05);
  });

  it('with the order search: the exact packing in every one of the same 150 cases', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const p = randomProgram(seed, 6, 6);
      expect(planArena(p).arenaBytes, `seed ${seed}`).toBe(exactArena(p));
    }
  });

  it('larger cases (60 buffers, too many orders to try all): the search never loses to the first planner, never beats the peak bound, and the plan is reproducible', () => {
    let atBound = 0;
    let gained = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const p = randomProgram(seed, 60, 30);
      const plain = planArena(p, undefined, { search: false });
      const searched = planArena(p);
      expect(searched.arenaBytes, `seed ${seed}`).toBeLessThanOrEqual(plain.arenaBytes);
      expect(searched.arenaBytes, `seed ${seed}`).toBeGreaterThanOrEqual(searched.peakLiveBytes);
      expect(planArena(p).buffers, `seed ${seed}`).toEqual(searched.buffers);
      if (searched.arenaBytes === searched.peakLiveBytes) atBound++;
      if (searched.arenaBytes < plain.arenaBytes) gained++;
    }
    console.log(`60-buffer cases: the search lowered ${gained}/40 arenas; ${atBound}/40 at the peak-live bound`);
    expect(gained).toBeGreaterThan(0);
  });
});

/**
 * The reference's networks with their ~100 KB schemes (bench:memory has all fifteen): the
 * search places each arena at the bytes live at its peak, which no packing goes below, and
 * the first planner's two orders (the off switch) leave more, so the gain is real.
 */
describe("placement of the reference's networks", () => {
  const cases = [
    { model: 'mbv2-w0.35', scheme: '99kb' },
    { model: 'mcunet-5fps', scheme: '99kb' },
    { model: 'mbv2-w0.35', scheme: '73kb' },
  ];
  for (const c of cases) {
    it(`${c.model} ${c.scheme}: the arena is the peak-live bound; without the search it is larger`, () => {
      const spec = JSON.parse(readFileSync(join(root, 'examples', `tte-${c.model}.json`), 'utf8')) as ModelSpec;
      const graph = buildGraph(spec);
      const x = Float32Array.from({ length: graph.inputShape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37));
      const { quant } = quantizeSpec(spec, [x]);
      const scheme = schemeFromJson(graph, JSON.parse(readFileSync(join(root, 'examples', 'schemes', `tte-${c.model}-${c.scheme}.json`), 'utf8')), c.scheme);
      const searched = planModel(quant, { scheme }).arena;
      const plain = planModel(quant, { scheme, placementSearch: false }).arena;
      console.log(`${c.model} ${c.scheme}: arena ${searched.arenaBytes} B (${searched.strategy}); first planner ${plain.arenaBytes} B; peak live ${searched.peakLiveBytes} B`);
      expect(searched.arenaBytes).toBe(searched.peakLiveBytes);
      expect(plain.arenaBytes).toBeGreaterThan(searched.arenaBytes);
      expect(searched.strategy).toMatch(/^search from /);
    });
  }
});
