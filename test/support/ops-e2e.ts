/**
 * The end-to-end case of a per-op test (test/ops/<op>.test.ts): a small CNN around the op,
 * pretrained in float on digits 0-4 and compiled for stm32f746 (its program calls the op's
 * kernels), then trained in int8 on digits 5-9 with the loss falling; and, not pretrained
 * (the fast tier's cost), SIMD == scalar bit for bit and the checkpoint after 100 steps the
 * one recorded when the op was added.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { ModelSpec } from '../../compiler/ir/model.js';
import { fullScheme } from '../../compiler/scheme/scheme.js';
import { filterClasses } from '../../host/data/dataset.js';
import { pretrain } from '../../host/pretrain.js';
import { getTarget } from '../../targets/index.js';
import { SLOW } from '../tiers.js';
import { ArtifactCache, calibrationInputs, mnist } from './models.js';
import { lossOnNewDigits, stableCheckpoint } from './ops.js';

export interface EndToEndCase {
  /** The describe block's title. */
  title: string;
  /** Whose kernels the program calls, in the test's name and log line ('mul'). */
  kernels: string;
  /** The net, in the log line ('SE CNN'). */
  net: string;
  spec: ModelSpec;
  /** Float pretraining steps on digits 0-4 (lr 0.05, no momentum). */
  pretrainSteps: number;
  /** What the pretrained artifact's program source must contain: the op's kernel calls. */
  calls: RegExp[];
  /** Bounds, with room for numeric changes below what was measured (each file says what). */
  minPretrainAccuracy: number;
  /** The mean loss of steps 401-500 on digits 5-9 below this share of steps 1-100's. */
  lossRatio: number;
  /** sha256 of the checkpoint payload after 100 steps (stableCheckpoint). */
  checkpointSha256: string;
}

export function describeTrainsEndToEnd(c: EndToEndCase): void {
  describe(c.title, () => {
    const cache = new ArtifactCache();
    afterAll(() => cache.dispose());
    const train = mnist('train');
    const options = { target: getTarget('stm32f746'), momentum: 0.9 };

    it(
      `pretrained in float on digits 0-4, its runtime calls the ${c.kernels} kernels and learns 5-9 in int8 (loss falls)`,
      { tags: [SLOW] },
      async () => {
        const pre = pretrain(c.spec, filterClasses(train, [0, 1, 2, 3, 4]), { steps: c.pretrainSteps, lr: 0.05, momentum: 0, seed: 1 });
        const { artifact, loaded } = await cache.get(`${c.spec.name}-pretrained`, pre.spec, { ...options, scheme: fullScheme(buildGraph(pre.spec)) });
        for (const call of c.calls) expect(artifact.source).toMatch(call);
        const { first, last, skipped } = await lossOnNewDigits(loaded, filterClasses(train, [5, 6, 7, 8, 9]));
        console.info(
          `[${c.kernels}] ${c.net}: float pretrain acc ${pre.summary.accuracy.toFixed(3)}; loss on 5-9 ${first.toFixed(3)} (steps 1-100) -> ${last.toFixed(3)} (steps 401-500), skipped ${skipped}`,
        );
        expect(pre.summary.accuracy).toBeGreaterThan(c.minPretrainAccuracy);
        expect(skipped).toBe(0);
        expect(last).toBeLessThan(first * c.lossRatio);
      },
      300_000,
    );

    it('the result is stable: SIMD == scalar bit for bit, and the checkpoint after 100 steps is the recorded one', async () => {
      const { loaded } = await cache.get(c.spec.name, c.spec, { ...options, scheme: fullScheme(buildGraph(c.spec)), calibration: calibrationInputs(16) });
      expect(await stableCheckpoint(loaded, train)).toBe(c.checkpointSha256);
    }, 300_000);
  });
}
