/**
 * The emitter's restructuring (issue 12) must not change one byte of what it generates:
 * the sha256 of the emitted AssemblyScript source of many plans, recorded from the
 * emitter before it was split (test/fixtures/emit-identity.json), must come out again.
 * The same source gives the same WASM (asc is deterministic), so the modules and the
 * checkpoints they write are unchanged too; test/golden.test.ts checks those end to end.
 *
 * Cases: the three test models with their full and partial schemes, each with momentum
 * 0 / 0.9, rounding stochastic / nearest, QAS on / off, every program pass switched off
 * one at a time, and compile-time pruning (unstructured and pairs); 100 random models with
 * random schemes; MobileNetV2 with the 99kb scheme, with and without pruning.
 *
 * Re-recorded once on purpose: when requantisation became TFLite's, the add's call gained its
 * three multipliers and the average pool's its `mean` field.
 *
 * To re-record after a deliberate change of the generated source:
 *   TINYTRAIN_RECORD_EMIT=1 npx vitest run test/emit-identity.test.ts
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emitRuntime } from '../compiler/codegen/emit.js';
import { KERNEL_IMPORTS } from '../compiler/codegen/runtime-template.js';
import { layoutIdOf, planModel, quantizeSpec } from '../compiler/index.js';
import type { ProgramOptions } from '../compiler/autodiff/program.js';
import { loadModelFile } from '../compiler/frontend/index.js';
import { buildGraph, type Graph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { Rng } from '../compiler/ir/rng.js';
import { schemeFromJson } from '../compiler/scheme/parse.js';
import type { PruneOptions } from '../compiler/pruning/prune.js';
import { fullScheme, type Scheme } from '../compiler/scheme/scheme.js';
import { TEST_MODELS, partialSchemeFor, randomScheme, randomSpec, type TestModelKey } from './support/models.js';

const ROOT = join(__dirname, '..');
const FIXTURE = join(__dirname, 'fixtures', 'emit-identity.json');
const RECORD = process.env.TINYTRAIN_RECORD_EMIT === '1';
const RANDOM_CASES = 100;

interface Case {
  spec: ModelSpec;
  scheme: (g: Graph) => Scheme;
  momentum?: number;
  rounding?: 'stochastic' | 'nearest';
  qas?: boolean;
  prune?: PruneOptions;
  program?: ProgramOptions;
  prunedKernels?: boolean;
  simdScratch?: boolean;
}

/** Deterministic calibration for models without stored ranges. */
function calibration(spec: ModelSpec, seed: number): Float32Array[] | undefined {
  if (spec.calibration) return undefined;
  const [h, w, c] = buildGraph(spec).inputShape;
  const rng = new Rng(seed);
  return Array.from({ length: 2 }, () => Float32Array.from({ length: h * w * c }, () => rng.uniform()));
}

function sourceOf(c: Case): string {
  const graph = buildGraph(c.spec);
  const scheme = c.scheme(graph);
  const { quant, pruned } = quantizeSpec(c.spec, calibration(c.spec, 7), c.prune ? { options: c.prune, scheme } : undefined);
  // placementSearch off: the record's plans were placed by the first planner (two orders),
  // which is what the off switch keeps; this test is about the emitter, not the placement.
  const plan = planModel(quant, {
    scheme,
    momentum: c.momentum,
    prune: c.prune,
    program: c.program,
    pruned,
    prunedKernels: c.prunedKernels,
    simdScratch: c.simdScratch,
    placementSearch: false,
  });
  const emitOpts = { arenaBase: plan.layout.trainEnd, momentum: c.momentum ?? 0, qas: c.qas ?? true, rounding: c.rounding ?? 'stochastic', layoutId: layoutIdOf(plan) } as const;
  return emitRuntime(quant, plan.program, plan.arena, plan.layout, emitOpts);
}

const PRUNES: Record<string, PruneOptions> = {
  unstructured: { ratio: 0.8, mode: 'layer', structure: 'unstructured' },
  pairs: { ratio: 0.8, mode: 'layer', structure: 'pairs' },
};
const PASSES_OFF: Record<string, ProgramOptions> = {
  noPrune: { prune: false },
  noReorder: { reorder: false },
  noBitMasks: { bitMasks: false },
  noStream: { stream: false },
  noInPlace: { inPlace: false },
};

function cases(): Map<string, Case> {
  const out = new Map<string, Case>();
  for (const key of Object.keys(TEST_MODELS) as TestModelKey[]) {
    const spec = TEST_MODELS[key]();
    const schemes: Record<string, (g: Graph) => Scheme> = { full: fullScheme, partial: () => partialSchemeFor(key) };
    for (const [sname, scheme] of Object.entries(schemes)) {
      for (const momentum of [0, 0.9])
        for (const rounding of ['stochastic', 'nearest'] as const) out.set(`${key}/${sname}/m${momentum}/${rounding}`, { spec, scheme, momentum, rounding });
      out.set(`${key}/${sname}/noQas`, { spec, scheme, qas: false });
      for (const [pname, program] of Object.entries(PASSES_OFF)) out.set(`${key}/${sname}/${pname}`, { spec, scheme, program, momentum: 0.9 });
      for (const [pname, prune] of Object.entries(PRUNES)) {
        out.set(`${key}/${sname}/prune-${pname}`, { spec, scheme, prune });
        out.set(`${key}/${sname}/prune-${pname}/noSimdScratch/m0.9`, { spec, scheme, prune, simdScratch: false, momentum: 0.9 });
        out.set(`${key}/${sname}/prune-${pname}/denseKernels`, { spec, scheme, prune, prunedKernels: false });
      }
    }
  }
  for (let seed = 1; seed <= RANDOM_CASES; seed++) {
    const spec = randomSpec(seed);
    out.set(`random-${seed}`, {
      spec,
      scheme: (g) => randomScheme(g, seed),
      momentum: seed % 2 ? 0 : 0.9,
      rounding: seed % 3 ? 'stochastic' : 'nearest',
      prune: seed % 5 === 0 ? PRUNES.unstructured : seed % 7 === 0 ? PRUNES.pairs : undefined,
    });
  }
  const mbv2 = loadModelFile(join(ROOT, 'examples/mbv2-w0.35-128.json'));
  const mbv2Scheme = (g: Graph): Scheme => schemeFromJson(g, JSON.parse(readFileSync(join(ROOT, 'examples/schemes/mbv2-99kb.json'), 'utf8')), 'mbv2-99kb.json');
  for (const momentum of [0, 0.9]) {
    out.set(`mbv2/99kb/m${momentum}`, { spec: mbv2, scheme: mbv2Scheme, momentum });
    for (const [pname, prune] of Object.entries(PRUNES)) out.set(`mbv2/99kb/m${momentum}/prune-${pname}`, { spec: mbv2, scheme: mbv2Scheme, momentum, prune });
  }
  out.set('mbv2/99kb/nearest', { spec: mbv2, scheme: mbv2Scheme, rounding: 'nearest' });
  return out;
}

/** Kernels only the runtime template calls (not a program step): every case calls them. */
const TEMPLATE_ONLY = new Set(['rngSeed', 'argmaxS8', 'resetNonFiniteGradients', 'nonFiniteGradientCount']);
/** Every kernel a program step can call (the runtime's imports, less the template's own), and a streamed chain's helper. */
const KERNELS = [
  ...KERNEL_IMPORTS.split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '' && !TEMPLATE_ONLY.has(k)),
  'stream0',
];
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('emitted runtime source is unchanged by the emitter restructuring', () => {
  it('matches the sha256 recorded from the unsplit emitter, for every case', () => {
    const got: Record<string, string> = {};
    const called = new Set<string>();
    for (const [name, c] of cases()) {
      const source = sourceOf(c);
      got[name] = sha256(source);
      for (const m of source.matchAll(/(?:\*\/ (?:loss = )?| {4})(\w+)\(/g)) called.add(m[1]!);
    }
    // Every step emitter is exercised: each kernel a step can call is called by some case.
    expect([...KERNELS].filter((k) => !called.has(k))).toEqual([]);
    if (RECORD) writeFileSync(FIXTURE, JSON.stringify(got, null, 2) + '\n');
    expect(existsSync(FIXTURE), 'fixture missing: record it from the unmodified emitter').toBe(true);
    const want = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, string>;
    expect(Object.keys(got).length).toBeGreaterThanOrEqual(200);
    expect(got).toEqual(want);
  }, 300_000);
});
