/** relu and relu6 as layers (compiler/ops/relu.ts): shape rule, float reference against TF.js, quantisation and backward rule. */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { Layer } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import { clampOf, opDef } from '../../compiler/ops/registry.js';
import { calibrate, quantizeModel } from '../../compiler/quantize/quantize.js';
import { initParams } from '../../compiler/ir/params.js';
import { modelAround, nodeAround, plainProgram, randomArray, schemeOf, stepsOf } from '../support/ops.js';
import { signlessZeros, tf, tfForwardBackward, useTfCpu, valuesOf } from '../support/ops-float.js';

beforeAll(useTfCpu);

for (const kind of ['relu', 'relu6'] as const) {
  const op = opDef(kind);
  const layer: Layer = { op: kind, name: 'x' };

  describe(`${kind}: shape rule`, () => {
    it('the same shape out; the node is its own clamp', () => {
      const { node } = nodeAround([3, 4, 5], [layer], 'x');
      expect(node.op).toBe(kind);
      expect(node.outShape).toEqual([3, 4, 5]);
      expect(clampOf(node)).toBe(kind);
    });
  });

  describe(`${kind}: float reference against TF.js`, () => {
    it(`y = ${kind}(x); the gradient passes where the output is inside the clamp`, () => {
      const rng = new Rng(kind === 'relu' ? 700 : 701);
      const { node } = nodeAround([4, 4, 3], [layer], 'x');
      // Values on both sides of 0 and 6, none exactly there (where the one-sided derivatives differ).
      const x = randomArray(rng, 48, -8, 8);
      const gy = randomArray(rng, 48);
      const ref = tfForwardBackward((t) => (kind === 'relu' ? tf.relu(t) : tf.relu6(t)), [tf.tensor(x)], gy);
      const y = op.float.forward(node, [x], undefined);
      expect(y).toEqual(ref.y); // a clamp rounds nothing
      expect(y).not.toBe(x); // its own buffer: the input stays as it was
      const g = op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: true });
      expect(signlessZeros(g.inputs[0]!)).toEqual(signlessZeros(valuesOf(ref.grads[0]!)));
    });
  });

  describe(`${kind}: quantisation`, () => {
    it("keeps its input's quantisation; its int8 clamp is [zp, 127] (relu6: the int8 of 6)", () => {
      const graph = buildGraph(modelAround([2, 2, 1], [{ op: 'conv2d', name: 'c', filters: 2, kernel: 1 }, layer]));
      const params = initParams(graph, 1);
      const rng = new Rng(9);
      const q = quantizeModel(graph, params, calibrate(graph, params, [randomArray(rng, 4), randomArray(rng, 4)]));
      const t = q.tensors.get('x')!;
      expect(t).toBe(q.tensors.get('c'));
      const hi = kind === 'relu' ? 127 : Math.min(127, t.zp + Math.round(6 / t.scale));
      expect(q.clamps.get('x')).toEqual({ lo: Math.max(-128, t.zp), hi });
    });
  });

  describe(`${kind}: backward rule`, () => {
    it('its mask, then the input gradient, when the layer below trains; nothing otherwise', () => {
      const graph = buildGraph(modelAround([4, 4, 1], [{ op: 'conv2d', name: 'pre', filters: 2, kernel: 3, padding: 1 }, layer]));
      expect(stepsOf(plainProgram(graph, schemeOf({ pre: { bias: true } })), 'x')).toEqual({ forward: ['forward'], backward: ['mask', 'inputGrad'], updates: [] });
      expect(stepsOf(plainProgram(graph, schemeOf({ tail_fc: { bias: true } })), 'x').backward).toEqual([]);
    });
  });
}
