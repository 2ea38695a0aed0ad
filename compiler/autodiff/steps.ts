/**
 * The vocabulary of the training program: buffer keys, the steps the runtime executes,
 * the options that switch each optimisation pass, and the Program itself. Re-exported by
 * program.ts, which builds programs; kept apart so the passes can name these types
 * without importing the builder that imports them.
 */
import { type Node } from '../ir/graph.js';
import { opOf } from '../ops/registry.js';
import type { LossKind } from '../loss.js';

/**
 * act: int8 activation of a tensor; grad: its float32 gradient; save: what a layer's
 * forward keeps for its backward, the first k channels of its input for its weight
 * gradient or (an op without weights) the mask its rule saves for its input gradient
 * (OpDef.program.inputGradReads); mask: 1 bit per element of a clamp's output; wgrad/bgrad: float32 weight/bias gradient buffers (no reordering);
 * ring: the few rows of a streamed intermediate tensor (see forwardStream); scratch: the
 * rows an in-place depthwise backward keeps.
 */
export type BufferKind = 'act' | 'grad' | 'save' | 'mask' | 'wgrad' | 'bgrad' | 'ring' | 'scratch';
export type BufferKey = `${BufferKind}:${string}`;

/** The kind of buffer a key names (the part before the first colon). */
export function kindOf(key: BufferKey): BufferKind {
  return key.slice(0, key.indexOf(':')) as BufferKind;
}

interface StepBase {
  reads: BufferKey[];
  writes: BufferKey[];
}
export type Step = StepBase &
  (
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
     * Reads the output gradient, then whatever of forward its op's rule names, then the
     * gradients it adds into. `inPlace`: a depthwise conv whose input gradient overwrites
     * its output gradient.
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
   * Layers that run on the pruned 1x1 kernels (compiler/pruning/prune.ts) -> bytes of
   * scratch their SIMD kernels need; their forward and input-gradient steps write a
   * `scratch:` buffer of that size (default none).
   */
  prunedScratch?: ReadonlyMap<string, number>;
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
  /** The loss the loss step computes (compiler/loss.ts). */
  loss: LossKind;
}

export const act = (t: string): BufferKey => `act:${t}`;
export const grad = (t: string): BufferKey => `grad:${t}`;

/** Positions of a layer's input that each hold `splitChannels` values (dense: one, its flattened input). */
export function slicePositions(n: Node): number {
  const [h, w] = opOf(n).weights?.input(n) ?? n.inShapes[0]!;
  return h * w;
}
