/**
 * The input gradient of the ops whose derivative is 1 wherever the gradient passes: add
 * (to both inputs) and relu/relu6 (their mask step has already zeroed the gradient where
 * the clamp cut). The output gradient is copied, or added, into each input's.
 */
import type { EmitContext } from '../codegen/context.js';
import { count } from '../codegen/geometry.js';
import type { StepOf } from '../codegen/steps/types.js';

export function passInputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const calls = s.targets.map((t, k) => `${c.call('gradInto', { src: c.grad(n.output), dst: c.grad(t), count: count(n), accumulate: s.accumulate[k]! })};`);
  return `${calls.join(' ')} // ${c.label(n)}`;
}
