/**
 * The divergence guard: a non-finite loss or learning rate skips the whole step; a
 * non-finite parameter gradient leaves that parameter (and its momentum) unchanged, and
 * the runtime counts the step. Both counters live in the checkpointed runtime state.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../compiler/index.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { f32ToBase64 } from '../compiler/ir/params.js';
import { getTarget } from '../targets/index.js';
import { SLOW } from './tiers.js';
import { ArtifactCache } from './support/models.js';
import { Runtime } from '../host/runtime.js';

const cache = new ArtifactCache();
afterAll(() => cache.dispose());

/**
 * 2 pixels -> dense(2, relu) -> dense(2). The classifier's weights are +-2.54e38 (int8
 * +-127 at scale 2e36), so the gradient reaching the hidden layer is 2.54e38 * (g0 - g1):
 * it overflows float32 whenever |g0 - g1| > 1.34, e.g. label 1 with the model sure of
 * class 0. The logits are requantised to scale 1e25 and the loss stays finite: only the
 * gradient is non-finite.
 */
function overflowingSpec(): ModelSpec {
  const big = 2.54e38;
  return {
    format: 'tinytrain-model@1',
    name: 'overflow',
    input: [1, 1, 2],
    inputRange: [0, 1],
    layers: [
      { op: 'dense', name: 'hidden', units: 2, activation: 'relu' },
      { op: 'dense', name: 'logits', units: 2 },
    ],
    params: {
      hidden: { weight: f32ToBase64(Float32Array.from([0.5, 0.5, 0.25, 0.25])), bias: f32ToBase64(new Float32Array(2)) },
      logits: { weight: f32ToBase64(Float32Array.from([big, big, -big, -big])), bias: f32ToBase64(new Float32Array(2)) },
    },
    quantization: {
      tensors: {
        input: { scale: 1 / 255, zeroPoint: -128 },
        hidden: { scale: 1 / 255, zeroPoint: -128 },
        logits: { scale: 1e25, zeroPoint: 0 },
      },
      weights: { hidden: [0.5 / 127, 0.25 / 127], logits: [2e36, 2e36] },
    },
  };
}

async function runtime(momentum: number): Promise<Runtime> {
  const c = await cache.get(`overflow-m${momentum}`, overflowingSpec(), { target: getTarget('desktop'), momentum });
  const rt = await Runtime.load(c.loaded, 'simd');
  rt.reset(1);
  return rt;
}

/** The trained parameters (without optimizer state and the runtime state's counters). */
function params(rt: Runtime): Uint8Array {
  const m = rt.manifest;
  return rt.bytes().slice(m.checkpoint.offset, m.state.offset - m.memory.breakdown.optimizerStateBytes);
}

describe('divergence guard', { timeout: 60_000 }, () => {
  it('the test model really overflows the hidden layer gradient and nothing else', async () => {
    const rt = await runtime(0);
    rt.setInputPixels(Uint8Array.from([255, 255]));
    expect(rt.predict()).toBe(0);
    const loss = rt.trainStep(1, 0.01);
    expect(Number.isFinite(loss)).toBe(true);
    expect(loss).toBeGreaterThan(10); // the model is sure of the wrong class
    expect(rt.stepsNonFinite()).toBe(1);
    expect(rt.stepsSkipped()).toBe(0);
    expect(rt.stepsDone()).toBe(1);
  });

  for (const momentum of [0, 0.9]) {
    it(`non-finite gradients leave the parameters unchanged and the momentum finite (momentum ${momentum})`, async () => {
      const rt = await runtime(momentum);
      rt.setInputPixels(Uint8Array.from([255, 255]));
      const before = params(rt);
      rt.trainStep(1, 0.01);
      // The hidden layer's gradients are +-Inf (unguarded, its weights would saturate at
      // +-127); the classifier's finite steps are ~1e-40 units and round to 0, so the
      // whole trained region must be unchanged.
      expect(Array.from(params(rt))).toEqual(Array.from(before));
      const m = rt.manifest;
      const velBytes = m.memory.breakdown.optimizerStateBytes;
      expect(velBytes > 0).toBe(momentum > 0);
      const vel = new Float32Array(rt.bytes().slice(m.state.offset - velBytes, m.state.offset).buffer);
      expect(vel.every(Number.isFinite)).toBe(true);
      expect(rt.stepsNonFinite()).toBe(1);
    });
  }

  it('a non-finite learning rate skips the whole step and is counted', async () => {
    const rt = await runtime(0);
    rt.setInputPixels(Uint8Array.from([0, 255]));
    const before = params(rt);
    for (const lr of [NaN, Infinity, -Infinity]) rt.trainStep(0, lr);
    expect(Array.from(params(rt))).toEqual(Array.from(before));
    expect(rt.stepsSkipped()).toBe(3);
    expect(rt.stepsDone()).toBe(0);
  });

  it('the counters are part of the checkpoint and reset by reset()', async () => {
    const rt = await runtime(0);
    rt.setInputPixels(Uint8Array.from([255, 255]));
    rt.trainStep(1, 0.01);
    rt.trainStep(0, NaN);
    const ck = rt.exportCheckpoint();
    const other = await runtime(0);
    other.importCheckpoint(ck, 'test');
    expect([other.stepsNonFinite(), other.stepsSkipped(), other.stepsDone()]).toEqual([1, 1, 1]);
    other.reset(1);
    expect([other.stepsNonFinite(), other.stepsSkipped(), other.stepsDone()]).toEqual([0, 0, 0]);
  });

  // Slow tag: in the fast tier, input-fuzz's hostile-names test builds for stm32f746 and
  // finds the guard's counters (stepsNonFinite, stepsSkipped) exported, and runtime-e2e
  // checks the runtime state in stm32f746 manifests.
  it('compiles for a device target too (the guard is in every build)', { tags: [SLOW] }, async () => {
    const a = await compile(overflowingSpec(), { target: getTarget('stm32f746') });
    expect(a.manifest.memory.breakdown.runtimeStateBytes).toBeGreaterThanOrEqual(20); // five u32 state words, padded
  });
});
