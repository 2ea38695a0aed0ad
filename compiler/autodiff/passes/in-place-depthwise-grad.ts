/**
 * Pass 5, in-place depthwise input gradient (`inPlace`, default on).
 *
 * A stride-1, same-size, evenly padded depthwise conv writes its input gradient over its output
 * gradient, keeping only a few rows (kh - pad) of the output gradient in scratch while
 * it works: the two gradient tensors share one buffer (gradShares, input -> output).
 *
 * Legal when the conv computes no weight gradient (that reads the output gradient after
 * the input gradient is formed) and is its input's only consumer (so no other step adds
 * into, or reads, the input gradient). The bias gradient, which reads the output
 * gradient, moves before the input gradient that destroys it.
 */
import { isDepthwise, type Node } from '../../ir/graph.js';
import { isUniform } from '../../ops/padding.js';
import { gradKey, sized, type BuildContext, type Draft } from '../context.js';
import { findStep, renameThroughShares, stepAt } from './rewrite.js';

function sharesGradient(c: BuildContext, n: Node): boolean {
  const x = c.canon(n.inputs[0]!);
  if (!isDepthwise(n) || n.conv!.sh !== 1 || n.conv!.sw !== 1 || !isUniform(n.conv!.pads) || n.outShape.join() !== n.inShapes[0]!.join() || c.plan.gradChannels(n) > 0)
    return false;
  return c.plan.needGrad(x) && (c.users.get(x) ?? []).length === 1;
}

/** Make n's input gradient step in place, its bias gradient first. */
function rewriteStep(c: BuildContext, d: Draft, n: Node): void {
  const at = findStep(d, 'inputGrad', n);
  if (at < 0) return;
  const step = stepAt(d, at, 'inputGrad');
  const [, W, C] = n.inShapes[0]!;
  const scratch = sized(d, `scratch:${n.name}`, 4 * (n.conv!.kh - n.conv!.pads[0]) * W * C);
  const inPlace = { ...step, inPlace: true, reads: [step.reads[0]!], writes: [gradKey(c, d, step.targets[0]!), scratch] };
  const bias = findStep(d, 'biasGrad', n);
  if (bias === at + 1) d.steps.splice(at, 2, d.steps[bias]!, inPlace);
  else d.steps[at] = inPlace;
}

export function inPlaceDepthwiseGrad(c: BuildContext, d: Draft): void {
  for (const n of c.g.nodes) {
    if (!sharesGradient(c, n)) continue;
    d.gradShares.set(c.canon(n.inputs[0]!), n.output);
    rewriteStep(c, d, n);
  }
  renameThroughShares(d, 'grad', d.gradShares);
}
