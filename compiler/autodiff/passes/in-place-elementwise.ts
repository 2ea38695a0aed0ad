/**
 * Pass 6, in-place element-wise forward ops (`inPlace`, default on).
 *
 * An add, relu or relu6 writes its int8 output over one of its inputs (actShares,
 * output -> input), so the two tensors take one buffer.
 *
 * Legal when that input is read by nothing afterwards: the op is its last consumer in
 * forward, backward does not read its int8 values (no weight gradient reads it whole, no
 * op's input gradient reads it by its rule, and its producer's clamp keeps bits or has no
 * gradient), and it is not the output of a streamed chain (pass 3), whose step writes it
 * row by row; and the input is the output's size (not a broadcast operand). An op whose own input gradient reads its output (a Sigmoid) may still write
 * over its input: that output is then the shared buffer, which nothing later overwrites.
 */
import { opOf } from '../../ops/registry.js';
import { hasClamp, type BuildContext, type Draft } from '../context.js';
import { renameThroughShares } from './rewrite.js';

export function inPlaceElementwise(c: BuildContext, d: Draft): void {
  const streamed = new Set(d.steps.flatMap((s) => (s.kind === 'forwardStream' ? s.nodes.map((n) => n.name) : [])));
  const readInBackward = (t: string): boolean => {
    if (c.plan.readInBackward.has(t)) return true;
    const p = c.producerOf.get(t);
    return !!p && hasClamp(p) && c.plan.needGrad(t) && !c.options.bitMasks;
  };
  const overwritable = (t: string, by: string): boolean => {
    const users = c.users.get(t) ?? [];
    return users[users.length - 1]?.name === by && !readInBackward(t) && !streamed.has(c.producerOf.get(t)?.name ?? '');
  };
  for (const n of c.g.nodes) {
    if (!opOf(n).elementwise) continue;
    // Only an input of the output's size: a broadcast operand (Mul's per-channel [1, 1, C]) is smaller.
    const t = n.inputs.map(c.canon).find((x) => c.elems(x) === c.elems(n.output) && overwritable(x, n.name));
    if (t !== undefined) d.actShares.set(n.output, t);
  }
  renameThroughShares(d, 'act', d.actShares);
}
