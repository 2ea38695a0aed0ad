/**
 * Static memory planning: every buffer of the training program gets a fixed arena
 * offset, chosen so that buffers whose lifetimes overlap never share bytes.
 *
 * Lifetime of a buffer = [first step that touches it, last step that touches it].
 * Placement is first-fit: buffers are taken in some order and each goes at the lowest
 * 16-byte-aligned offset that does not collide with an already placed buffer whose
 * lifetime overlaps. The first planner tried two orders (largest first; earliest first)
 * and kept the smaller arena; `search: false` is exactly that (the scheme search's cheap
 * costs, and the plans older records were made from). By default a third order
 * (longest-lived first) is tried too, and then, unless the best already equals the bytes
 * live at the peak (no packing goes lower), a seeded local search over orders
 * (searchOrder) improves it. `reuse: false` gives every buffer its own bytes, which the
 * tests use as the obviously-safe reference.
 */
import type { BufferKey, Program } from '../autodiff/program.js';

export const ARENA_ALIGN = 16;

export interface PlacedBuffer {
  key: BufferKey;
  bytes: number;
  first: number;
  last: number;
  offset: number;
}

export interface ArenaPlan {
  buffers: Map<BufferKey, PlacedBuffer>;
  arenaBytes: number;
  strategy: Strategy | 'no-reuse';
  /** Arena size each placement order reached (the smallest is used). */
  candidates: Array<{ strategy: string; arenaBytes: number }>;
  /** Step at which the most bytes are live, and how many. */
  peakStep: number;
  peakLiveBytes: number;
}

type Order = 'largest-first' | 'earliest-first' | 'longest-lived-first';
/** A constructive order, or the local search started from the best of them. */
type Strategy = Order | `search from ${Order}`;

export interface PlacementOptions {
  /** false: every buffer its own bytes (default true). */
  reuse?: boolean;
  /** false: the first planner, the better of largest-first and earliest-first (default true: three orders, then the search). */
  search?: boolean;
}

const ORDERS: { [K in Order]: (a: PlacedBuffer, b: PlacedBuffer) => number } = {
  'largest-first': (a, b) => b.bytes - a.bytes || a.first - b.first,
  'earliest-first': (a, b) => a.first - b.first || b.bytes - a.bytes,
  'longest-lived-first': (a, b) => b.last - b.first - (a.last - a.first) || b.bytes - a.bytes || a.first - b.first,
};

const align = (n: number): number => Math.ceil(n / ARENA_ALIGN) * ARENA_ALIGN;

export function lifetimes(p: Program, sizeOf: (k: BufferKey) => number): PlacedBuffer[] {
  const m = new Map<BufferKey, PlacedBuffer>();
  p.steps.forEach((s, i) => {
    for (const k of [...s.reads, ...s.writes]) {
      const b = m.get(k);
      if (b) {
        b.first = Math.min(b.first, i);
        b.last = Math.max(b.last, i);
      } else m.set(k, { key: k, bytes: sizeOf(k), first: i, last: i, offset: -1 });
    }
  });
  return [...m.values()];
}

/**
 * Places buffers in the given order, each at the lowest aligned offset free over its
 * lifetime; returns the arena size. Every placement is first-fit of some order (place the
 * buffers of any packing by increasing offset: each lands at or below its offset there), so
 * the best order is an exact packing: test/placement-exact.test.ts measures ours against it.
 */
export function firstFit(order: PlacedBuffer[]): number {
  const placed: PlacedBuffer[] = [];
  let end = 0;
  for (const b of order) {
    const clashes = placed.filter((o) => o.first <= b.last && b.first <= o.last).sort((x, y) => x.offset - y.offset);
    let offset = 0;
    for (const o of clashes) {
      if (offset + b.bytes <= o.offset) break;
      offset = Math.max(offset, align(o.offset + o.bytes));
    }
    b.offset = offset;
    placed.push(b);
    end = Math.max(end, align(offset + b.bytes));
  }
  return end;
}

export function planArena(p: Program, sizeOf: (k: BufferKey) => number = (k) => p.sizes.get(k)!, opts: PlacementOptions = {}): ArenaPlan {
  const peak = peakLive(p, sizeOf);
  if (opts.reuse === false) {
    const bufs = lifetimes(p, sizeOf);
    let offset = 0;
    for (const b of bufs) {
      b.offset = offset;
      offset = align(offset + b.bytes);
    }
    return { buffers: new Map(bufs.map((b) => [b.key, b])), arenaBytes: offset, strategy: 'no-reuse', candidates: [{ strategy: 'no-reuse', arenaBytes: offset }], ...peak };
  }
  const search = opts.search !== false;
  const orders: Order[] = search ? ['largest-first', 'earliest-first', 'longest-lived-first'] : ['largest-first', 'earliest-first'];
  const constructive = orders.map((strategy) => {
    const order = lifetimes(p, sizeOf).sort(ORDERS[strategy]);
    return { order, arenaBytes: firstFit(order), strategy };
  });
  const start = constructive.reduce((a, b) => (b.arenaBytes < a.arenaBytes ? b : a));
  const candidates: Array<{ order: PlacedBuffer[]; arenaBytes: number; strategy: Strategy }> = [...constructive];
  if (search && start.arenaBytes > peak.peakLiveBytes) {
    candidates.push({ ...searchOrder(start.order, start.arenaBytes, peak.peakLiveBytes), strategy: `search from ${start.strategy}` });
  }
  const best = candidates.reduce((a, b) => (b.arenaBytes < a.arenaBytes ? b : a));
  return {
    buffers: new Map(best.order.map((b) => [b.key, b])),
    arenaBytes: best.arenaBytes,
    strategy: best.strategy,
    candidates: candidates.map((c) => ({ strategy: c.strategy, arenaBytes: c.arenaBytes })),
    ...peak,
  };
}

/**
 * The search's budget in buffer-pair visits (firstFit is quadratic in the buffers): about a
 * second of CPU at most, whatever the program's size; at most MAX_MOVES moves, and it stops
 * after STALL_MOVES moves without a strict gain.
 */
const SEARCH_WORK = 5e7;
const MAX_MOVES = 4000;
const STALL_MOVES = 2000;

/**
 * Local search over first-fit orders: move one buffer elsewhere in the order, or swap two
 * (each half the time, positions from a fixed-seed LCG, so a plan is reproducible), and keep
 * the new order when its arena is no larger (moves across plateaus are what find the
 * gains). Stops at `bound` (the bytes live at the peak: optimal), or when the budget is
 * spent. Measured on the reference's 15 schemes (bench:memory): every one reaches the
 * bound, after at most ~1700 moves.
 */
function searchOrder(start: PlacedBuffer[], startBytes: number, bound: number): { order: PlacedBuffer[]; arenaBytes: number } {
  const n = start.length;
  const moves = Math.min(MAX_MOVES, Math.floor(SEARCH_WORK / Math.max(1, n * n)));
  let seed = 0x2545f491;
  const pick = (m: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % m;
  };
  let best = start.map((b) => ({ ...b }));
  let bestBytes = startBytes;
  let lastGain = 0;
  for (let move = 0; move < moves && bestBytes > bound && move - lastGain < STALL_MOVES; move++) {
    const order = best.map((b) => ({ ...b }));
    const i = pick(n);
    const j = pick(n);
    if (pick(2) === 0) [order[i], order[j]] = [order[j]!, order[i]!];
    else order.splice(j, 0, ...order.splice(i, 1));
    const bytes = firstFit(order);
    if (bytes < bestBytes) lastGain = move;
    if (bytes <= bestBytes) {
      best = order;
      bestBytes = bytes;
    }
  }
  return { order: best, arenaBytes: bestBytes };
}

/** The lower bound any placement must reach: the most bytes live at one step. */
function peakLive(p: Program, sizeOf: (k: BufferKey) => number): { peakStep: number; peakLiveBytes: number } {
  const bufs = lifetimes(p, sizeOf);
  let peakStep = 0;
  let peakLiveBytes = 0;
  for (let i = 0; i < p.steps.length; i++) {
    let live = 0;
    for (const b of bufs) if (b.first <= i && i <= b.last) live += align(b.bytes);
    if (live > peakLiveBytes) {
      peakLiveBytes = live;
      peakStep = i;
    }
  }
  return { peakStep, peakLiveBytes };
}

/** Buffers live at a step (for reports and budget errors). */
export function liveAt(plan: ArenaPlan, step: number): PlacedBuffer[] {
  return [...plan.buffers.values()].filter((b) => b.first <= step && step <= b.last).sort((a, b) => b.bytes - a.bytes);
}
