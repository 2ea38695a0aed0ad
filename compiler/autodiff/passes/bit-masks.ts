/**
 * Pass 2, 1-bit masks for clamp backward (`bitMasks`, default on).
 *
 * A clamp's backward (ReLU, ReLU6, a fused activation) only asks, per element, whether the
 * forward value was inside the clamp's range. So right after the layer runs forward, a
 * `saveMask` step records that as 1 bit per element into mask:<node>, and the backward
 * `mask` step reads the bits instead of the int8 output, which is then free once forward
 * is done (an eighth of the bytes, and the in-place pass may overwrite it).
 *
 * Legal wherever the output has a gradient; skipped where backward reads the tensor whole
 * anyway (a weight gradient, or an op's input gradient by its rule: keeping it costs
 * nothing more, and bits would be extra bytes).
 */
import { hasClamp, sized, type BuildContext, type Draft } from '../context.js';
import { findStep, stepAt } from './rewrite.js';

export function useBitMasks(c: BuildContext, d: Draft): void {
  for (const n of c.g.nodes) {
    if (!hasClamp(n) || !c.plan.needGrad(n.output) || c.plan.readInBackward.has(c.canon(n.output))) continue;
    const key = sized(d, `mask:${n.name}`, Math.ceil(c.elems(n.output) / 8));
    const forward = findStep(d, 'forward', n);
    const slice = findStep(d, 'saveSlice', n);
    d.steps.splice(Math.max(forward, slice) + 1, 0, { kind: 'saveMask', node: n, reads: stepAt(d, forward, 'forward').writes.slice(0, 1), writes: [key] });
    const backward = findStep(d, 'mask', n);
    if (backward < 0) continue;
    const step = stepAt(d, backward, 'mask');
    d.steps[backward] = { ...step, fromBits: true, reads: [key, step.reads[1]!] };
  }
}
