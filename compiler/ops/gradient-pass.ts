/**
 * The input gradient of the ops whose derivative is 1 wherever the gradient passes: add
 * (to both inputs) and relu/relu6 (their mask step has already zeroed the gradient where
 * the clamp cut). The output gradient is copied, or added, into each input's.
 * And which input each target of an input gradient is, for the ops whose inputs get different ones.
 */
import type { EmitContext } from '../codegen/context.js';
import { count } from '../codegen/geometry.js';
import type { StepOf } from '../codegen/steps/types.js';

export function passInputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const calls = s.targets.map((t, k) => `${c.call('gradInto', { src: c.grad(n.output), dst: c.grad(t), count: count(n), accumulate: s.accumulate[k]! })};`);
  return `${calls.join(' ')} // ${c.label(n)}`;
}

/**
 * The input positions of an inputGrad step's targets (mul, concat: each position's gradient
 * differs). Its targets are the inputs that need a gradient, in input order
 * (prune-backward.ts), so each is the next input naming it (a tensor named twice needs a
 * gradient at both positions or at neither).
 */
export function targetPositions(s: StepOf<'inputGrad'>, c: EmitContext): number[] {
  const canon = (t: string) => c.p.alias.get(t) ?? t;
  const positions: number[] = [];
  s.node.inputs.forEach((t, k) => {
    if (canon(t) === s.targets[positions.length]) positions.push(k);
  });
  return positions;
}
