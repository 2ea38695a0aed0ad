/**
 * The plain training program, before any optimisation pass except the gradient plan:
 * each op's program rule (OpDef.program, compiler/ops/) read in forward order — its
 * forward step, plus the input slice its weight gradient needs — then the loss, then the
 * rules' backward steps in reverse layer order — clamp backward from the int8 output,
 * input gradients (reading the forward values their rule names), weight and bias
 * gradients into float32 buffers — and all updates at
 * the end, in the order their gradients were computed. This is what a conventional
 * framework runs; the passes in passes/ rewrite it.
 */
import { isDepthwise, weightShape, type Node } from '../ir/graph.js';
import { opOf } from '../ops/registry.js';
import type { BackwardStepKind, ForwardStepKind } from '../ops/types.js';
import { splitChannels, trainedChannels } from '../scheme/scheme.js';
import { actKey, gradKey, hasClamp, inputGradActivations, ownMask, sized, prunedScratch, type BuildContext, type Draft } from './context.js';
import { slicePositions, type BufferKey, type Step } from './steps.js';

/** Weights per split channel: the size of one channel's slice of the weight tensor. */
function weightsPerChannel(n: Node): number {
  const [cout, kh, kw, cin] = weightShape(n);
  return isDepthwise(n) ? kh * kw * cin : cout * kh * kw;
}

/** The buffer a weight gradient of n reads its input from, and how many channels it holds. */
export function weightInput(c: BuildContext, d: Draft, n: Node): { key: BufferKey; channels: number } {
  const k = c.plan.gradChannels(n);
  if (k < splitChannels(n)) return { key: `save:${n.name}`, channels: k };
  return { key: actKey(c, d, n.inputs[0]!), channels: splitChannels(n) };
}

/** What backward steps share while the program is built. */
interface BackwardState {
  /** Tensors whose gradient some step has begun. */
  started: Set<string>;
  /** Parameter updates, in the order their gradients are computed: they go at the end. */
  updates: Step[];
}

const FORWARD_STEPS: { [K in ForwardStepKind]: (c: BuildContext, d: Draft, n: Node) => void } = {
  /** Its kernel: the output, and the mask its input gradient reads (if its rule has one). */
  forward(c, d, n) {
    const reads = n.inputs.map((t) => actKey(c, d, t));
    d.steps.push({ kind: 'forward', node: n, reads, writes: [actKey(c, d, n.output), ...ownMask(c, d, n), ...prunedScratch(c, d, `fwd:${n.name}`, [n.name])] });
  },
  /** The first k channels of the input, when the weight gradient trains only those. */
  saveSlice(c, d, n) {
    const k = c.plan.gradChannels(n);
    if (k > 0 && k < splitChannels(n)) {
      const key = sized(d, `save:${n.name}`, slicePositions(n) * k);
      d.steps.push({ kind: 'saveSlice', node: n, channels: k, reads: [actKey(c, d, n.inputs[0]!)], writes: [key] });
    }
  },
};

const BACKWARD_STEPS: { [K in BackwardStepKind]: (c: BuildContext, d: Draft, n: Node, b: BackwardState) => void } = {
  /** The clamp's backward, in place on the output gradient, from the int8 output. */
  mask(c, d, n) {
    const out = gradKey(c, d, n.output);
    if (hasClamp(n)) d.steps.push({ kind: 'mask', node: n, fromBits: false, reads: [actKey(c, d, n.output), out], writes: [out] });
  },
  /** Reads the output gradient, and the forward values its op's rule names (activations, then its mask). */
  inputGrad(c, d, n, { started }) {
    const out = gradKey(c, d, n.output);
    const targets = c.plan.inputGradTargets(n);
    if (targets.length === 0) return;
    // Sequential, so add(x, x) accumulates its second contribution onto the first.
    const accumulate = targets.map((t) => {
      const was = started.has(t);
      started.add(t);
      return was;
    });
    const saved = [...inputGradActivations(c, n).map((t) => actKey(c, d, t)), ...ownMask(c, d, n)];
    const reads = [out, ...saved, ...targets.filter((_, k) => accumulate[k]).map((t) => gradKey(c, d, t))];
    const writes = [...targets.map((t) => gradKey(c, d, t)), ...prunedScratch(c, d, `bwd:${n.name}`, [n.name])];
    d.steps.push({ kind: 'inputGrad', node: n, accumulate, targets, reads, writes });
  },
  weightGrad(c, d, n, { updates }) {
    const computed = c.plan.gradChannels(n);
    if (computed === 0) return;
    const x = weightInput(c, d, n);
    const wg = sized(d, `wgrad:${n.name}`, 4 * computed * weightsPerChannel(n));
    d.steps.push({ kind: 'weightGrad', node: n, channels: computed, x: x.key, xChannels: x.channels, reads: [gradKey(c, d, n.output), x.key], writes: [wg] });
    const trained = trainedChannels(c.scheme.layers.get(n.name), n);
    if (trained > 0) updates.push({ kind: 'applyWeight', node: n, channels: trained, gradChannels: computed, reads: [wg], writes: [] });
  },
  biasGrad(c, d, n, { updates }) {
    if (!c.plan.biasGrad(n)) return;
    const bg = sized(d, `bgrad:${n.name}`, 4 * n.outShape[2]);
    d.steps.push({ kind: 'biasGrad', node: n, reads: [gradKey(c, d, n.output)], writes: [bg] });
    if (c.scheme.layers.get(n.name)?.bias) updates.push({ kind: 'applyBias', node: n, reads: [bg], writes: [] });
  },
};

export function plainProgram(c: BuildContext): Draft {
  const d: Draft = { steps: [], sizes: new Map(), actShares: new Map(), gradShares: new Map() };
  for (const n of c.g.nodes) for (const kind of opOf(n).program.forward) FORWARD_STEPS[kind](c, d, n);
  const logits = c.canon(c.g.output);
  d.steps.push({ kind: 'loss', reads: [actKey(c, d, logits)], writes: [gradKey(c, d, logits)] });
  const b: BackwardState = { started: new Set<string>([logits]), updates: [] };
  for (const n of [...c.g.nodes].reverse()) {
    if (!c.plan.needGrad(n.output)) continue;
    if (!b.started.has(c.canon(n.output))) continue; // not on a path from the loss
    for (const kind of opOf(n).program.backward) BACKWARD_STEPS[kind](c, d, n, b);
  }
  d.steps.push(...b.updates);
  return d;
}
