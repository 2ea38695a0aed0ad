/**
 * What every stage of program building shares: facts about the graph (views, consumers,
 * producers, sizes), the options, the gradient plan the pruning decided, and the draft
 * program the passes rewrite.
 *
 * Buffer keys in a draft name canonical tensors only (through flatten views, never
 * through in-place sharing): the in-place passes rename keys themselves, last, so every
 * earlier pass can build a tensor's key without knowing what will share it.
 */
import { INPUT, type Graph, type Node } from '../ir/graph.js';
import { clampOf, opOf } from '../ops/registry.js';
import type { Scheme } from '../scheme/scheme.js';
import { act, grad, type BufferKey, type ProgramOptions, type Step } from './steps.js';
import type { GradientPlan } from './passes/prune-backward.js';

export interface GraphFacts {
  g: Graph;
  /** Tensor -> the tensor whose buffer it is (flatten is a pure view). */
  alias: Map<string, string>;
  canon: (t: string) => string;
  /** Canonical tensor -> the nodes that read it, in graph order. */
  users: Map<string, Node[]>;
  producerOf: Map<string, Node>;
  /** Elements of a tensor. */
  elems: (t: string) => number;
}

export interface BuildContext extends GraphFacts {
  scheme: Scheme;
  options: Required<ProgramOptions>;
  plan: GradientPlan;
}

/** The program while passes rewrite it; lossStep and the final sizes are settled at the end. */
export interface Draft {
  steps: Step[];
  /** Bytes of buffers; may hold keys no step names any more (dropped by finishSizes). */
  sizes: Map<BufferKey, number>;
  actShares: Map<string, string>;
  gradShares: Map<string, string>;
}

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function graphFacts(g: Graph): GraphFacts {
  const alias = new Map<string, string>();
  const canon = (t: string): string => alias.get(t) ?? t;
  for (const n of g.nodes) if (opOf(n).view) alias.set(n.output, canon(n.inputs[0]!));
  const users = new Map<string, Node[]>();
  for (const n of g.nodes) for (const t of n.inputs) users.set(canon(t), [...(users.get(canon(t)) ?? []), n]);
  const shapeOf = new Map<string, number>([[INPUT, product(g.inputShape)]]);
  for (const n of g.nodes) shapeOf.set(n.output, product(n.outShape));
  const producerOf = new Map<string, Node>(g.nodes.map((n) => [n.output, n]));
  return { g, alias, canon, users, producerOf, elems: (t) => shapeOf.get(canon(t))! };
}

/**
 * The tensors (canonical, each once) whose int8 activations n's input gradient reads by its
 * op's rule (OpDef.program.inputGradReads): some of its inputs, its output. None for today's ops.
 */
export function inputGradActivations(f: GraphFacts, n: Node): string[] {
  const reads = opOf(n).program.inputGradReads;
  if (!reads) return [];
  const tensors = [...(reads.inputs ?? []).map((i) => n.inputs[i]!), ...(reads.output ? [n.output] : [])];
  return [...new Set(tensors.map(f.canon))];
}

/** The mask n's forward writes for its input gradient (save:<node>, OpDef.program.inputGradReads.mask), where that step runs. */
export function ownMask(c: BuildContext, d: Draft, n: Node): BufferKey[] {
  const mask = opOf(n).program.inputGradReads?.mask;
  if (!mask || c.plan.inputGradTargets(n).length === 0) return [];
  // An op with weights keeps its input slice under that key.
  if (opOf(n).weights) throw new Error(`internal: op ${n.op} has weights and a saved mask`);
  return [sized(d, `save:${n.name}`, mask(n))];
}

/** Nodes whose backward includes a clamp (fused activation or a standalone relu). */
export function hasClamp(n: Node): boolean {
  return clampOf(n) !== 'none';
}

export function sized(d: Draft, key: BufferKey, bytes: number): BufferKey {
  d.sizes.set(key, bytes);
  return key;
}

/** The int8 activation buffer of tensor t. */
export function actKey(c: BuildContext, d: Draft, t: string): BufferKey {
  return sized(d, act(c.canon(t)), c.elems(t));
}

/** The float32 gradient buffer of tensor t. */
export function gradKey(c: BuildContext, d: Draft, t: string): BufferKey {
  return sized(d, grad(c.canon(t)), 4 * c.elems(t));
}

/** The pruned kernels' scratch for a step of layers `names` (none if no such layer runs on them). */
export function prunedScratch(c: BuildContext, d: Draft, key: string, names: string[]): BufferKey[] {
  const bytes = Math.max(0, ...names.map((x) => c.options.prunedScratch.get(x) ?? 0));
  return bytes > 0 ? [sized(d, `scratch:${key}`, bytes)] : [];
}

/** Sizes of exactly the buffers the final steps name (passes rename and drop buffers). */
export function finishSizes(d: Draft): Map<BufferKey, number> {
  const named = new Set(d.steps.flatMap((s) => [...s.reads, ...s.writes]));
  return new Map([...d.sizes].filter(([k]) => named.has(k)));
}
