/** Small helpers the passes share for finding and rewriting steps of a draft program. */
import type { Node } from '../../ir/graph.js';
import type { Draft } from '../context.js';
import type { BufferKey, Step } from '../steps.js';

type KindOf<K extends Step['kind']> = Extract<Step, { kind: K }>;

/** Index of the step of `kind` for node n (-1 if none). */
export function findStep<K extends Step['kind']>(d: Draft, kind: K, n: Node): number {
  return d.steps.findIndex((s) => s.kind === kind && 'node' in s && s.node === n);
}

export function stepAt<K extends Step['kind']>(d: Draft, i: number, kind: K): KindOf<K> {
  const s = d.steps[i];
  if (!s || s.kind !== kind) throw new Error(`internal: step ${i} is not ${kind}`);
  return s as KindOf<K>;
}

export const isUpdate = (s: Step): boolean => s.kind === 'applyWeight' || s.kind === 'applyBias';

/**
 * Rename every buffer of `prefix` ('act' or 'grad') through `shares` (tensor -> tensor
 * whose buffer it overwrites, followed to the end of the chain), in every step.
 */
export function renameThroughShares(d: Draft, prefix: 'act' | 'grad', shares: ReadonlyMap<string, string>): void {
  const follow = (t: string): string => {
    let c = t;
    while (shares.has(c)) c = shares.get(c)!;
    return c;
  };
  const rename = (k: BufferKey): BufferKey => (k.startsWith(`${prefix}:`) ? `${prefix}:${follow(k.slice(prefix.length + 1))}` : k);
  d.steps = d.steps.map((s) => {
    const renamed = { ...s, reads: s.reads.map(rename), writes: s.writes.map(rename) } as Step;
    if (renamed.kind === 'weightGrad' || renamed.kind === 'weightUpdate') renamed.x = rename(renamed.x);
    return renamed;
  });
}

/**
 * Updates at the end run in the order their gradients are computed (so that moving them
 * next to their gradients, or not, applies them in the same order). A pass that moves a
 * gradient step calls this to keep that so.
 */
export function sortUpdatesByGradient(d: Draft): void {
  const updates = d.steps.filter(isUpdate);
  const writer = (u: Step): number => d.steps.findIndex((s) => s.writes.includes(u.reads[0]!));
  const sorted = [...updates].sort((a, b) => writer(a) - writer(b));
  let next = 0;
  d.steps = d.steps.map((s) => (isUpdate(s) ? sorted[next++]! : s));
}
