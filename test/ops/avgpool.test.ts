/** avgpool (compiler/ops/avgpool.ts): its shape rule, float reference against TF.js, quantisation and backward rule. */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { Layer } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import type { AvgpoolLayer } from '../../compiler/ops/avgpool.js';
import { opDef } from '../../compiler/ops/registry.js';
import { quantizeMultiplier } from '../../compiler/quantize/fixedpoint.js';
import { modelAround, nodeAround, plainProgram, randomArray, schemeOf, shapeError, stepsOf } from '../support/ops.js';
import { abs, expectWithinBound, tf, tfForwardBackward, useTfCpu, valuesOf } from '../support/ops-float.js';

const op = opDef('avgpool');
const pool = (o: Partial<AvgpoolLayer>): AvgpoolLayer => ({ op: 'avgpool', name: 'x', size: 2, ...o });

beforeAll(useTfCpu);

describe('avgpool: shape rule', () => {
  it('size x size windows, stride defaulting to the size, no padding', () => {
    const { node } = nodeAround([7, 6, 3], [pool({ size: 2 })], 'x');
    expect(node.op).toBe('avgpool');
    expect(node.pool).toEqual({ size: 2, stride: 2 });
    expect(node.outShape).toEqual([3, 3, 3]);
    expect(nodeAround([7, 6, 3], [pool({ size: 3, stride: 1 })], 'x').node.outShape).toEqual([5, 4, 3]);
  });

  it('refuses a window larger than the input', () => {
    expect(shapeError([3, 5, 1], [pool({ size: 4 })])).toBe("model layer 0 ('x'): pool 4 is larger than the 3x5 input");
  });
});

describe('avgpool: float reference against TF.js', () => {
  const cases: Array<{ input: [number, number, number]; size: number; stride: number }> = [
    { input: [6, 6, 3], size: 2, stride: 2 },
    { input: [7, 5, 4], size: 3, stride: 2 },
    { input: [5, 5, 2], size: 2, stride: 1 },
  ];
  for (const [i, c] of cases.entries()) {
    it(`${c.input.join('x')} size ${c.size} stride ${c.stride}`, () => {
      const rng = new Rng(500 + i);
      const { node } = nodeAround(c.input, [pool({ size: c.size, stride: c.stride })], 'x');
      const x = randomArray(rng, c.input[0] * c.input[1] * c.input[2]);
      const gy = randomArray(rng, node.outShape[0] * node.outShape[1] * node.outShape[2]);
      const run = (t: tf.Tensor) => tf.avgPool(t as tf.Tensor4D, c.size, c.stride, 'valid');
      const ref = tfForwardBackward(run, [tf.tensor4d(x, [1, ...c.input])], gy);
      const size = tfForwardBackward(run, [tf.tensor4d(abs(x), [1, ...c.input])], abs(gy));
      const y = op.float.forward(node, [x], undefined);
      expectWithinBound(y, ref.y, size.y, c.size * c.size + 1, 'y');
      const g = op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: true });
      expectWithinBound(g.inputs[0]!, valuesOf(ref.grads[0]!), valuesOf(size.grads[0]!), c.size * c.size + 1, 'dL/dx');
      expect(op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: false }).inputs).toEqual([null]);
    });
  }
});

describe('avgpool: quantisation', () => {
  it("prepares the rescale of a window's sum: s_in / (s_out * size^2)", () => {
    const { node } = nodeAround([6, 6, 1], [pool({ size: 3 })], 'x');
    expect(op.prepare!(node, [{ scale: 0.1, zp: 0 }], { scale: 0.05, zp: 3 })).toEqual(quantizeMultiplier(0.1 / (0.05 * 9)));
  });
});

describe('avgpool: backward rule', () => {
  const layers: Layer[] = [{ op: 'conv2d', name: 'pre', filters: 2, kernel: 3, padding: 1, activation: 'relu' }, pool({})];
  const graph = buildGraph(modelAround([6, 6, 1], layers));

  it('an input gradient when the layer below trains, nothing otherwise; no clamp, no mask', () => {
    expect(stepsOf(plainProgram(graph, schemeOf({ pre: { bias: true } })), 'x')).toEqual({ forward: ['forward'], backward: ['inputGrad'], updates: [] });
    expect(stepsOf(plainProgram(graph, schemeOf({ tail_fc: { bias: true } })), 'x')).toEqual({ forward: ['forward'], backward: [], updates: [] });
  });
});
