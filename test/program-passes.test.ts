/**
 * The training program is built by passes (compiler/autodiff/passes/), and that changed
 * nothing: for every case in test/support/program-golden.ts (the three test models with
 * a full and a partial scheme, a hand-made fan-out around a fused pool/head, 250 random networks with random schemes, MobileNetV2 with
 * the 99 KB scheme and full, study-cnn with its anchor scheme and full, the PyTorch ONNX
 * model) under all 64 option sets, the program hashes to what the single-function
 * buildProgram produced at the commit recorded in test/fixtures/program-golden.json.
 *
 * Per-pass tests: with a pass switched off, the steps and buffers it introduces are absent.
 * (That the variants train bit-identically is test/pruning.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildProgram, type Program, type ProgramOptions } from '../compiler/autodiff/program.js';
import { buildGraph, hasParams } from '../compiler/ir/graph.js';
import { fullScheme } from '../compiler/scheme/scheme.js';
import { PROGRAM_GOLDEN, caseHashes, goldenCases, optionSets } from './support/program-golden.js';
import { TEST_MODELS, partialSchemeFor, randomScheme, randomSpec } from './support/models.js';

interface Golden {
  format: string;
  recorded: { commit: string; productCodeModified: boolean; date: string };
  cases: Record<string, string[]>;
}

function record(): void {
  const cases: Record<string, string[]> = {};
  for (const c of goldenCases()) cases[c.name] = caseHashes(c);
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'compiler'], { encoding: 'utf8' }).trim() !== '';
  const golden: Golden = { format: 'tinytrain-program-golden@1', recorded: { commit, productCodeModified: dirty, date: new Date().toISOString() }, cases };
  writeFileSync(PROGRAM_GOLDEN, JSON.stringify(golden, null, 0).replace(/\],"/g, '],\n"') + '\n');
}

describe('the training program is unchanged by the pass structure', () => {
  if (process.env.TINYTRAIN_RECORD_PROGRAMS === '1') record();
  const golden = existsSync(PROGRAM_GOLDEN) ? (JSON.parse(readFileSync(PROGRAM_GOLDEN, 'utf8')) as Golden) : undefined;

  it('the record exists and was taken from unmodified product code', () => {
    expect(golden, `${PROGRAM_GOLDEN} missing`).toBeDefined();
    expect(golden!.recorded.productCodeModified).toBe(false);
    expect(Object.keys(golden!.cases).length).toBe(3 * 2 + 2 + 250 + 5);
  });

  it('every case, every option set: same program hash as the record', () => {
    let compared = 0;
    const seen = new Set<string>();
    for (const c of goldenCases()) {
      seen.add(c.name);
      const want = golden!.cases[c.name];
      expect(want, `case ${c.name} not in the record`).toBeDefined();
      const got = caseHashes(c);
      const labels = optionSets(c).map((o) => o.label);
      for (let i = 0; i < got.length; i++) expect(got[i], `${c.name} [${labels[i]}]`).toBe(want![i]);
      compared += got.length;
    }
    expect(seen.size).toBe(Object.keys(golden!.cases).length);
    expect(compared).toBe(seen.size * 64);
  }, 240_000);
});

const kinds = (p: Program): Set<string> => new Set(p.steps.map((s) => s.kind));
const bufferKinds = (p: Program): Set<string> => new Set([...p.sizes.keys()].map((k) => k.split(':')[0]!));

/** Programs of the three test models and 40 random networks, each with its partial/random scheme. */
function programsWith(opts: ProgramOptions): Program[] {
  const out: Program[] = [];
  for (const key of Object.keys(TEST_MODELS) as Array<keyof typeof TEST_MODELS>) out.push(buildProgram(buildGraph(TEST_MODELS[key]()), partialSchemeFor(key), opts));
  for (let seed = 0; seed < 40; seed++) {
    const g = buildGraph(randomSpec(seed));
    out.push(buildProgram(g, randomScheme(g, seed), opts));
  }
  return out;
}

describe('each pass, switched off, leaves no trace', () => {
  const union = (ps: Program[], f: (p: Program) => Set<string>): Set<string> => new Set(ps.flatMap((p) => [...f(p)]));

  it('prune off: no save slices; a weight gradient for every layer on the path; no fused updates', () => {
    const on = union(programsWith({}), kinds),
      off = union(programsWith({ prune: false }), kinds);
    for (const k of ['saveSlice', 'weightUpdate', 'biasUpdate']) {
      expect(on.has(k)).toBe(true);
      expect(off.has(k)).toBe(false);
    }
    // Full backward: every layer with weights computes a weight gradient of all channels.
    const g = buildGraph(TEST_MODELS['mnist-cnn']());
    const p = buildProgram(g, partialSchemeFor('mnist-cnn'), { prune: false });
    const weighted = g.nodes.filter(hasParams).map((n) => n.name);
    expect(
      p.steps
        .filter((s) => s.kind === 'weightGrad')
        .map((s) => (s as { node: { name: string } }).node.name)
        .sort(),
    ).toEqual([...weighted].sort());
  });

  it('reorder off: no fused updates, every apply step after the last backward step', () => {
    for (const p of programsWith({ reorder: false })) {
      expect(kinds(p).has('weightUpdate') || kinds(p).has('biasUpdate')).toBe(false);
      const firstApply = p.steps.findIndex((s) => s.kind === 'applyWeight' || s.kind === 'applyBias');
      if (firstApply < 0) continue;
      expect(p.steps.slice(firstApply).every((s) => s.kind === 'applyWeight' || s.kind === 'applyBias')).toBe(true);
    }
  });

  it('bitMasks off: no saveMask steps, no mask buffers, every clamp backward reads int8', () => {
    for (const p of programsWith({ bitMasks: false })) {
      expect(kinds(p).has('saveMask')).toBe(false);
      expect(bufferKinds(p).has('mask')).toBe(false);
      expect(p.steps.every((s) => s.kind !== 'mask' || !s.fromBits)).toBe(true);
    }
    expect(union(programsWith({}), kinds).has('saveMask')).toBe(true);
  });

  it('stream off: no forwardStream steps and no rings', () => {
    expect(union(programsWith({}), kinds).has('forwardStream')).toBe(true);
    for (const p of programsWith({ stream: false })) {
      expect(kinds(p).has('forwardStream')).toBe(false);
      expect(bufferKinds(p).has('ring')).toBe(false);
    }
  });

  it('inPlace off: no shared buffers, no in-place input gradients, no fused pool/head backward', () => {
    const on = programsWith({});
    expect(on.some((p) => p.actShares.size > 0) && on.some((p) => p.gradShares.size > 0)).toBe(true);
    expect(union(on, kinds).has('gapHeadBackward')).toBe(true);
    for (const p of programsWith({ inPlace: false })) {
      expect(p.actShares.size + p.gradShares.size).toBe(0);
      expect(kinds(p).has('gapHeadBackward')).toBe(false);
      expect(p.steps.some((s) => s.kind === 'inputGrad' && s.inPlace)).toBe(false);
    }
  });

  it('the plain program (every flag off) of a full scheme: forward, loss, full backward, updates at the end', () => {
    const g = buildGraph(TEST_MODELS.residual());
    const p = buildProgram(g, fullScheme(g), { prune: false, reorder: false, bitMasks: false, stream: false, inPlace: false });
    expect(p.steps.slice(0, p.lossStep).every((s) => s.kind === 'forward')).toBe(true);
    expect(p.steps[p.lossStep]!.kind).toBe('loss');
    const applies = p.steps.filter((s) => s.kind === 'applyWeight' || s.kind === 'applyBias').length;
    expect(applies).toBe(2 * g.nodes.filter(hasParams).length);
    expect(p.steps.slice(-applies).every((s) => s.kind.startsWith('apply'))).toBe(true);
  });
});
