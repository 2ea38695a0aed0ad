/**
 * Static memory planning: every buffer of the training program gets a fixed arena
 * offset, chosen so that buffers whose lifetimes overlap never share bytes.
 *
 * Lifetime of a buffer = [first step that touches it, last step that touches it].
 * Placement is first-fit: buffers are taken in some order and each goes at the lowest
 * 16-byte-aligned offset that does not collide with an already placed buffer whose
 * lifetime overlaps. Two orders are tried (largest first; earliest first) and the
 * smaller arena wins. `reuse: false` gives every buffer its own bytes, which the tests
 * use as the obviously-safe reference.
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
  strategy: 'largest-first' | 'earliest-first' | 'no-reuse';
  /** Arena size each placement order reached (the smallest is used). */
  candidates: Array<{ strategy: string; arenaBytes: number }>;
  /** Step at which the most bytes are live, and how many. */
  peakStep: number;
  peakLiveBytes: number;
}

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

export function planArena(p: Program, sizeOf: (k: BufferKey) => number = (k) => p.sizes.get(k)!, reuse = true): ArenaPlan {
  const peak = peakLive(p, sizeOf);
  if (!reuse) {
    const bufs = lifetimes(p, sizeOf);
    let offset = 0;
    for (const b of bufs) {
      b.offset = offset;
      offset = align(offset + b.bytes);
    }
    return { buffers: new Map(bufs.map((b) => [b.key, b])), arenaBytes: offset, strategy: 'no-reuse', candidates: [{ strategy: 'no-reuse', arenaBytes: offset }], ...peak };
  }
  const candidates = (['largest-first', 'earliest-first'] as const).map((strategy) => {
    const bufs = lifetimes(p, sizeOf);
    bufs.sort(strategy === 'largest-first' ? (a, b) => b.bytes - a.bytes || a.first - b.first : (a, b) => a.first - b.first || b.bytes - a.bytes);
    const arenaBytes = firstFit(bufs);
    return { buffers: new Map(bufs.map((b) => [b.key, b])), arenaBytes, strategy };
  });
  const best = candidates.reduce((a, b) => (b.arenaBytes < a.arenaBytes ? b : a));
  return { ...best, candidates: candidates.map((c) => ({ strategy: c.strategy, arenaBytes: c.arenaBytes })), ...peak };
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
