/**
 * The cases and the serialisation behind test/fixtures/program-golden.json: the proof that
 * restructuring compiler/autodiff (issue 12, "optimisations are passes") left every
 * training program step-for-step identical.
 *
 * A case is one (model, scheme); for each it builds the program under every combination
 * of the five ProgramOptions flags, with and without pruned-kernel layers, and hashes a
 * canonical JSON of the whole Program: every step (node objects by name, every field, reads
 * and writes in order), lossStep, alias, actShares, gradShares (in insertion order),
 * options, and sizes. `sizes` is serialised sorted by key: its insertion order is not part
 * of the contract (the planner only calls sizes.get; nothing iterates it), and a program
 * built by passes names its buffers in a different order.
 *
 * Re-record (only from code known to be right, e.g. before a refactor):
 *   npx vitest run test/program-passes.test.ts  with  TINYTRAIN_RECORD_PROGRAMS=1
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram, type Program, type ProgramOptions } from '../../compiler/autodiff/program.js';
import { loadModelFile } from '../../compiler/frontend/index.js';
import { buildGraph, type Graph, type Node } from '../../compiler/ir/graph.js';
import type { ModelSpec } from '../../compiler/ir/model.js';
import { fullScheme, type Scheme } from '../../compiler/scheme/scheme.js';
import { schemeFromJson } from '../../compiler/scheme/parse.js';
import { frozenPointwise } from '../../compiler/pruning/prune.js';
import { TEST_MODELS, partialSchemeFor, randomScheme, randomSpec, type TestModelKey } from './models.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PROGRAM_GOLDEN = join(ROOT, 'test', 'fixtures', 'program-golden.json');
export const RANDOM_CASES = 250;

export interface GoldenCase {
  name: string;
  graph: Graph;
  scheme: Scheme;
}

/**
 * A model no random spec builds: a trained tensor x feeds a frozen 1x1 head (pooled, so
 * its backward fuses with the pool's) and, later in graph order, a trained conv q. The
 * fused step runs before q's backward where the head's own would run after it, so which
 * contribution to x's gradient accumulates, and the order of updates at the end, move.
 */
export function fanoutHeadSpec(): ModelSpec {
  const conv = (name: string, from: string, kernel: number, activation: 'relu' | 'none') => ({
    op: 'conv2d' as const,
    name,
    inputs: [from],
    filters: 4,
    kernel,
    stride: 1,
    padding: (kernel - 1) / 2,
    activation,
  });
  return {
    format: 'tinytrain-model@1',
    name: 'fanout-head',
    input: [6, 6, 2],
    inputRange: [0, 1],
    seed: 1,
    layers: [
      conv('x', 'input', 3, 'relu'),
      conv('head', 'x', 1, 'relu'),
      conv('q', 'x', 3, 'none'),
      { op: 'globalavgpool', name: 'gp', inputs: ['head'] },
      { op: 'globalavgpool', name: 'gq', inputs: ['q'] },
      { op: 'add', name: 'sum', inputs: ['gp', 'gq'] },
      { op: 'flatten', name: 'flat' },
      { op: 'dense', name: 'fc', units: 3 },
    ],
  };
}

function fanoutHeadScheme(): Scheme {
  const layers = new Map([
    ['x', { bias: true, weightRatio: 1 }],
    ['head', { bias: true, weightRatio: 0 }],
    ['q', { bias: true, weightRatio: 0.5 }],
    ['fc', { bias: true, weightRatio: 0 }],
  ]);
  return { name: 'fanout', layers };
}

/** Every (model, scheme) the record covers, built lazily (MobileNetV2 is the slow one). */
export function* goldenCases(): Generator<GoldenCase> {
  for (const key of Object.keys(TEST_MODELS) as TestModelKey[]) {
    const graph = buildGraph(TEST_MODELS[key]());
    yield { name: `${key}|full`, graph, scheme: fullScheme(graph) };
    yield { name: `${key}|partial`, graph, scheme: partialSchemeFor(key) };
  }
  const fanout = buildGraph(fanoutHeadSpec());
  yield { name: 'fanout-head|fanout', graph: fanout, scheme: fanoutHeadScheme() };
  yield { name: 'fanout-head|full', graph: fanout, scheme: fullScheme(fanout) };
  for (let seed = 0; seed < RANDOM_CASES; seed++) {
    const graph = buildGraph(randomSpec(seed));
    yield { name: `random-${seed}`, graph, scheme: randomScheme(graph, seed) };
  }
  const examples: Array<[string, string]> = [
    ['examples/mbv2-w0.35-128.json', 'examples/schemes/mbv2-99kb.json'],
    ['examples/study-cnn.json', 'examples/schemes/study-cnn-anchor.json'],
    ['examples/torch/mnist-torch.onnx', ''],
  ];
  for (const [model, schemeFile] of examples) {
    const graph = buildGraph(loadModelFile(join(ROOT, model)));
    yield { name: `${model}|full`, graph, scheme: fullScheme(graph) };
    if (schemeFile) {
      const scheme = schemeFromJson(graph, JSON.parse(readFileSync(join(ROOT, schemeFile), 'utf8')), schemeFile);
      yield { name: `${model}|${schemeFile}`, graph, scheme };
    }
  }
}

const FLAGS = ['prune', 'reorder', 'bitMasks', 'stream', 'inPlace'] as const;

/**
 * The 64 option sets of a case, in a fixed order: bit i of the index (i < 5) switches
 * FLAGS[i] off; bit 5 gives every frozen pointwise layer pruned-kernel scratch bytes.
 */
export function optionSets(c: GoldenCase): Array<{ label: string; opts: ProgramOptions }> {
  const out: Array<{ label: string; opts: ProgramOptions }> = [];
  const prunedLayers = frozenPointwise(c.graph, c.scheme);
  for (let i = 0; i < 64; i++) {
    const opts: ProgramOptions = {};
    for (let f = 0; f < FLAGS.length; f++) if (i & (1 << f)) opts[FLAGS[f]!] = false;
    if (i & 32) opts.prunedScratch = new Map(prunedLayers.map((n, k) => [n.name, 16 * (k + 1)]));
    const off = FLAGS.filter((_, f) => i & (1 << f));
    out.push({ label: `${off.length ? `no ${off.join(',')}` : 'defaults'}${i & 32 ? ' +pruned' : ''}`, opts });
  }
  return out;
}

/** JSON with object keys sorted, Nodes as their names and Maps as entry lists. */
function canonical(v: unknown): unknown {
  if (v instanceof Map) return { map: [...v.entries()].map(([k, x]) => [k, canonical(x)]) };
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('op' in o && 'name' in o && 'outShape' in o) return { node: (v as Node).name };
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, canonical(o[k])]),
    );
  }
  return v;
}

/**
 * The options under the names the record was taken with: ProgramOptions.prunedScratch was
 * called `sparse` then (issue 12 renamed it). A name is not part of the program, so the
 * record stays.
 */
function recordedOptions(o: Program['options']): Record<string, unknown> {
  const { prunedScratch, ...rest } = o;
  return { ...rest, sparse: prunedScratch };
}

export function serialiseProgram(p: Program): string {
  const sizes = [...p.sizes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(
    canonical({
      steps: p.steps,
      lossStep: p.lossStep,
      alias: p.alias,
      actShares: p.actShares,
      gradShares: p.gradShares,
      options: recordedOptions(p.options),
      sizes,
    }),
  );
}

/** First 16 hex digits of the sha256 of the program's canonical form (64 bits: no accidental match). */
export function programHash(g: Graph, scheme: Scheme, opts: ProgramOptions): string {
  return createHash('sha256')
    .update(serialiseProgram(buildProgram(g, scheme, opts)))
    .digest('hex')
    .slice(0, 16);
}

export function caseHashes(c: GoldenCase): string[] {
  return optionSets(c).map(({ opts }) => programHash(c.graph, c.scheme, opts));
}
