/**
 * Pass 4, fused global-average-pool + frozen 1x1 head backward (`inPlace`, default on).
 *
 * When a global average pool reads a frozen 1x1 conv (the "head"), the head's output
 * gradient is the pool gradient / positions, broadcast, masked by the head's clamp: the
 * same value at every position but for the mask. One `gapHeadBackward` step replaces the
 * pool's backward and the head's (clamp, input gradient, bias gradient): it forms the
 * head's output gradient one position at a time, so that gradient is never held whole.
 * The head's bias update (if trained) stays a separate step reading bgrad:<head>.
 *
 * Legal when the head's output feeds only the pool, the head computes no weight gradient
 * (that would need its whole output gradient), its clamp, if any, is kept as bits
 * (pass 2), and neither op's input gradient reads forward values by its rule (the fused
 * kernel reads none). The fused step runs where the pool's backward ran, earlier than the head's
 * own; input-gradient accumulation flags and the order of updates at the end are
 * recomputed for that.
 */
import type { Node } from '../../ir/graph.js';
import { opOf } from '../../ops/registry.js';
import { isPointwise } from '../../pruning/prune.js';
import { gradKey, hasClamp, sized, type BuildContext, type Draft } from '../context.js';
import type { BufferKey, Step } from '../steps.js';
import { findStep, sortUpdatesByGradient } from './rewrite.js';

/** The head whose backward fuses with pool n's, if any. */
function fusableHead(c: BuildContext, d: Draft, n: Node): Node | undefined {
  if (!opOf(n).globalPool || opOf(n).program.inputGradReads) return undefined;
  const h = c.producerOf.get(c.canon(n.inputs[0]!));
  // A 1x1 conv (not a dense layer: the kernel reads the head's input position by position).
  if (!h || !h.conv || !isPointwise(h) || opOf(h).program.inputGradReads) return undefined;
  if (c.plan.gradChannels(h) > 0 || (c.users.get(h.output) ?? []).length !== 1) return undefined;
  if (hasClamp(h) && !d.sizes.has(`mask:${h.name}`)) return undefined;
  return h;
}

function fusedStep(c: BuildContext, d: Draft, pool: Node, head: Node): Step {
  const x = c.canon(head.inputs[0]!);
  const target = c.plan.needGrad(x) ? x : null;
  const bias = c.plan.biasGrad(head);
  const bg = bias ? sized(d, `bgrad:${head.name}`, 4 * head.outShape[2]) : null;
  const scratch = sized(d, `scratch:${head.name}`, 4 * head.outShape[2]);
  const mask: BufferKey[] = d.sizes.has(`mask:${head.name}`) ? [`mask:${head.name}`] : [];
  const writes = [...(target ? [gradKey(c, d, target)] : []), ...(bg ? [bg] : []), scratch];
  // accumulate and the accumulated read are settled by recomputeAccumulation.
  return { kind: 'gapHeadBackward', node: pool, head, accumulate: false, target, bias, reads: [gradKey(c, d, pool.output), ...mask], writes };
}

/** Which input gradients add onto one another's, walking backward in the new order. */
function recomputeAccumulation(c: BuildContext, d: Draft, lossStep: number): void {
  const started = new Set<string>([c.canon(c.g.output)]);
  d.steps = d.steps.map((s, i) => {
    if (i <= lossStep) return s;
    if (s.kind === 'gapHeadBackward' && s.target) {
      const accumulate = started.has(s.target);
      started.add(s.target);
      const own = s.reads.filter((k) => k !== gradKey(c, d, s.target!));
      return { ...s, accumulate, reads: accumulate ? [...own, gradKey(c, d, s.target)] : own };
    }
    if (s.kind !== 'inputGrad') return s;
    const accumulate = s.targets.map((t) => {
      const was = started.has(t);
      started.add(t);
      return was;
    });
    // Its own reads (output gradient, forward values) stay; the accumulated gradients follow.
    const own = s.reads.filter((k) => !s.targets.some((t) => k === gradKey(c, d, t)));
    const reads = [...own, ...s.targets.filter((_, k) => accumulate[k]).map((t) => gradKey(c, d, t))];
    return { ...s, accumulate, reads };
  });
}

export function fusePoolHead(c: BuildContext, d: Draft): void {
  let fused = false;
  for (const pool of c.g.nodes) {
    const head = fusableHead(c, d, pool);
    const at = findStep(d, 'inputGrad', pool);
    if (!head || at < 0) continue;
    d.steps[at] = fusedStep(c, d, pool, head);
    const replaced = new Set(['mask', 'inputGrad', 'biasGrad']);
    d.steps = d.steps.filter((s, i) => !(i !== at && 'node' in s && replaced.has(s.kind) && (s.node === head || s.node === pool)));
    fused = true;
  }
  if (!fused) return;
  recomputeAccumulation(
    c,
    d,
    d.steps.findIndex((s) => s.kind === 'loss'),
  );
  sortUpdatesByGradient(d);
}
