/**
 * A PyTorch model, end to end: examples/torch/train_export.py trained a small CNN on MNIST
 * and exported it with torch.onnx.export (committed: mnist-torch.onnx, and PyTorch's argmax
 * on the 10000 test images in mnist-torch-preds.bin). Here it is imported from the file,
 * compiled for the stm32f746 target (calibrated on 200 training images), its int8
 * predictions before fine-tuning must agree with PyTorch's on >= 99% of the test images,
 * and it then fine-tunes on the device for a few steps.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { argmax, forward } from '../compiler/float/network.js';
import { loadModelFile } from '../compiler/frontend/index.js';
import { buildGraph } from '../compiler/ir/graph.js';
import { loadParams } from '../compiler/ir/params.js';
import { imageAt, takeFirst } from '../host/data/dataset.js';
import { Runtime } from '../host/runtime.js';
import { evaluateRuntime, trainRuntime } from '../host/train.js';
import { getTarget } from '../targets/index.js';
import { normaliseImage } from '../compiler/float/network.js';
import { ArtifactCache, calibrationInputs, mnist } from './support/models.js';
import { ROOT } from './support/onnx.js';
import { caseCount } from './tiers.js';

const DIR = join(ROOT, 'examples', 'torch');
const cache = new ArtifactCache();
afterAll(() => cache.dispose());

describe('PyTorch -> ONNX -> tinytrain (examples/torch)', () => {
  const spec = loadModelFile(join(DIR, 'mnist-torch.onnx'));
  const torchPreds = readFileSync(join(DIR, 'mnist-torch-preds.bin'));

  it('imports to the float model PyTorch computes', () => {
    expect(spec.outputActivation).toBe('logsoftmax');
    expect(spec.layers.map((l) => l.op)).toEqual(['conv2d', 'conv2d', 'conv2d', 'conv2d', 'conv2d', 'conv2d', 'add', 'avgpool', 'flatten', 'dense', 'dense']);
    const g = buildGraph(spec);
    const p = loadParams(g, spec);
    const test = mnist('test');
    let agree = 0;
    const n = 2000;
    for (let i = 0; i < n; i++) if (argmax(forward(g, p, normaliseImage(imageAt(test, i), [0, 1])).get(g.output)!) === torchPreds[i]) agree++;
    console.log(`float32 reference engine agrees with PyTorch on ${agree}/${n} test images`);
    expect(agree / n).toBeGreaterThanOrEqual(0.999);
  });

  it('compiles for stm32f746; int8 predictions agree with PyTorch on >= 99% of MNIST test; fine-tunes on device', async () => {
    // stm32f746 runs the scalar module, the only one this file runs.
    const art = await cache.get('torch', spec, { target: getTarget('stm32f746'), calibration: calibrationInputs(200) }, { simd: 'unused' });
    const m = art.loaded.manifest;
    expect(m.memory.sramPeakBytes).toBeLessThanOrEqual(getTarget('stm32f746').sramBytes);
    const rt = await Runtime.load(art.loaded);
    const test = mnist('test');
    let agree = 0,
      correct = 0;
    const count = caseCount('onnx-torch.INT8_IMAGES', test.count);
    for (let i = 0; i < count; i++) {
      rt.setInputPixels(imageAt(test, i));
      const k = rt.predict();
      if (k === torchPreds[i]) agree++;
      if (k === test.labels[i]) correct++;
    }
    console.log(
      `int8 (stm32f746 artifact) agrees with PyTorch on ${agree}/${count} test images; accuracy ${((correct / count) * 100).toFixed(2)}% ` +
        `(PyTorch ${(JSON.parse(readFileSync(join(DIR, 'mnist-torch.json'), 'utf8')).torchTestAccuracy * 100).toFixed(2)}%); ` +
        `SRAM ${m.memory.sramPeakBytes} B, Flash ${m.memory.flashBytes} B`,
    );
    expect(agree / count).toBeGreaterThanOrEqual(0.99);

    // A few steps of on-device training (full scheme, the default).
    const subset = takeFirst(test, 2000);
    const before = evaluateRuntime(rt, subset);
    const steps = 200;
    const r = trainRuntime(rt, takeFirst(mnist('train'), 1000), { steps, lr: 0.002, seed: 3 });
    expect(r.steps).toBe(steps);
    expect(r.skipped).toBe(0);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(rt.stepsDone()).toBe(steps);
    const after = evaluateRuntime(rt, subset);
    console.log(
      `${steps} on-device SGD steps (batch 1, lr 0.002): train loss ${r.loss.toFixed(3)}; accuracy on 2000 test images ` +
        `${(before * 100).toFixed(2)}% before, ${(after * 100).toFixed(2)}% after`,
    );
    expect(after).toBeGreaterThan(before - 0.03);
  });
});
