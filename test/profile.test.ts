/**
 * Per-step profiling (`tinytrain report DIR --profile`, host/profile/): the profiling build
 * marks every program step exactly once, its step times add up to the measured training
 * step, and it trains bit-identically to the artifact's own modules (the marks only call
 * the host; they change no numerics). The artifact's modules stay import-free.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGraph } from '../compiler/ir/graph.js';
import { fullScheme } from '../compiler/scheme/scheme.js';
import { Rng } from '../compiler/ir/rng.js';
import { Runtime } from '../host/runtime.js';
import { buildProfiledRuntime, instrumentSource } from '../host/profile/instrument.js';
import { classify, profileArtifact, renderProfile } from '../host/profile/profile.js';
import { getTarget } from '../targets/index.js';
import { ArtifactCache, calibrationInputs, mnistCnn, mnistPartialOptions, type CachedArtifact } from './support/models.js';
import { caseSubset } from './tiers.js';

const cache = new ArtifactCache();
afterAll(() => cache.dispose());

type Kind = 'full' | 'partial';
const KINDS = caseSubset<Kind>('profile.KINDS', ['full', 'partial']);
function artifact(kind: Kind): Promise<CachedArtifact> {
  const spec = mnistCnn();
  if (kind === 'partial') return cache.get('mnist-partial', spec, mnistPartialOptions());
  return cache.get('mnist-full', spec, { target: getTarget('stm32f746'), scheme: fullScheme(buildGraph(spec)), calibration: calibrationInputs(16), momentum: 0 });
}

function samples(n: number, count: number): { xs: Uint8Array[]; ys: number[] } {
  const rng = new Rng(5);
  const xs = Array.from({ length: count }, () => Uint8Array.from({ length: n }, () => Math.floor(rng.uniform() * 256)));
  return { xs, ys: xs.map(() => rng.nextU32() % 10) };
}

describe('profiling build', () => {
  it.each<Kind>(KINDS)('tags every program step exactly once (%s scheme)', async (kind) => {
    const a = await artifact(kind);
    const source = readFileSync(join(a.dir, 'runtime.ts'), 'utf8');
    const steps = a.artifact.manifest.program.length;
    const out = instrumentSource(source, steps);
    for (let i = 0; i < steps; i++) expect(out.split(`profileMark(${i});`).length - 1, `step ${i}`).toBe(1);
    expect(out).not.toMatch(/\/\*step \d+\*\//);
  });

  it('refuses a runtime.ts without step tags', () => {
    expect(() => instrumentSource('function forward(): void {\n  stem();\n}\n', 1)).toThrow(/step 0 0 times/);
  });

  it('leaves the artifact modules import-free (env.abort at most)', async () => {
    const a = await artifact('partial');
    for (const v of ['simd', 'scalar'] as const) {
      const imports = WebAssembly.Module.imports(new WebAssembly.Module(a.loaded.wasm(v) as Uint8Array<ArrayBuffer>));
      expect(imports.map((i) => `${i.module}.${i.name}`).filter((n) => n !== 'env.abort')).toEqual([]);
    }
  });

  it.each<['simd' | 'scalar', Kind]>(
    caseSubset(
      'profile.bitIdentical',
      [
        ['simd', 'full'],
        ['scalar', 'partial'],
        ['simd', 'partial'],
      ] as Array<['simd' | 'scalar', Kind]>,
      (c) => c.join(' '),
    ),
  )('trains bit-identically to the plain %s module (%s scheme)', async (variant, kind) => {
    const a = await artifact(kind);
    const build = await buildProfiledRuntime(a.loaded, variant);
    let marks = 0;
    const profiled = await Runtime.load(a.loaded, variant, {
      wasm: build.wasm,
      env: {
        profileMark: () => {
          marks++;
        },
      },
    });
    const plain = await Runtime.load(a.loaded, variant);
    const { xs, ys } = samples(28 * 28, 8);
    for (let s = 0; s < 25; s++) {
      for (const rt of [profiled, plain]) rt.setInputPixels(xs[s % xs.length]!);
      const l1 = profiled.trainStep(ys[s % ys.length]!, 0.01);
      const l2 = plain.trainStep(ys[s % ys.length]!, 0.01);
      expect(Object.is(l1, l2), `loss at step ${s}`).toBe(true);
    }
    expect(marks).toBe(25 * a.artifact.manifest.program.length);
    expect(Buffer.from(profiled.exportCheckpoint()).equals(Buffer.from(plain.exportCheckpoint()))).toBe(true);
    expect(profiled.stepsDone()).toBe(25);
  });
});

describe('step profile', () => {
  it.each<Kind>(KINDS)('covers every program step and adds up to the step time (%s scheme)', async (kind) => {
    const a = await artifact(kind);
    const m = a.artifact.manifest;
    const p = await profileArtifact(a.loaded, { steps: 30, warmup: 3 });
    expect(p.program).toHaveLength(m.program.length);
    expect(p.unmarkedSteps).toEqual([]);
    expect(p.skippedSteps).toBe(0);
    expect(p.program.map((s) => s.what)).toEqual(m.program);
    for (const s of p.program) expect(s.ms).toBeGreaterThanOrEqual(0);
    // Step durations partition the call from the first mark to the return: only the call's
    // entry is outside them, so they add up to the measured step.
    expect(p.coverage).toBeGreaterThan(0.9);
    expect(p.coverage).toBeLessThanOrEqual(1 + 1e-9);
    // Shares and the layer/phase groupings account for the whole program.
    const sum = (xs: number[]): number => xs.reduce((u, v) => u + v, 0);
    expect(sum(p.program.map((s) => s.share))).toBeCloseTo(1, 6);
    expect(sum(p.layers.map((l) => l.totalMs))).toBeCloseTo(p.programMs, 6);
    expect(sum(Object.values(p.phases))).toBeCloseTo(p.programMs, 6);
    // The marks cost little: the profiled step is within a loose factor of the plain one
    // (loose: the machine may be shared; this catches gross distortion, not noise).
    expect(p.medianStepMs).toBeLessThan(3 * p.plainMedianStepMs + 0.5);
    expect(renderProfile(p)).toContain('slowest program steps');
  });

  it('groups program entries into phases and layers', () => {
    expect(classify('forward stem', '')).toEqual({ phase: 'forward', layer: 'stem' });
    expect(classify('forwardStream', 'stem -> dw1')).toEqual({ phase: 'forward', layer: 'stem -> dw1' });
    expect(classify('weightUpdate head (16 ch)', '')).toEqual({ phase: 'update', layer: 'head' });
    expect(classify('inputGrad pw3', '')).toEqual({ phase: 'backward', layer: 'pw3' });
    expect(classify('loss', '')).toEqual({ phase: 'loss', layer: '(loss)' });
  });
});

describe('tinytrain report --profile', () => {
  it('prints the per-layer table, puts the profile in --json and the per-layer chart in --html', async () => {
    const a = await artifact('partial');
    const html = join(a.dir, '..', 'profile-report.html');
    const bin = join(__dirname, '..', 'bin', 'tinytrain.js');
    const r = spawnSync(process.execPath, [bin, 'report', a.dir, '--profile', '--steps', '6', '--variant', 'scalar', '--json', '--html', html], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { profile: { variant: string; steps: number; program: unknown[]; layers: Array<{ layer: string }> } };
    expect(out.profile.variant).toBe('scalar');
    expect(out.profile.steps).toBe(6);
    expect(out.profile.program).toHaveLength(a.artifact.manifest.program.length);
    expect(out.profile.layers.map((l) => l.layer)).toContain('head');
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('Time per layer in one training step');
    expect(page).not.toMatch(/<script|src=|href=|https?:\/\//);
    const text = spawnSync(process.execPath, [bin, 'report', a.dir, '--profile', '--steps', '3'], { encoding: 'utf8' });
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/step profile \(simd module/);
    expect(text.stdout).toMatch(/layer +forward +backward +update +total +share/);
  });
});
