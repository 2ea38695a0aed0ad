/**
 * The plain training program, before any optimisation pass except the gradient plan:
 * one forward step per layer (plus the input slices its weight gradient needs), the
 * loss, then the backward pass in reverse layer order — clamp backward from the int8
 * output, input gradients, weight and bias gradients into float32 buffers — and all
 * updates at the end, in the order their gradients were computed. This is what a
 * conventional framework runs; the passes in passes/ rewrite it.
 */
import { hasParams, isDepthwise, weightShape, type Node } from '../ir/graph.js';
import { opOf } from '../ops/registry.js';
import { splitChannels, trainedChannels } from '../sparse/scheme.js';
import { actKey, gradKey, hasClamp, sized, sparseScratch, type BuildContext, type Draft } from './context.js';
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

function emitForward(c: BuildContext, d: Draft): void {
  for (const n of c.g.nodes) {
    if (opOf(n).view) continue;
    const reads = n.inputs.map((t) => actKey(c, d, t));
    d.steps.push({ kind: 'forward', node: n, reads, writes: [actKey(c, d, n.output), ...sparseScratch(c, d, `fwd:${n.name}`, [n.name])] });
    const k = c.plan.gradChannels(n);
    if (k > 0 && k < splitChannels(n)) {
      const key = sized(d, `save:${n.name}`, slicePositions(n) * k);
      d.steps.push({ kind: 'saveSlice', node: n, channels: k, reads: [actKey(c, d, n.inputs[0]!)], writes: [key] });
    }
  }
}

/** Clamp backward and input gradients of n; `started`: tensors whose gradient some step has begun. */
function emitInputGrads(c: BuildContext, d: Draft, n: Node, started: Set<string>): void {
  const out = gradKey(c, d, n.output);
  if (hasClamp(n)) d.steps.push({ kind: 'mask', node: n, fromBits: false, reads: [actKey(c, d, n.output), out], writes: [out] });
  const targets = n.inputs.map(c.canon).filter(c.plan.needGrad);
  if (targets.length === 0) return;
  // Sequential, so add(x, x) accumulates its second contribution onto the first.
  const accumulate = targets.map((t) => {
    const was = started.has(t);
    started.add(t);
    return was;
  });
  const reads = [out, ...targets.filter((_, k) => accumulate[k]).map((t) => gradKey(c, d, t))];
  const writes = [...targets.map((t) => gradKey(c, d, t)), ...sparseScratch(c, d, `bwd:${n.name}`, [n.name])];
  d.steps.push({ kind: 'inputGrad', node: n, accumulate, targets, reads, writes });
}

/** Weight and bias gradients of n into buffers; their updates go to `updates`. */
function emitParamGrads(c: BuildContext, d: Draft, n: Node, updates: Step[]): void {
  if (!hasParams(n)) return;
  const out = gradKey(c, d, n.output);
  const computed = c.plan.gradChannels(n);
  if (computed > 0) {
    const x = weightInput(c, d, n);
    const wg = sized(d, `wgrad:${n.name}`, 4 * computed * weightsPerChannel(n));
    d.steps.push({ kind: 'weightGrad', node: n, channels: computed, x: x.key, xChannels: x.channels, reads: [out, x.key], writes: [wg] });
    const trained = trainedChannels(c.scheme.layers.get(n.name), n);
    if (trained > 0) updates.push({ kind: 'applyWeight', node: n, channels: trained, gradChannels: computed, reads: [wg], writes: [] });
  }
  if (c.plan.biasGrad(n)) {
    const bg = sized(d, `bgrad:${n.name}`, 4 * n.outShape[2]);
    d.steps.push({ kind: 'biasGrad', node: n, reads: [out], writes: [bg] });
    if (c.scheme.layers.get(n.name)?.bias) updates.push({ kind: 'applyBias', node: n, reads: [bg], writes: [] });
  }
}

export function plainProgram(c: BuildContext): Draft {
  const d: Draft = { steps: [], sizes: new Map(), actShares: new Map(), gradShares: new Map() };
  emitForward(c, d);
  const logits = c.canon(c.g.output);
  d.steps.push({ kind: 'loss', reads: [actKey(c, d, logits)], writes: [gradKey(c, d, logits)] });
  const started = new Set<string>([logits]);
  const updates: Step[] = [];
  for (const n of [...c.g.nodes].reverse()) {
    if (!c.plan.needGrad(n.output) || opOf(n).view) continue;
    if (!started.has(c.canon(n.output))) continue; // not on a path from the loss
    emitInputGrads(c, d, n, started);
    emitParamGrads(c, d, n, updates);
  }
  d.steps.push(...updates);
  return d;
}
