/**
 * Pass 1, backward pruning (`prune`, default on; `prune: false` = full backward).
 *
 * Decides which gradients the program computes; the plain builder (plain.ts) then emits
 * exactly those. No gradient is computed for a tensor unless something at or above its
 * producer trains; frozen layers pass input gradients but compute no weight gradients; a
 * layer that trains only its bias computes no weight gradient (so saves no input); a
 * layer whose weights train on the first k input channels computes the gradient of only
 * those k channels (so saves only those k channels of its input).
 *
 * Why a decision and not a rewrite: removing one gradient removes steps transitively
 * (everything upstream that only fed it), changes which input gradients accumulate, and
 * changes what forward saves. Stated as a plan, the rule is the few lines below and the
 * builder stays one reading of "emit what the plan asks for".
 *
 * Why legal: a gradient that reaches no trained parameter changes no parameter, so
 * dropping it changes no update; the updates themselves are the same masked updates the
 * full backward applies (test/pruning.test.ts trains both to the same bytes).
 */
import { INPUT, hasParams, type Node } from '../../ir/graph.js';
import { splitChannels, trainedChannels, trainsAnything, type Scheme } from '../../scheme/scheme.js';
import { inputGradActivations, type GraphFacts } from '../context.js';

export interface GradientPlan {
  /** Whether the program computes a gradient for tensor t (canonical name). */
  needGrad: (t: string) => boolean;
  /** Input channels the weight gradient of n is computed for (0 = none). */
  gradChannels: (n: Node) => number;
  /** Whether the bias gradient of n is computed. */
  biasGrad: (n: Node) => boolean;
  /** The inputs (canonical) whose gradients n's input gradient computes: none if its output has no gradient. */
  inputGradTargets: (n: Node) => string[];
  /**
   * Tensors whose int8 activations backward reads whole, so they are kept until then anyway:
   * the input of a weight gradient of every channel, and what an op's input gradient reads
   * by its rule (OpDef.program.inputGradReads) where that step runs.
   */
  readInBackward: ReadonlySet<string>;
}

export function gradientPlan(f: GraphFacts, scheme: Scheme, prune: boolean): GradientPlan {
  const train = (n: Node) => scheme.layers.get(n.name);
  const need = new Map<string, boolean>([[INPUT, false]]);
  for (const n of f.g.nodes) {
    const self = hasParams(n) && (!prune || trainsAnything(train(n)));
    need.set(n.output, self || n.inputs.some((t) => need.get(t)));
  }
  const needGrad = (t: string): boolean => need.get(t) ?? false;
  const gradChannels = (n: Node): number => {
    if (!hasParams(n) || !needGrad(n.output)) return 0;
    return prune ? trainedChannels(train(n), n) : splitChannels(n);
  };
  const inputGradTargets = (n: Node): string[] => (needGrad(n.output) ? n.inputs.map(f.canon).filter(needGrad) : []);
  const readInBackward = new Set<string>();
  for (const n of f.g.nodes) {
    const k = gradChannels(n);
    if (k > 0 && k === splitChannels(n)) readInBackward.add(f.canon(n.inputs[0]!));
    if (inputGradTargets(n).length > 0) for (const t of inputGradActivations(f, n)) readInBackward.add(t);
  }
  const biasGrad = (n: Node): boolean => hasParams(n) && (prune ? !!train(n)?.bias : true);
  return { needGrad, gradChannels, biasGrad, inputGradTargets, readInBackward };
}
