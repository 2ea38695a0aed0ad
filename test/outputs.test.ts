/** Models that end in Softmax/LogSoftmax (e.g. imported from ONNX) train on logits and infer with the activation. */
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime } from '../host/runtime.js';
import { getTarget } from '../targets/index.js';
import { ArtifactCache, calibrationInputs, mlp, mnist } from './support/models.js';
import { imageAt } from '../host/data/dataset.js';
import { caseSubset } from './tiers.js';

const cache = new ArtifactCache();
afterAll(() => cache.dispose());

describe('output activation', () => {
  for (const act of caseSubset('outputs.acts', ['softmax', 'logsoftmax'] as const)) {
    it(`${act}: recorded in the manifest and applied by Runtime.outputs()`, async () => {
      const spec = { ...mlp(), outputActivation: act };
      const { loaded } = await cache.get(act, spec, { target: getTarget('desktop'), calibration: calibrationInputs(16) });
      expect(loaded.manifest.outputs[0]!.activation).toBe(act);
      const rt = await Runtime.load(loaded);
      const ds = mnist('test');
      for (let i = 0; i < 5; i++) {
        rt.setInputPixels(imageAt(ds, i));
        const cls = rt.predict();
        const z = rt.logits();
        const y = rt.outputs();
        const probs = act === 'softmax' ? y : y.map(Math.exp);
        expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        // The activation is monotonic: it never changes the predicted class.
        expect(y.indexOf(Math.max(...y))).toBe(z.indexOf(Math.max(...z)));
        expect(Math.max(...z)).toBe(z[cls]);
      }
    });
  }
});
