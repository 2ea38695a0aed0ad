/**
 * The training program: the straight-line list of steps the runtime executes for one
 * training sample, derived at compile time. Forward steps, the loss, then the backward
 * pass in reverse order, pruned to what the scheme trains. Each parameter's update is
 * placed right after its gradient exists (fused into the backward pass), so no weight
 * gradient buffer is ever kept.
 *
 * Every step names the buffers it touches; the memory planner derives lifetimes from
 * that alone.
 */
import { INPUT, hasParams, type Graph, type Node } from '../ir/graph.js';
import { trainedChannels, trainsAnything, type Scheme } from '../sparse/scheme.js';

export type BufferKind = 'act' | 'grad';
/** "act:conv1" (int8 activation) or "grad:conv1" (float32 gradient). */
export type BufferKey = `${BufferKind}:${string}`;

export type Step =
  | { kind: 'forward'; node: Node; reads: BufferKey[]; writes: BufferKey[] }
  | { kind: 'loss'; reads: BufferKey[]; writes: BufferKey[] }
  /** Backward of the node's fused activation, in place on its output gradient. */
  | { kind: 'mask'; node: Node; reads: BufferKey[]; writes: BufferKey[] }
  /** Input gradient(s); `accumulate[i]` adds into a gradient another consumer started. */
  | { kind: 'inputGrad'; node: Node; reads: BufferKey[]; writes: BufferKey[]; accumulate: boolean[]; targets: string[] }
  | { kind: 'weightUpdate'; node: Node; reads: BufferKey[]; writes: BufferKey[]; channels: number }
  | { kind: 'biasUpdate'; node: Node; reads: BufferKey[]; writes: BufferKey[] };

export interface Program {
  steps: Step[];
  /** Index of the first step that is not forward (the loss). */
  lossStep: number;
  /** Tensor name -> the tensor whose buffer it shares (flatten is a pure view). */
  alias: Map<string, string>;
  /** Tensors that receive a gradient. */
  gradTensors: Set<string>;
}

export const act = (t: string): BufferKey => `act:${t}`;
export const grad = (t: string): BufferKey => `grad:${t}`;

export function buildProgram(g: Graph, scheme: Scheme): Program {
  const alias = new Map<string, string>();
  const canon = (t: string): string => alias.get(t) ?? t;
  for (const n of g.nodes) if (n.op === 'flatten') alias.set(n.output, canon(n.inputs[0]!));

  const steps: Step[] = [];
  for (const n of g.nodes) {
    if (n.op === 'flatten') continue;
    steps.push({ kind: 'forward', node: n, reads: n.inputs.map((t) => act(canon(t))), writes: [act(n.output)] });
  }
  const lossStep = steps.length;
  const logits = canon(g.output);
  steps.push({ kind: 'loss', reads: [act(logits)], writes: [grad(logits)] });

  // A tensor needs a gradient when something at or upstream of its producer trains.
  const needGrad = new Map<string, boolean>([[INPUT, false]]);
  for (const n of g.nodes) {
    const self = hasParams(n) && trainsAnything(scheme.layers.get(n.name));
    needGrad.set(n.output, self || n.inputs.some((t) => needGrad.get(t)));
  }

  const gradStarted = new Set<string>([logits]);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!needGrad.get(n.output) || n.op === 'flatten') continue;
    const out = canon(n.output);
    if (!gradStarted.has(out)) continue; // not on a path from the loss
    const hasMask = n.activation !== 'none' || n.op === 'relu' || n.op === 'relu6';
    if (hasMask) steps.push({ kind: 'mask', node: n, reads: [act(out), grad(out)], writes: [grad(out)] });

    const targets = n.inputs.map(canon).filter((t) => needGrad.get(t) ?? false);
    if (targets.length > 0) {
      // Sequential, so add(x, x) accumulates its second contribution onto the first.
      const accumulate = targets.map((t) => { const started = gradStarted.has(t); gradStarted.add(t); return started; });
      const reads: BufferKey[] = [grad(out), ...targets.filter((_, k) => accumulate[k]).map(grad)];
      steps.push({ kind: 'inputGrad', node: n, reads, writes: targets.map(grad), accumulate, targets });
    }
    if (hasParams(n)) {
      const t = scheme.layers.get(n.name);
      const channels = trainedChannels(t, n.outShape[2]);
      if (channels > 0) {
        steps.push({ kind: 'weightUpdate', node: n, reads: [grad(out), act(canon(n.inputs[0]!))], writes: [], channels });
      }
      if (t?.bias) steps.push({ kind: 'biasUpdate', node: n, reads: [grad(out)], writes: [] });
    }
  }
  return { steps, lossStep, alias, gradTensors: gradStarted };
}

