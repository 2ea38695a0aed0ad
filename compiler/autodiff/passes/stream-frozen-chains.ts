/**
 * Pass 3, row streaming of frozen conv chains (`stream`, default on).
 *
 * A chain of convs a -> b -> ... where each intermediate tensor has exactly one consumer,
 * the next conv, which reads nothing else, is computed row by row: each intermediate
 * lives in a ring of as many rows as its consumer's kernel height instead of whole. The
 * chain's forward steps become one `forwardStream` step at the place of the chain's last
 * layer, writing the rings and the last output.
 *
 * Legal when nothing else needs the intermediates: no gradient flows through them (the
 * plan computes none), the next conv computes no weight gradient (it would read its input
 * whole), no backward step reads them (GradientPlan.readInBackward), and none is the model
 * output. Such layers have no save or mask steps (no input gradient runs where no gradient
 * flows, so neither do the masks an op's rule saves for one), so only their forward steps
 * are replaced.
 */
import type { Node } from '../../ir/graph.js';
import { opOf } from '../../ops/registry.js';
import { actKey, sized, prunedScratch, type BuildContext, type Draft } from '../context.js';
import { findStep } from './rewrite.js';

/** The conv that can read n's output from a ring, if any. */
function ringConsumer(c: BuildContext, n: Node): Node | undefined {
  if (!opOf(n).streamable || n.output === c.canon(c.g.output) || c.plan.needGrad(n.output) || c.plan.readInBackward.has(n.output)) return undefined;
  const users = c.users.get(n.output) ?? [];
  const b = users[0];
  if (users.length !== 1 || !b || !opOf(b).streamable || b.inputs.length !== 1 || c.plan.gradChannels(b) > 0) return undefined;
  return b;
}

/** Maximal chains, in graph order of their first layer. */
export function frozenChains(c: BuildContext): Node[][] {
  const chains: Node[][] = [];
  const inChain = new Set<string>();
  for (const n of c.g.nodes) {
    if (inChain.has(n.name) || !ringConsumer(c, n)) continue;
    const chain = [n];
    for (let b = ringConsumer(c, n); b; b = ringConsumer(c, chain[chain.length - 1]!)) chain.push(b);
    for (const m of chain) inChain.add(m.name);
    chains.push(chain);
  }
  return chains;
}

export function streamFrozenChains(c: BuildContext, d: Draft): void {
  for (const chain of frozenChains(c)) {
    const last = chain[chain.length - 1]!;
    const rings = chain.slice(1).map((b) => b.conv!.kh);
    const ringKeys = chain.slice(0, -1).map((a, i) => sized(d, `ring:${a.output}`, rings[i]! * a.outShape[1] * a.outShape[2]));
    const writes = [
      ...ringKeys,
      actKey(c, d, last.output),
      ...prunedScratch(
        c,
        d,
        `fwd:${last.name}`,
        chain.map((m) => m.name),
      ),
    ];
    d.steps[findStep(d, 'forward', last)] = { kind: 'forwardStream', nodes: chain, rings, reads: [actKey(c, d, chain[0]!.inputs[0]!)], writes };
    const members = new Set<Node>(chain.slice(0, -1));
    d.steps = d.steps.filter((s) => s.kind !== 'forward' || !members.has(s.node));
  }
}
