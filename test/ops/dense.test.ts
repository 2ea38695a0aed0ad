/** dense (compiler/ops/dense.ts): its shape rule, float reference against TF.js, and backward rule. */
import { beforeAll, describe, expect, it } from 'vitest';
import { weightShape } from '../../compiler/ir/graph.js';
import type { DenseLayer } from '../../compiler/ops/dense.js';
import { Rng } from '../../compiler/ir/rng.js';
import { opDef } from '../../compiler/ops/registry.js';
import { isPointwise, pointwiseShape } from '../../compiler/pruning/prune.js';
import { splitChannels } from '../../compiler/scheme/scheme.js';
import { expectWeightedProgramRule, nodeAround, randomArray, randomParams, shapeError } from '../support/ops.js';
import { abs, expectWithinBound, tf, tfForwardBackward, useTfCpu, valuesOf } from '../support/ops-float.js';

const op = opDef('dense');
const fc = (o: Partial<DenseLayer>): DenseLayer => ({ op: 'dense', name: 'x', units: 5, ...o });

beforeAll(useTfCpu);

describe('dense: shape rule', () => {
  it('[units] from the whole input, flattened; the conv kernels see a 1x1 image of it', () => {
    const { node } = nodeAround([3, 4, 2], [fc({ units: 7, activation: 'relu' })], 'x');
    expect(node.op).toBe('dense');
    expect(node.outShape).toEqual([1, 1, 7]);
    expect(weightShape(node)).toEqual([7, 1, 1, 24]);
    expect(op.weights!.input(node)).toEqual([1, 1, 24]);
    expect(op.weights!.window(node)).toEqual({ kh: 1, kw: 1, sh: 1, sw: 1, pads: [0, 0, 0, 0] });
    // Its trained channels are its flattened inputs; it runs on the pruned kernels when frozen.
    expect(splitChannels(node)).toBe(24);
    expect(isPointwise(node)).toBe(true);
    expect(pointwiseShape(node)).toEqual([7, 24]);
  });

  it('takes one input', () => {
    expect(shapeError([2, 2, 1], [fc({ inputs: ['input', 'input'] })])).toBe("model layer 0 ('x'): dense takes 1 input(s), got 2");
  });
});

describe('dense: float reference against TF.js', () => {
  for (const [i, input] of (
    [
      [1, 1, 20],
      [3, 4, 5],
      [2, 2, 64],
    ] as Array<[number, number, number]>
  ).entries()) {
    it(`${input.join('x')} -> 6`, () => {
      const rng = new Rng(300 + i);
      const { node } = nodeAround(input, [fc({ units: 6 })], 'x');
      const N = input[0] * input[1] * input[2];
      const p = randomParams(rng, 6 * N, 6);
      const x = randomArray(rng, N);
      const gy = randomArray(rng, 6);
      // y = W x + b with W [6, N] (ours, row-major): matMul(x [1, N], W^T).
      const run = (xs: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.add(tf.matMul(xs as tf.Tensor2D, w as tf.Tensor2D, false, true), b);
      const tfArgs = (xv: Float32Array, wv: Float32Array, bv: Float32Array) => [tf.tensor2d(xv, [1, N]), tf.tensor2d(wv, [6, N]), tf.tensor1d(bv)];
      const ref = tfForwardBackward(run, tfArgs(x, p.weight, p.bias), gy);
      const size = tfForwardBackward(run, tfArgs(abs(x), abs(p.weight), abs(p.bias)), abs(gy));

      const y = op.float.forward(node, [x], p);
      expectWithinBound(y, ref.y, size.y, N + 1, 'y');
      const g = op.float.backward(node, { x: [x], y, gy, params: p, wantInputGrad: true });
      const [gx, gw, gb] = ref.grads.map(valuesOf);
      const [sx, sw, sb] = size.grads.map(valuesOf);
      expectWithinBound(g.inputs[0]!, gx!, sx!, 6, 'dL/dx');
      expectWithinBound(g.params!.gw, gw!, sw!, 1, 'dL/dw');
      expectWithinBound(g.params!.gb, gb!, sb!, 1, 'dL/db');
      expect(op.float.backward(node, { x: [x], y, gy, params: p, wantInputGrad: false }).inputs).toEqual([null]);
    });
  }
});

describe('dense: backward rule', () => {
  it('emits mask, input, weight and bias gradient steps as the gradient plan asks', () => {
    expectWeightedProgramRule([2, 2, 3], { op: 'dense', name: 'pre', units: 6 }, fc({ units: 4, activation: 'relu' }));
  });
});
