/**
 * Pass 7, fused updates (`reorder`, default on; off = all updates at the end, as a
 * conventional framework runs them).
 *
 * Each update moves to right after the step that computes its gradient. With pruning on,
 * a gradient and its update then fuse into one kernel (weightGrad + applyWeight ->
 * weightUpdate, biasGrad + applyBias -> biasUpdate), so no weight- or bias-gradient
 * buffer exists at all. The fused pool/head step's bias gradient stays a buffer: its
 * update just moves next to it. Without pruning the gradient buffers stay (gradients of
 * frozen channels are computed, and the update masks them), updates just move.
 *
 * Legal because the only other step that reads a layer's parameters in backward, its
 * input gradient, runs before its weight gradient; and updates keep their relative
 * order, so both programs train bit-identically (test/pruning.test.ts). Runs last, over
 * the final gradient steps.
 */
import type { BuildContext, Draft } from '../context.js';
import type { Step } from '../steps.js';
import { isUpdate } from './rewrite.js';

/** gradient step + its update -> one fused step, or undefined if they do not fuse. */
function fuse(grad: Step, update: Step): Step | undefined {
  if (grad.kind === 'weightGrad' && update.kind === 'applyWeight' && update.node === grad.node) {
    return { kind: 'weightUpdate', node: grad.node, channels: grad.channels, x: grad.x, xChannels: grad.xChannels, reads: grad.reads, writes: [] };
  }
  if (grad.kind === 'biasGrad' && update.kind === 'applyBias' && update.node === grad.node) {
    return { kind: 'biasUpdate', node: grad.node, reads: grad.reads, writes: [] };
  }
  return undefined;
}

export function reorderUpdates(c: BuildContext, d: Draft): void {
  const updateOf = new Map(d.steps.filter(isUpdate).map((u) => [u.reads[0]!, u]));
  const steps: Step[] = [];
  for (const s of d.steps) {
    if (isUpdate(s)) continue;
    const update = s.writes.map((k) => updateOf.get(k)).find((u) => u !== undefined);
    const fused = update && c.options.prune ? fuse(s, update) : undefined;
    if (fused) steps.push(fused);
    else steps.push(s, ...(update ? [update] : []));
  }
  d.steps = steps;
}
