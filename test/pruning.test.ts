/**
 * Backward pruning and update reordering are exact: for random networks and random
 * sparse schemes, the pruned, reordered program (what tinytrain ships) trains to the same
 * bytes as (a) a full backward pass whose updates are masked to the scheme, and (b) a
 * program that keeps gradient buffers and applies all updates at the end, and (c) one that
 * neither streams frozen conv chains through ring buffers nor keeps 1-bit masks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { buildGraph, hasParams } from '../compiler/ir/graph.js';
import { Rng } from '../compiler/ir/rng.js';
import { buildProgram, type ProgramOptions } from '../compiler/autodiff/program.js';
import { getTarget } from '../targets/index.js';
import { decodeCheckpoint } from '../host/checkpoint.js';
import { Runtime } from '../host/runtime.js';
import { ArtifactCache, randomScheme, randomSpec } from './support/models.js';
import { caseSubset } from './tiers.js';

const cache = new ArtifactCache();
afterAll(() => cache.dispose());

const VARIANTS = caseSubset(
  'pruning.VARIANTS',
  [
    ['pruned+reordered', {}],
    ['full backward, masked updates', { prune: false }],
    ['pruned, updates at the end', { reorder: false }],
    ['full backward, updates at the end', { prune: false, reorder: false }],
    ['no streaming, int8 outputs for masks, nothing in place', { stream: false, bitMasks: false, inPlace: false }],
  ] as Array<[string, ProgramOptions]>,
  (v) => v[0],
);

/** Seeds drawn with the table activations (randomSpec's tableActivations): each has one whose input gradient runs. */
const TABLE_CASES = [1015, 1027, 1055];
/**
 * Seeds drawn with per-side padding (randomSpec's paddings), whose backward runs through
 * windows padded more after than before: 2158 a conv and two avgpools, 2184 a depthwise
 * conv, a maxpool and a conv.
 */
const PAD_CASES = [2158, 2184];
/** Seeds drawn with mul and concat (randomSpec's mulConcat): a mul's (1115) or a concat's (1106, 1146) input gradient runs. */
const MULCAT_CASES = [1106, 1115, 1146];
/**
 * Seeds drawn with prelu (randomSpec's prelu), whose input gradient runs: 3014 one slope per
 * channel, 3016 one per element, 3024 one slope for all and two per channel.
 */
const PRELU_CASES = [3014, 3016, 3024];
/**
 * Seeds drawn with per-axis pools (randomSpec's poolGeometry), whose backward runs through
 * one: 3045 a 3x1 maxpool at strides [3, 1], 3067 a 2x3 avgpool at strides [1, 3] padded 2 on
 * the left, 3213 a 2x1 maxpool at strides [2, 3] padded above and below.
 */
const POOL_CASES = [3045, 3067, 3213];
/** Seeds drawn with padded shortcuts (randomSpec's padChannels), whose padchannels input gradient runs: 3328, 3371, and 3397 with three of them. */
const PADCH_CASES = [3328, 3371, 3397];
/** Seeds whose random scheme trains something but not everything (checked below). */
const CASES = [3, 5, 8, 11, 14, 20, 92, 139, 23, 219, ...TABLE_CASES, ...PAD_CASES, ...MULCAT_CASES, ...PRELU_CASES, ...POOL_CASES, ...PADCH_CASES];
const specOf = (seed: number) =>
  randomSpec(seed, {
    tableActivations: TABLE_CASES.includes(seed),
    paddings: PAD_CASES.includes(seed),
    mulConcat: MULCAT_CASES.includes(seed),
    prelu: PRELU_CASES.includes(seed),
    poolGeometry: POOL_CASES.includes(seed),
    padChannels: PADCH_CASES.includes(seed),
  });
/** The seeds trained in this tier (all of CASES in the full tier: test/tiers.ts). */
const TRAINED = caseSubset('pruning.CASES', CASES);

async function trainBytes(seed: number, variant: ProgramOptions, name: string): Promise<{ ckpt: Uint8Array; steps: number; arena: number; before: Uint8Array }> {
  const spec = specOf(seed);
  const graph = buildGraph(spec);
  const scheme = randomScheme(graph, seed);
  const momentum = seed % 2 ? 0.9 : 0;
  const { loaded } = await cache.get(`${seed}-${name}`, spec, { target: getTarget('desktop'), scheme, momentum, program: variant });
  const rt = await Runtime.load(loaded, 'scalar');
  rt.reset(seed);
  // The checkpoint's payload: its file header carries the layout id, which tells apart
  // programs whose kernel records take different room before the trained region.
  const payload = (): Uint8Array => decodeCheckpoint(loaded.manifest, rt.exportCheckpoint(), 'checkpoint');
  const before = payload();
  const data = new Rng(seed + 99);
  const n = spec.input.reduce((a, b) => a * b, 1);
  for (let s = 0; s < 25; s++) {
    rt.setInputPixels(Uint8Array.from({ length: n }, () => data.nextU32() & 0xff));
    rt.trainStep(data.nextU32() % graph.classes, 0.05);
  }
  return { ckpt: payload(), steps: loaded.manifest.program.length, arena: loaded.manifest.arena.bytes, before };
}

describe('pruning and reordering are exact', () => {
  for (const seed of TRAINED) {
    it(`random model ${seed}: all ${VARIANTS.length === 5 ? 'five' : VARIANTS.length} programs train bit-identically`, async () => {
      const graph = buildGraph(specOf(seed));
      const scheme = randomScheme(graph, seed);
      const trains = [...scheme.layers.values()].filter((t) => t.bias || t.weightRatio > 0).length;
      expect(trains, 'the case must train something').toBeGreaterThan(0);
      const results = [];
      for (const [name, v] of VARIANTS) results.push({ name, ...(await trainBytes(seed, v, name)) });
      const [ref, ...others] = results;
      expect(Buffer.compare(ref!.ckpt, ref!.before), 'training changed the parameters').not.toBe(0);
      for (const o of others) expect(Buffer.compare(o.ckpt, ref!.ckpt), `${o.name} vs ${ref!.name}`).toBe(0);
      // The comparison is not vacuous: the full backward pass really does more work.
      expect(results[1]!.steps).toBeGreaterThanOrEqual(ref!.steps);
      expect(results[1]!.arena).toBeGreaterThanOrEqual(ref!.arena);
    });
  }

  it('the cases cover partial-channel layers, frozen layers below trained ones, streamed chains, in-place ops and the fused pool/head backward', () => {
    let partial = 0,
      frozenBelow = 0,
      streamed = 0,
      inPlaceForward = 0,
      inPlaceBackward = 0,
      fusedHead = 0;
    for (const seed of CASES) {
      const graph = buildGraph(specOf(seed));
      const scheme = randomScheme(graph, seed);
      const program = buildProgram(graph, scheme);
      if (program.steps.some((s) => s.kind === 'forwardStream')) streamed++;
      if (program.actShares.size > 0) inPlaceForward++;
      if (program.steps.some((s) => s.kind === 'inputGrad' && s.inPlace)) inPlaceBackward++;
      if (program.steps.some((s) => s.kind === 'gapHeadBackward')) fusedHead++;
      const params = graph.nodes.filter(hasParams);
      if ([...scheme.layers.values()].some((t) => t.weightRatio > 0 && t.weightRatio < 1)) partial++;
      const first = params.findIndex((n) => {
        const t = scheme.layers.get(n.name);
        return !!t && (t.bias || t.weightRatio > 0);
      });
      if (first > 0) frozenBelow++;
    }
    expect(partial).toBeGreaterThan(0);
    expect(frozenBelow).toBeGreaterThan(0);
    expect(streamed).toBeGreaterThan(0);
    expect(inPlaceForward).toBeGreaterThan(0);
    expect(inPlaceBackward).toBeGreaterThan(0);
    expect(fusedHead).toBeGreaterThan(0);
  });
});
