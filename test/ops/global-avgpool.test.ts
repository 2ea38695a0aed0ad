/** globalavgpool (compiler/ops/global-avgpool.ts): its shape rule, float reference against TF.js, quantisation and backward rule. */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { Layer } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import { opDef } from '../../compiler/ops/registry.js';
import { quantizeMultiplier } from '../../compiler/quantize/fixedpoint.js';
import { modelAround, nodeAround, plainProgram, randomArray, schemeOf, stepsOf } from '../support/ops.js';
import { abs, expectWithinBound, tf, tfForwardBackward, useTfCpu, valuesOf } from '../support/ops-float.js';

const op = opDef('globalavgpool');
const gap: Layer = { op: 'globalavgpool', name: 'x' };

beforeAll(useTfCpu);

describe('globalavgpool: shape rule', () => {
  it('[H, W, C] -> [1, 1, C]', () => {
    const { node } = nodeAround([5, 3, 7], [gap], 'x');
    expect(node.op).toBe('globalavgpool');
    expect(node.outShape).toEqual([1, 1, 7]);
    expect(op.globalPool).toBe(true);
  });
});

describe('globalavgpool: float reference against TF.js', () => {
  for (const [i, input] of (
    [
      [4, 4, 3],
      [7, 5, 8],
      [1, 1, 5],
    ] as Array<[number, number, number]>
  ).entries()) {
    it(input.join('x'), () => {
      const rng = new Rng(600 + i);
      const { node } = nodeAround(input, [gap], 'x');
      const P = input[0] * input[1];
      const x = randomArray(rng, P * input[2]);
      const gy = randomArray(rng, input[2]);
      const run = (t: tf.Tensor) => tf.mean(t, [1, 2]);
      const ref = tfForwardBackward(run, [tf.tensor4d(x, [1, ...input])], gy);
      const size = tfForwardBackward(run, [tf.tensor4d(abs(x), [1, ...input])], abs(gy));
      const y = op.float.forward(node, [x], undefined);
      expectWithinBound(y, ref.y, size.y, P + 1, 'y');
      const g = op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: true });
      expectWithinBound(g.inputs[0]!, valuesOf(ref.grads[0]!), valuesOf(size.grads[0]!), 2, 'dL/dx');
    });
  }
});

describe('globalavgpool: quantisation', () => {
  it('prepares the rescale of the sum over every position: s_in / (s_out * H * W)', () => {
    const { node } = nodeAround([5, 3, 2], [gap], 'x');
    expect(op.prepare!(node, [{ scale: 0.1, zp: 0 }], { scale: 0.02, zp: 3 })).toEqual({ m: quantizeMultiplier(0.1 / (0.02 * 15)) });
  });
});

describe('globalavgpool: backward rule', () => {
  it('an input gradient when the layer below trains, nothing otherwise', () => {
    const graph = buildGraph(modelAround([4, 4, 1], [{ op: 'conv2d', name: 'pre', filters: 2, kernel: 3, padding: 1 }, gap]));
    expect(stepsOf(plainProgram(graph, schemeOf({ pre: { bias: true } })), 'x')).toEqual({ forward: ['forward'], backward: ['inputGrad'], updates: [] });
    expect(stepsOf(plainProgram(graph, schemeOf({ tail_fc: { bias: true } })), 'x').backward).toEqual([]);
  });
});
