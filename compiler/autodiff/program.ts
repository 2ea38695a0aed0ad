/**
 * The training program: the straight-line list of steps the runtime executes for one
 * training sample, derived at compile time. Forward steps, the loss, then the backward
 * pass in reverse order. Every step names the buffers it touches; the planner derives
 * lifetimes from that, and `sizes` gives every buffer's bytes.
 *
 * Built in stages, each its own file with its rule, why it is legal and its flag:
 *
 *   1. passes/prune-backward.ts        `prune`     which gradients exist (a plan, not a rewrite)
 *   plain.ts                                       forward, loss, those gradients, updates at the end
 *   2. passes/bit-masks.ts             `bitMasks`  clamp backward from 1-bit masks
 *   3. passes/stream-frozen-chains.ts  `stream`    frozen conv chains row by row through rings
 *   4. passes/fuse-pool-head.ts        `inPlace`   global pool + frozen 1x1 head backward fused
 *   5. passes/in-place-depthwise-grad.ts `inPlace` depthwise input gradient over its output gradient
 *   6. passes/in-place-elementwise.ts  `inPlace`   add/relu output over a dead input
 *   7. passes/reorder-updates.ts       `reorder`   each update right after its gradient, fused
 *
 * The order is forced by what each pass reads: the pool/head fusion needs the head's
 * bits (2); the in-place forward pass must know which tensors keep bits (2) and which are
 * streamed (3); the in-place passes rename buffers, so they run after every pass that
 * builds keys by tensor name; the updates move to their final gradient steps last (7).
 * test/program-passes.test.ts proves the staged build gives, for every model, scheme and
 * option set, exactly the program the single-function builder it replaced gave.
 */
import type { Graph } from '../ir/graph.js';
import type { Scheme } from '../scheme/scheme.js';
import { finishSizes, graphFacts, type BuildContext } from './context.js';
import { plainProgram } from './plain.js';
import type { LossKind } from '../loss.js';
import { useBitMasks } from './passes/bit-masks.js';
import { fusePoolHead } from './passes/fuse-pool-head.js';
import { inPlaceDepthwiseGrad } from './passes/in-place-depthwise-grad.js';
import { inPlaceElementwise } from './passes/in-place-elementwise.js';
import { gradientPlan } from './passes/prune-backward.js';
import { reorderUpdates } from './passes/reorder-updates.js';
import { streamFrozenChains } from './passes/stream-frozen-chains.js';
import { act, grad, type BufferKey, type Program, type ProgramOptions } from './steps.js';

export { act, grad, slicePositions } from './steps.js';
export type { BufferKey, BufferKind, Program, ProgramOptions, Step } from './steps.js';

export function buildProgram(g: Graph, scheme: Scheme, opts: ProgramOptions = {}, loss: LossKind = 'softmax-ce'): Program {
  const options: Required<ProgramOptions> = {
    prune: opts.prune ?? true,
    reorder: opts.reorder ?? true,
    bitMasks: opts.bitMasks ?? true,
    stream: opts.stream ?? true,
    inPlace: opts.inPlace ?? true,
    prunedScratch: opts.prunedScratch ?? new Map(),
  };
  const facts = graphFacts(g);
  const c: BuildContext = { ...facts, scheme, options, plan: gradientPlan(facts, scheme, options.prune) };
  const d = plainProgram(c);
  if (options.bitMasks) useBitMasks(c, d);
  if (options.stream) streamFrozenChains(c, d);
  if (options.inPlace) {
    fusePoolHead(c, d);
    inPlaceDepthwiseGrad(c, d);
    inPlaceElementwise(c, d);
  }
  if (options.reorder) reorderUpdates(c, d);
  const lossStep = d.steps.findIndex((s) => s.kind === 'loss');
  return { steps: d.steps, lossStep, alias: facts.alias, sizes: finishSizes(d), options, actShares: d.actShares, gradShares: d.gradShares, loss };
}

/** The buffer holding tensor t's int8 activation (through views and in-place sharing). */
export function actKeyOf(p: Program, t: string): BufferKey {
  let c = p.alias.get(t) ?? t;
  while (p.actShares.has(c)) c = p.actShares.get(c)!;
  return act(c);
}

/** The buffer holding tensor t's float32 gradient (through views and in-place sharing). */
export function gradKeyOf(p: Program, t: string): BufferKey {
  let c = p.alias.get(t) ?? t;
  while (p.gradShares.has(c)) c = p.gradShares.get(c)!;
  return grad(c);
}
