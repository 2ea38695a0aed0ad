/**
 * The training program: the straight-line list of steps the runtime executes for one
 * training sample, derived at compile time. Forward steps, the loss, then the backward
 * pass in reverse order.
 *
 * Pruning (default): no gradient is computed for a tensor unless something at or above
 * its producer trains; frozen layers pass input gradients but compute no weight
 * gradients; a layer that trains only its bias saves no input; a layer whose weights
 * train on the first k input channels saves only those k channels of its input; a ReLU
 * whose output is not otherwise needed in backward keeps a 1-bit mask instead of its int8
 * output.
 *
 * Reordering (default): each parameter's update runs right after its gradient exists,
 * fused into one kernel, so no weight-gradient buffer exists. Without it, gradients go
 * to buffers and all updates run at the end (what a conventional framework does); the
 * updates then run in the same order, so both programs train bit-identically.
 *
 * Every step names the buffers it touches; the planner derives lifetimes from that, and
 * `sizes` gives every buffer's bytes.
 */
import { INPUT, hasParams, weightShape, type Graph, type Node } from '../ir/graph.js';
import { splitChannels, trainedChannels, trainsAnything, type Scheme } from '../sparse/scheme.js';

/**
 * act: int8 activation of a tensor; grad: its float32 gradient; save: the first k
 * channels of a layer's input kept for its weight gradient; mask: 1 bit per element of a
 * clamp's output; wgrad/bgrad: float32 weight/bias gradient buffers (no reordering);
 * ring: the few rows of a streamed intermediate tensor (see forwardStream); scratch: the
 * rows an in-place depthwise backward keeps.
 */
export type BufferKind = 'act' | 'grad' | 'save' | 'mask' | 'wgrad' | 'bgrad' | 'ring' | 'scratch';
export type BufferKey = `${BufferKind}:${string}`;

interface StepBase { reads: BufferKey[]; writes: BufferKey[] }
export type Step = StepBase & (
  | { kind: 'forward'; node: Node }
  /**
   * A chain of frozen convs computed row by row: every tensor between them lives only in
   * a ring of as many rows as its consumer's kernel height. rings[i] = rows of the output
   * of nodes[i] (i < nodes.length - 1).
   */
  | { kind: 'forwardStream'; nodes: Node[]; rings: number[] }
  /** Copy the first `channels` channels of the node's input into save:<node>. */
  | { kind: 'saveSlice'; node: Node; channels: number }
  /** Record where the node's clamp passed gradient, 1 bit per element, into mask:<node>. */
  | { kind: 'saveMask'; node: Node }
  | { kind: 'loss' }
  /** Backward of the node's clamp, in place on its output gradient, from bits or the int8 output. */
  | { kind: 'mask'; node: Node; fromBits: boolean }
  /**
   * Global average pool backward fused with the backward of the frozen 1x1 conv `head`
   * that feeds it: the broadcast gradient (pool gradient / positions, masked by the
   * head's clamp bits) is formed one position at a time, so the head's output gradient
   * is never held whole. Writes the head's input gradient (if needed) and, if the head's
   * bias is computed, its gradient into bgrad:<head> (applied by a later step).
   */
  | { kind: 'gapHeadBackward'; node: Node; head: Node; accumulate: boolean; target: string | null; bias: boolean }
  /**
   * Input gradient(s); `accumulate[i]` adds into a gradient another consumer started.
   * `inPlace`: a depthwise conv whose input gradient overwrites its output gradient.
   */
  | { kind: 'inputGrad'; node: Node; accumulate: boolean[]; targets: string[]; inPlace?: boolean }
  /** Fused weight gradient + update of the first `channels` (input) channels. */
  | { kind: 'weightUpdate'; node: Node; channels: number; x: BufferKey; xChannels: number }
  | { kind: 'biasUpdate'; node: Node }
  /** Weight gradient of the first `channels` channels into wgrad:<node>. */
  | { kind: 'weightGrad'; node: Node; channels: number; x: BufferKey; xChannels: number }
  | { kind: 'biasGrad'; node: Node }
  /** Apply wgrad:<node> (computed for `gradChannels`) to the first `channels` channels. */
  | { kind: 'applyWeight'; node: Node; channels: number; gradChannels: number }
  | { kind: 'applyBias'; node: Node }
);

export interface ProgramOptions {
  /** Prune the backward graph to the scheme (default true). false = full backward, updates masked. */
  prune?: boolean;
  /** Fuse each update into the backward pass right after its gradient (default true). */
  reorder?: boolean;
  /** 1-bit masks for clamp backward where the int8 output is not needed anyway (default true). */
  bitMasks?: boolean;
  /** Stream chains of frozen convs row by row through small ring buffers (default true). */
  stream?: boolean;
  /** In-place element-wise forward ops, in-place depthwise input gradients and the fused pool/head backward, where legal (default true). */
  inPlace?: boolean;
  /**
   * Layers that run on the sparse 1x1 kernels (compiler/sparse/prune.ts) -> bytes of
   * scratch their SIMD kernels need; their forward and input-gradient steps write a
   * `scratch:` buffer of that size (default none).
   */
  sparse?: ReadonlyMap<string, number>;
}

export interface Program {
  steps: Step[];
  /** Index of the loss step: steps before it are the forward pass. */
  lossStep: number;
  /** Tensor name -> the tensor whose buffer it shares (flatten is a pure view). */
  alias: Map<string, string>;
  /** Bytes of every buffer the steps name. */
  sizes: Map<BufferKey, number>;
  /** Tensor -> tensor whose int8 buffer its activation overwrites (in-place element-wise ops). */
  actShares: Map<string, string>;
  /** Tensor -> tensor whose gradient buffer its gradient overwrites (in-place depthwise backward). */
  gradShares: Map<string, string>;
  options: Required<ProgramOptions>;
}

export const act = (t: string): BufferKey => `act:${t}`;
export const grad = (t: string): BufferKey => `grad:${t}`;

function elems(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Positions of a layer's input that each hold `splitChannels` values (dense: one). */
export function slicePositions(n: Node): number {
  return n.op === 'dense' ? 1 : n.inShapes[0]![0] * n.inShapes[0]![1];
}

/** Weights per split channel: the size of one channel's slice of the weight tensor. */
function weightsPerChannel(n: Node): number {
  const [cout, kh, kw, cin] = weightShape(n);
  return n.conv?.depthwise ? kh * kw * cin : cout * kh * kw;
}

export function buildProgram(g: Graph, scheme: Scheme, opts: ProgramOptions = {}): Program {
  const options: Required<ProgramOptions> = {
    prune: opts.prune ?? true, reorder: opts.reorder ?? true, bitMasks: opts.bitMasks ?? true, stream: opts.stream ?? true, inPlace: opts.inPlace ?? true,
    sparse: opts.sparse ?? new Map(),
  };
  /** The sparse kernels' scratch for a step of `names` (none if no such layer is sparse). */
  const sparseScratch = (key: string, names: string[]): BufferKey[] => {
    const bytes = Math.max(0, ...names.map((x) => options.sparse.get(x) ?? 0));
    return bytes > 0 ? [sized(`scratch:${key}`, bytes)] : [];
  };
  const alias = new Map<string, string>();
  const canon = (t: string): string => alias.get(t) ?? t;
  for (const n of g.nodes) if (n.op === 'flatten') alias.set(n.output, canon(n.inputs[0]!));
  const sizes = new Map<BufferKey, number>();
  const shapeOf = new Map<string, number>([[INPUT, elems(g.inputShape)]]);
  for (const n of g.nodes) shapeOf.set(n.output, elems(n.outShape));
  const sized = (k: BufferKey, bytes: number): BufferKey => { sizes.set(k, bytes); return k; };
  const actShares = new Map<string, string>();
  const gradShares = new Map<string, string>();
  const follow = (m: Map<string, string>, t: string): string => { let c = canon(t); while (m.has(c)) c = m.get(c)!; return c; };
  const A = (t: string): BufferKey => sized(act(follow(actShares, t)), shapeOf.get(canon(t))!);
  const G = (t: string): BufferKey => sized(grad(follow(gradShares, t)), 4 * shapeOf.get(canon(t))!);

  // Which tensors need a gradient, and which layers compute weight/bias gradients.
  const train = (n: Node) => scheme.layers.get(n.name);
  const needGrad = new Map<string, boolean>([[INPUT, false]]);
  for (const n of g.nodes) {
    const self = hasParams(n) && (!options.prune || trainsAnything(train(n)));
    needGrad.set(n.output, self || n.inputs.some((t) => needGrad.get(t)));
  }
  const hasClamp = (n: Node): boolean => n.activation !== 'none' || n.op === 'relu' || n.op === 'relu6';
  /** Input channels the weight gradient of n is computed for (0 = none). */
  const gradChannels = (n: Node): number => {
    if (!hasParams(n) || !needGrad.get(n.output)) return 0;
    return options.prune ? trainedChannels(train(n), n) : splitChannels(n);
  };
  // A tensor read whole by some weight gradient is kept in backward anyway: masks of
  // its producer then read it instead of keeping bits.
  const keptWhole = new Set<string>();
  for (const n of g.nodes) {
    const k = gradChannels(n);
    if (k > 0 && k === splitChannels(n)) keptWhole.add(canon(n.inputs[0]!));
  }

  // Streaming: a conv's output can live in a ring when its only consumer is a conv that
  // reads nothing else, and nothing in backward needs the tensor.
  const users = new Map<string, Node[]>();
  for (const n of g.nodes) for (const t of n.inputs) users.set(canon(t), [...(users.get(canon(t)) ?? []), n]);
  const ringConsumer = (n: Node): Node | undefined => {
    if (!options.stream || n.op !== 'conv2d' || n.output === canon(g.output) || needGrad.get(n.output)) return undefined;
    const u = users.get(n.output) ?? [];
    const b = u[0];
    if (u.length !== 1 || !b || b.op !== 'conv2d' || b.inputs.length !== 1 || gradChannels(b) > 0) return undefined;
    return b;
  };
  const chainOf = new Map<string, Node[]>(); // last node of a chain -> the chain
  const inChain = new Set<string>();
  for (const n of g.nodes) {
    if (inChain.has(n.name) || !ringConsumer(n)) continue;
    const chain = [n];
    for (let b = ringConsumer(n); b; b = ringConsumer(chain[chain.length - 1]!)) chain.push(b);
    for (const c of chain) inChain.add(c.name);
    chainOf.set(chain[chain.length - 1]!.name, chain);
  }

  // In place, forward: an add/relu may write over an input nothing reads afterwards (it
  // is its last consumer, and backward needs neither that tensor nor an int8 mask of it).
  const producerOf = new Map<string, Node>(g.nodes.map((n) => [n.output, n]));
  const readInBackward = (t: string): boolean => {
    if (keptWhole.has(t)) return true;
    const p = producerOf.get(t);
    return !!p && hasClamp(p) && !!needGrad.get(t) && !options.bitMasks;
  };
  if (options.inPlace) {
    for (const n of g.nodes) {
      if (n.op !== 'add' && n.op !== 'relu' && n.op !== 'relu6') continue;
      const t = n.inputs.map(canon).find((x) => { const u = users.get(x) ?? []; return u[u.length - 1] === n && !readInBackward(x) && !inChain.has(producerOf.get(x)?.name ?? ''); });
      if (t !== undefined) actShares.set(n.output, t);
    }
  }
  // In place, backward: a stride-1 same-size depthwise conv that trains no weights and is
  // its input's only consumer writes its input gradient over its output gradient.
  const inPlaceDw = new Set<string>();
  if (options.inPlace) {
    for (const n of g.nodes) {
      const c = n.conv;
      const x = canon(n.inputs[0]!);
      if (!c?.depthwise || c.stride !== 1 || n.outShape.join() !== n.inShapes[0]!.join() || gradChannels(n) > 0) continue;
      if (!needGrad.get(x) || (users.get(x) ?? []).length !== 1) continue;
      gradShares.set(x, n.output);
      inPlaceDw.add(n.name);
    }
  }

  const steps: Step[] = [];
  const xFor = new Map<string, { key: BufferKey; channels: number }>();
  for (const n of g.nodes) {
    if (n.op === 'flatten') continue;
    const chain = chainOf.get(n.name);
    if (chain) {
      const rings = chain.slice(1).map((b) => b.conv!.kh);
      const ringKeys = chain.slice(0, -1).map((a, i) => sized(`ring:${a.output}`, rings[i]! * a.outShape[1] * a.outShape[2]));
      steps.push({ kind: 'forwardStream', nodes: chain, rings, reads: [A(chain[0]!.inputs[0]!)], writes: [...ringKeys, A(n.output), ...sparseScratch(`fwd:${n.name}`, chain.map((c) => c.name))] });
    } else if (!inChain.has(n.name)) {
      steps.push({ kind: 'forward', node: n, reads: n.inputs.map(A), writes: [A(n.output), ...sparseScratch(`fwd:${n.name}`, [n.name])] });
    } else continue;
    const k = gradChannels(n);
    const x = n.inputs[0]!;
    if (k > 0 && k < splitChannels(n)) {
      const key = sized(`save:${n.name}`, slicePositions(n) * k);
      steps.push({ kind: 'saveSlice', node: n, channels: k, reads: [A(x)], writes: [key] });
      xFor.set(n.name, { key, channels: k });
    } else if (k > 0) {
      xFor.set(n.name, { key: A(x), channels: splitChannels(n) });
    }
    if (hasClamp(n) && needGrad.get(n.output) && options.bitMasks && !keptWhole.has(canon(n.output))) {
      const key = sized(`mask:${n.name}`, Math.ceil(shapeOf.get(n.output)! / 8));
      steps.push({ kind: 'saveMask', node: n, reads: [A(n.output)], writes: [key] });
    }
  }
  const lossStep = steps.length;
  const logits = canon(g.output);
  steps.push({ kind: 'loss', reads: [A(logits)], writes: [G(logits)] });

  const deferred: Step[] = [];
  /**
   * The frozen 1x1 conv feeding a global average pool, when their backward can be fused:
   * the conv's output feeds only the pool, its weights compute no gradient, and its clamp
   * (if any) is kept as bits.
   */
  const fusableHead = (n: Node): Node | undefined => {
    if (!options.inPlace || n.op !== 'globalavgpool') return undefined;
    const h = producerOf.get(canon(n.inputs[0]!));
    const c = h?.conv;
    if (!h || !c || c.depthwise || c.kh !== 1 || c.kw !== 1 || c.stride !== 1 || c.pad !== 0) return undefined;
    if (gradChannels(h) > 0 || (users.get(h.output) ?? []).length !== 1) return undefined;
    if (hasClamp(h) && !sizes.has(`mask:${h.name}`)) return undefined;
    return h;
  };
  /** Bias gradient (+ update, fused or deferred) of a conv/dense node. */
  const emitBias = (n: Node): void => {
    if (!hasParams(n)) return;
    const t = train(n);
    const out = canon(n.output);
    if (!(options.prune ? !!t?.bias : true)) return;
    if (options.reorder && options.prune) {
      steps.push({ kind: 'biasUpdate', node: n, reads: [G(out)], writes: [] });
    } else {
      const bg = sized(`bgrad:${n.name}`, 4 * n.outShape[2]);
      steps.push({ kind: 'biasGrad', node: n, reads: [G(out)], writes: [bg] });
      if (t?.bias) (options.reorder ? steps : deferred).push({ kind: 'applyBias', node: n, reads: [bg], writes: [] });
    }
  };
  const gradStarted = new Set<string>([logits]);
  const fusedHeads = new Set<string>();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!needGrad.get(n.output) || n.op === 'flatten' || fusedHeads.has(n.name)) continue;
    const out = canon(n.output);
    if (!gradStarted.has(out)) continue; // not on a path from the loss
    const head = fusableHead(n);
    if (head) {
      fusedHeads.add(head.name);
      const x = canon(head.inputs[0]!);
      const target = needGrad.get(x) ? x : null;
      const accumulate = target !== null && gradStarted.has(target);
      if (target) gradStarted.add(target);
      const t = train(head);
      const bias = options.prune ? !!t?.bias : true;
      const bg = bias ? sized(`bgrad:${head.name}`, 4 * head.outShape[2]) : null;
      const scratch = sized(`scratch:${head.name}`, 4 * head.outShape[2]);
      const reads: BufferKey[] = [G(out), ...(sizes.has(`mask:${head.name}`) ? [`mask:${head.name}` as BufferKey] : []), ...(accumulate ? [G(target!)] : [])];
      steps.push({ kind: 'gapHeadBackward', node: n, head, accumulate, target, bias, reads, writes: [...(target ? [G(target)] : []), ...(bg ? [bg] : []), scratch] });
      if (bg && t?.bias) (options.reorder ? steps : deferred).push({ kind: 'applyBias', node: head, reads: [bg], writes: [] });
      continue;
    }
    if (hasClamp(n)) {
      const fromBits = sizes.has(`mask:${n.name}`);
      steps.push({ kind: 'mask', node: n, fromBits, reads: [fromBits ? `mask:${n.name}` : A(n.output), G(out)], writes: [G(out)] });
    }
    const targets = n.inputs.map(canon).filter((t) => needGrad.get(t) ?? false);
    const inPlace = inPlaceDw.has(n.name) && targets.length === 1;
    // The in-place input gradient destroys the output gradient: the bias takes it first.
    if (inPlace) emitBias(n);
    if (inPlace) {
      const [, W, C] = n.inShapes[0]!;
      const scratch = sized(`scratch:${n.name}`, 4 * (n.conv!.kh - n.conv!.pad) * W * C);
      gradStarted.add(targets[0]!);
      steps.push({ kind: 'inputGrad', node: n, accumulate: [false], targets, inPlace: true, reads: [G(out)], writes: [G(targets[0]!), scratch] });
    } else if (targets.length > 0) {
      // Sequential, so add(x, x) accumulates its second contribution onto the first.
      const accumulate = targets.map((t) => { const started = gradStarted.has(t); gradStarted.add(t); return started; });
      const reads: BufferKey[] = [G(out), ...targets.filter((_, k) => accumulate[k]).map(G)];
      steps.push({ kind: 'inputGrad', node: n, accumulate, targets, reads, writes: [...targets.map(G), ...sparseScratch(`bwd:${n.name}`, [n.name])] });
    }
    if (!hasParams(n)) continue;
    const t = train(n);
    const trained = trainedChannels(t, n);
    const computed = gradChannels(n);
    const x = xFor.get(n.name);
    if (computed > 0 && x) {
      if (options.reorder && options.prune) {
        steps.push({ kind: 'weightUpdate', node: n, channels: computed, x: x.key, xChannels: x.channels, reads: [G(out), x.key], writes: [] });
      } else {
        const wg = sized(`wgrad:${n.name}`, 4 * computed * weightsPerChannel(n));
        steps.push({ kind: 'weightGrad', node: n, channels: computed, x: x.key, xChannels: x.channels, reads: [G(out), x.key], writes: [wg] });
        if (trained > 0) {
          const apply: Step = { kind: 'applyWeight', node: n, channels: trained, gradChannels: computed, reads: [wg], writes: [] };
          (options.reorder ? steps : deferred).push(apply);
        }
      }
    }
    if (!inPlace) emitBias(n);
  }
  steps.push(...deferred);
  return { steps, lossStep, alias, sizes, options, actShares, gradShares };
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
