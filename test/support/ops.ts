/**
 * What the per-op tests (test/ops/<op>.test.ts) share: a model around the layer under test,
 * the program steps one node gets, the backward rule of the ops with weights, random data.
 * The float reference's side (TF.js) is in ops-float.ts.
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { buildProgram, type Program } from '../../compiler/autodiff/program.js';
import { TinytrainError } from '../../compiler/errors.js';
import { buildGraph, type Graph, type Node } from '../../compiler/ir/graph.js';
import type { Layer, ModelSpec } from '../../compiler/ir/model.js';
import type { LayerParams } from '../../compiler/ir/params.js';
import { Rng } from '../../compiler/ir/rng.js';
import { splitChannels, type LayerTraining, type Scheme } from '../../compiler/scheme/scheme.js';
import type { LoadedArtifact } from '../../host/artifact.js';
import type { Dataset } from '../../host/data/dataset.js';
import { Runtime } from '../../host/runtime.js';
import { trainRuntime } from '../../host/train.js';

/** `layers` on an input of `input`, then (unless they end in logits) flatten and a 2-unit dense layer, as buildGraph requires. */
export function modelAround(input: [number, number, number], layers: Layer[]): ModelSpec {
  const last = layers[layers.length - 1]!;
  const ends = last.op === 'dense' && !('activation' in last && last.activation && last.activation !== 'none');
  const tail: Layer[] = ends
    ? []
    : [
        { op: 'flatten', name: 'tail_flat' },
        { op: 'dense', name: 'tail_fc', units: 2 },
      ];
  return { format: 'tinytrain-model@1', name: 'op-test', input, inputRange: [0, 1], seed: 1, layers: [...layers, ...tail] };
}

/** The graph of modelAround, and its node `name`. */
export function nodeAround(input: [number, number, number], layers: Layer[], name: string): { graph: Graph; node: Node } {
  const graph = buildGraph(modelAround(input, layers));
  return { graph, node: graph.nodes.find((n) => n.name === name)! };
}

/** The TinytrainError buildGraph gives for the model around `layers` (fails the test if it builds). */
export function shapeError(input: [number, number, number], layers: Layer[]): string {
  try {
    buildGraph(modelAround(input, layers));
  } catch (e) {
    expect(e).toBeInstanceOf(TinytrainError);
    return (e as TinytrainError).message;
  }
  throw new Error('expected the model to be refused');
}

/** A scheme from {layer: training}; every other layer is frozen. */
export function schemeOf(layers: Record<string, Partial<LayerTraining>>): Scheme {
  return { name: 'test', layers: new Map(Object.entries(layers).map(([k, t]) => [k, { bias: t.bias ?? false, weightRatio: t.weightRatio ?? 0 }])) };
}

/**
 * The program with every optimisation pass off but backward pruning (the gradient plan):
 * exactly what the ops' program rules emit (compiler/autodiff/plain.ts).
 */
export function plainProgram(graph: Graph, scheme: Scheme): Program {
  return buildProgram(graph, scheme, { reorder: false, bitMasks: false, stream: false, inPlace: false });
}

/** The kinds of the steps of node `name` in forward (before the loss), in backward (after it, updates excluded) and the updates. */
export function stepsOf(p: Program, name: string): { forward: string[]; backward: string[]; updates: string[] } {
  const own = (from: number, to: number) => p.steps.slice(from, to).filter((s) => 'node' in s && s.node.name === name);
  const after = own(p.lossStep + 1, p.steps.length);
  const isUpdate = (k: string) => k === 'applyWeight' || k === 'applyBias';
  return {
    forward: own(0, p.lossStep).map((s) => s.kind),
    backward: after.map((s) => s.kind).filter((k) => !isUpdate(k)),
    updates: after.map((s) => s.kind).filter(isUpdate),
  };
}

/** Random values in [lo, hi), deterministic per seed. */
export function randomArray(rng: Rng, length: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length }, () => lo + (hi - lo) * rng.uniform());
}

/** Random weights (in the op's layout, [Cout, KH, KW, Cin/groups]) and bias for node n. */
export function randomParams(rng: Rng, weights: number, bias: number): LayerParams {
  return { weight: randomArray(rng, weights), bias: randomArray(rng, bias) };
}

/**
 * The backward rule every op with weights has (conv2d, depthwise, dense), checked on a
 * model `pre` -> `x` -> tail: which steps x gets when it trains fully, is frozen below a
 * trained layer, trains only its bias, trains half its weight channels, or nothing at or
 * below it trains. `x` must have a fused relu; `pre` must be a layer with weights.
 */
export function expectWeightedProgramRule(input: [number, number, number], pre: Layer, x: Layer & { name: string }): void {
  const graph = buildGraph(modelAround(input, [pre, x]));
  const all = { bias: true, weightRatio: 1 };
  const full = stepsOf(plainProgram(graph, schemeOf({ [pre.name!]: all, x: all, tail_fc: all })), 'x');
  expect(full).toEqual({ forward: ['forward'], backward: ['mask', 'inputGrad', 'weightGrad', 'biasGrad'], updates: ['applyWeight', 'applyBias'] });
  // Frozen, with a trained layer below: its input gradient still flows through it.
  const frozen = stepsOf(plainProgram(graph, schemeOf({ [pre.name!]: { bias: true }, tail_fc: all })), 'x');
  expect(frozen).toEqual({ forward: ['forward'], backward: ['mask', 'inputGrad'], updates: [] });
  // Only its bias, nothing trained below: no weight gradient, no input gradient.
  const bias = stepsOf(plainProgram(graph, schemeOf({ x: { bias: true } })), 'x');
  expect(bias).toEqual({ forward: ['forward'], backward: ['mask', 'biasGrad'], updates: ['applyBias'] });
  // Half its weight channels: forward saves those channels of its input for the weight gradient.
  const p = plainProgram(graph, schemeOf({ x: { weightRatio: 0.5 } }));
  expect(stepsOf(p, 'x')).toEqual({ forward: ['forward', 'saveSlice'], backward: ['mask', 'weightGrad'], updates: ['applyWeight'] });
  const node = graph.nodes.find((n) => n.name === 'x')!;
  const slice = p.steps.find((s) => s.kind === 'saveSlice');
  const half = Math.max(1, Math.round(splitChannels(node) * 0.5));
  expect(slice).toMatchObject({ kind: 'saveSlice', channels: half });
  expect(p.steps.find((s) => s.kind === 'weightGrad')).toMatchObject({ channels: half, x: `save:x` });
  // Nothing at or below it trains: backward never reaches it.
  expect(stepsOf(plainProgram(graph, schemeOf({ tail_fc: all })), 'x')).toEqual({ forward: ['forward'], backward: [], updates: [] });
  // No fused activation: no clamp, so no mask step.
  const linear = buildGraph(modelAround(input, [pre, { ...x, activation: 'none' } as Layer]));
  expect(stepsOf(plainProgram(linear, schemeOf({ x: all })), 'x').backward).toEqual(['weightGrad', 'biasGrad']);
}

/**
 * An op's recorded training result: the sha256 of the checkpoint payload (the trained
 * region's bytes, without the file header, whose layout id moves whenever the frozen
 * region does, e.g. when kernel records grow) after 100 steps on `data` (lr 0.01, seeds 1
 * and 2), after checking that the SIMD and scalar modules give the same bytes.
 */
export async function stableCheckpoint(loaded: LoadedArtifact, data: Dataset): Promise<string> {
  const checkpoint = async (variant: 'simd' | 'scalar'): Promise<string> => {
    const rt = await Runtime.load(loaded, variant);
    rt.reset(1);
    trainRuntime(rt, data, { steps: 100, lr: 0.01, seed: 2 });
    const c = rt.manifest.checkpoint;
    const payload = rt.bytes().slice(c.offset, c.offset + c.bytes);
    return createHash('sha256').update(payload).digest('hex');
  };
  const simd = await checkpoint('simd');
  expect(await checkpoint('scalar')).toBe(simd);
  return simd;
}

/**
 * The per-op end-to-end check's training: a runtime of a model pretrained on digits 0-4
 * trains 500 steps on digits 5-9 (`high`); the mean losses of steps 1-100 and 401-500,
 * and the steps the divergence guard skipped.
 */
export async function lossOnNewDigits(loaded: LoadedArtifact, high: Dataset): Promise<{ first: number; last: number; skipped: number }> {
  const rt = await Runtime.load(loaded);
  rt.reset(1);
  const first = trainRuntime(rt, high, { steps: 100, lr: 0.01, seed: 1 });
  trainRuntime(rt, high, { steps: 300, lr: 0.01, seed: 2 });
  const last = trainRuntime(rt, high, { steps: 100, lr: 0.01, seed: 3 });
  return { first: first.loss, last: last.loss, skipped: first.skipped + last.skipped };
}
