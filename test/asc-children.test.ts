/**
 * The asc children (compiler/codegen/asc.ts): a warm child, reused for the next build, gives
 * the bytes a fresh one gives, whatever it built before: two real generated runtimes, one
 * built by a fresh child and again by a warm child after the other model's build, with the
 * build cache off, so every build really runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ascChildrenStarted, dropWarmChildren } from '../compiler/codegen/asc.js';
import { BUILD_CACHE_ENV } from '../compiler/codegen/build-cache.js';
import { buildRuntime } from '../compiler/codegen/build.js';
import { emitRuntime } from '../compiler/codegen/emit.js';
import { layoutIdOf, planModel, quantizeSpec } from '../compiler/index.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { Rng } from '../compiler/ir/rng.js';
import { fullScheme } from '../compiler/scheme/scheme.js';
import { TEST_MODELS } from './support/models.js';

function sourceOf(spec: ModelSpec): { source: string; memoryBase: number } {
  const [h, w, c] = buildGraph(spec).inputShape;
  const rng = new Rng(7);
  const calibration = Array.from({ length: 2 }, () => Float32Array.from({ length: h * w * c }, () => rng.uniform()));
  const { quant } = quantizeSpec(spec, spec.calibration ? undefined : calibration);
  const plan = planModel(quant, { scheme: fullScheme(quant.graph) });
  const arenaBase = plan.layout.trainEnd;
  const source = emitRuntime(quant, plan.program, plan.arena, plan.layout, { arenaBase, momentum: 0, qas: true, rounding: 'stochastic', layoutId: layoutIdOf(plan) });
  return { source, memoryBase: arenaBase + plan.arena.arenaBytes };
}

const saved = process.env[BUILD_CACHE_ENV];
beforeAll(() => {
  delete process.env[BUILD_CACHE_ENV];
});
afterAll(() => {
  if (saved !== undefined) process.env[BUILD_CACHE_ENV] = saved;
});

describe('warm asc children', () => {
  it('build the same bytes as fresh ones, after building another model', async () => {
    const a = sourceOf(TEST_MODELS.mlp());
    const b = sourceOf(TEST_MODELS.residual());
    expect(a.source).not.toBe(b.source);
    // b's scalar module from a fresh child, the reference for b.
    dropWarmChildren();
    const bScalar = await buildRuntime({ ...b, simd: false });
    // Then one child for three builds: a's SIMD module fresh (the reference for a), b's scalar
    // module warm after a, and a's SIMD module again, warm after b.
    dropWarmChildren();
    const before = ascChildrenStarted();
    const aSimd = await buildRuntime({ ...a, simd: true });
    const bScalarWarm = await buildRuntime({ ...b, simd: false });
    const aSimdWarm = await buildRuntime({ ...a, simd: true });
    expect(ascChildrenStarted()).toBe(before + 1);

    expect(aSimdWarm.pages).toBe(aSimd.pages);
    expect(Buffer.from(aSimdWarm.wasm).equals(Buffer.from(aSimd.wasm))).toBe(true);
    expect(bScalarWarm.pages).toBe(bScalar.pages);
    expect(Buffer.from(bScalarWarm.wasm).equals(Buffer.from(bScalar.wasm))).toBe(true);
  });
});
