/** conv2d (compiler/ops/conv2d.ts): its shape rule, float reference against TF.js, and backward rule. */
import { beforeAll, describe, expect, it } from 'vitest';
import { weightShape } from '../../compiler/ir/graph.js';
import type { Conv2dLayer } from '../../compiler/ops/conv2d-layer.js';
import { Rng } from '../../compiler/ir/rng.js';
import { opDef } from '../../compiler/ops/registry.js';
import { expectWeightedProgramRule, nodeAround, randomArray, randomParams, shapeError } from '../support/ops.js';
import { abs, convFilterFromTf, convFilterToTf, expectWithinBound, tf, tfForwardBackward, tfPad, useTfCpu, valuesOf } from '../support/ops-float.js';

const op = opDef('conv2d');
const conv = (o: Partial<Conv2dLayer>): Conv2dLayer => ({ op: 'conv2d', name: 'x', filters: 4, kernel: 3, ...o });

beforeAll(useTfCpu);

describe('conv2d: shape rule', () => {
  it('output size from kernel, stride and padding', () => {
    const { node } = nodeAround([7, 5, 3], [conv({ kernel: [3, 2], stride: 2, padding: 1 })], 'x');
    expect(node.op).toBe('conv2d');
    expect(node.outShape).toEqual([4, 3, 4]); // floor((7 + 2 - 3) / 2) + 1, floor((5 + 2 - 2) / 2) + 1
    expect(node.conv).toEqual({ kh: 3, kw: 2, sh: 2, sw: 2, pads: [1, 1, 1, 1] });
    expect(weightShape(node)).toEqual([4, 3, 2, 3]);
  });

  it("'same' keeps the size at stride 1, 'valid' (the default) pads nothing", () => {
    expect(nodeAround([6, 6, 2], [conv({ kernel: 5, padding: 'same' })], 'x').node.conv!.pads).toEqual([2, 2, 2, 2]);
    expect(nodeAround([6, 6, 2], [conv({ kernel: 5, padding: 'same' })], 'x').node.outShape).toEqual([6, 6, 4]);
    expect(nodeAround([6, 6, 2], [conv({ kernel: 5, padding: 'valid' })], 'x').node.outShape).toEqual([2, 2, 4]);
    expect(nodeAround([6, 6, 2], [conv({ kernel: 5 })], 'x').node.outShape).toEqual([2, 2, 4]);
  });

  it('per side [top, left, bottom, right]: the trailing pads only add outputs (TFLite SAME at stride 2 on an even size)', () => {
    const { node } = nodeAround([8, 6, 2], [conv({ kernel: 3, stride: 2, padding: [0, 0, 1, 1] })], 'x');
    expect(node.conv!.pads).toEqual([0, 0, 1, 1]);
    expect(node.outShape).toEqual([4, 3, 4]); // floor((8 + 1 - 3) / 2) + 1, floor((6 + 1 - 3) / 2) + 1
    expect(nodeAround([5, 5, 2], [conv({ kernel: 3, padding: [1, 1, 3, 0] })], 'x').node.outShape).toEqual([7, 4, 4]);
  });

  it('per-axis kernels, strides and leading pads: [KH, KW], [SH, SW], top != left', () => {
    const { node } = nodeAround([49, 10, 1], [conv({ kernel: [10, 4], stride: [2, 2], padding: [4, 1, 5, 2] })], 'x');
    expect(node.conv).toMatchObject({ kh: 10, kw: 4, sh: 2, sw: 2, pads: [4, 1, 5, 2] });
    expect(node.outShape).toEqual([25, 5, 4]); // floor((49 + 9 - 10) / 2) + 1, floor((10 + 3 - 4) / 2) + 1
    expect(nodeAround([8, 8, 1], [conv({ kernel: 3, stride: [2, 1], padding: [1, 0, 1, 0] })], 'x').node.outShape).toEqual([4, 6, 4]);
    expect(nodeAround([6, 6, 2], [conv({ kernel: [3, 5], padding: 'same' })], 'x').node.conv!.pads).toEqual([1, 2, 1, 2]);
    expect(shapeError([6, 6, 2], [conv({ kernel: [3, 4], padding: 'same' })])).toMatch(/padding 'same' needs an odd kernel \(this one is 3x4\)/);
  });

  it('a conv2d layer without groups, or with groups 1, is this op', () => {
    expect(nodeAround([4, 4, 2], [conv({ groups: 1 })], 'x').node.op).toBe('conv2d');
  });

  it('refuses a kernel that does not fit, an even kernel with same padding, two inputs', () => {
    expect(shapeError([4, 4, 1], [conv({ kernel: 5 })])).toBe("model layer 0 ('x'): kernel 5x5 does not fit the 4x4 input");
    expect(shapeError([4, 6, 1], [conv({ kernel: [5, 2], stride: 3 })])).toBe("model layer 0 ('x'): kernel 5x2 does not fit the 4x6 input");
    expect(shapeError([8, 8, 1], [conv({ kernel: 2, padding: 'same' })])).toBe("model layer 0 ('x'): padding 'same' needs an odd kernel (this one is 2x2)");
    expect(shapeError([8, 8, 1], [conv({ inputs: ['input', 'input'] })])).toBe("model layer 0 ('x'): conv2d takes 1 input(s), got 2");
  });
});

describe('conv2d: float reference against TF.js', () => {
  const cases: Array<{ input: [number, number, number]; layer: Partial<Conv2dLayer> }> = [
    { input: [6, 6, 3], layer: { filters: 4, kernel: 3, padding: 1 } },
    { input: [7, 5, 8], layer: { filters: 5, kernel: 3, stride: 2, padding: 1 } },
    { input: [5, 6, 16], layer: { filters: 9, kernel: 1 } },
    { input: [8, 8, 5], layer: { filters: 6, kernel: 5, stride: 2, padding: 2 } },
    { input: [6, 7, 4], layer: { filters: 7, kernel: [3, 1], padding: 1 } },
    { input: [9, 9, 2], layer: { filters: 3, kernel: [1, 5], stride: 3, padding: 0 } },
    { input: [8, 6, 3], layer: { filters: 4, kernel: 3, stride: 2, padding: [0, 0, 1, 1] } },
    { input: [5, 7, 2], layer: { filters: 3, kernel: [3, 2], padding: [1, 1, 2, 0] } },
    // per-axis geometry: DS-CNN's first conv (10x4, stride 2, SAME pads 4/5 rows and 1/2 columns on a 49x10 MFCC),
    // strides [2, 1] (the rapidocr direction classifier), leading pads top != left, a 1-D conv as H = 1
    { input: [49, 10, 1], layer: { filters: 4, kernel: [10, 4], stride: 2, padding: [4, 1, 5, 2] } },
    { input: [9, 8, 3], layer: { filters: 5, kernel: 3, stride: [2, 1], padding: [1, 0, 1, 2] } },
    { input: [7, 9, 2], layer: { filters: 3, kernel: [2, 3], stride: [1, 3], padding: [0, 2, 1, 0] } },
    { input: [1, 20, 3], layer: { filters: 4, kernel: [1, 5], stride: [1, 2], padding: [0, 2, 0, 2] } },
  ];
  for (const [i, c] of cases.entries()) {
    it(`${c.input.join('x')} ${JSON.stringify(c.layer)}`, () => {
      const rng = new Rng(100 + i);
      const { node } = nodeAround(c.input, [conv(c.layer)], 'x');
      const ws = weightShape(node);
      const p = randomParams(
        rng,
        ws.reduce((a, b) => a * b),
        node.outShape[2],
      );
      const x = randomArray(rng, c.input[0] * c.input[1] * c.input[2]);
      const [OH, OW, CO] = node.outShape;
      const gy = randomArray(rng, OH * OW * CO);
      const { sh, sw, pads } = node.conv!;
      const run = (xs: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.add(tf.conv2d(xs as tf.Tensor4D, f as tf.Tensor4D, [sh, sw], tfPad(pads)), b);
      const tfArgs = (xv: Float32Array, wv: Float32Array, bv: Float32Array) => [tf.tensor4d(xv, [1, ...c.input]), convFilterToTf(wv, ws), tf.tensor1d(bv)];
      const ref = tfForwardBackward(run, tfArgs(x, p.weight, p.bias), gy);
      const size = tfForwardBackward(run, tfArgs(abs(x), abs(p.weight), abs(p.bias)), abs(gy));

      const y = op.float.forward(node, [x], p);
      expectWithinBound(y, ref.y, size.y, ws[1] * ws[2] * ws[3] + 1, 'y');
      const g = op.float.backward(node, { x: [x], y, gy, params: p, wantInputGrad: true });
      const [gx, gf, gb] = ref.grads.map((t, k) => (k === 1 ? convFilterFromTf(t) : valuesOf(t)));
      const [sx, sf, sb] = size.grads.map((t, k) => (k === 1 ? convFilterFromTf(t) : valuesOf(t)));
      expectWithinBound(g.inputs[0]!, gx!, sx!, ws[0] * ws[1] * ws[2], 'dL/dx');
      expectWithinBound(g.params!.gw, gf!, sf!, OH * OW, 'dL/dw');
      expectWithinBound(g.params!.gb, gb!, sb!, OH * OW, 'dL/db');
      // No input gradient when none is wanted; the parameter gradients stay the same.
      const noInput = op.float.backward(node, { x: [x], y, gy, params: p, wantInputGrad: false });
      expect(noInput.inputs).toEqual([null]);
      expect(noInput.params).toEqual(g.params);
    });
  }
});

describe('conv2d: backward rule', () => {
  it('emits mask, input, weight and bias gradient steps as the gradient plan asks', () => {
    expectWeightedProgramRule([6, 6, 2], { op: 'conv2d', name: 'pre', filters: 4, kernel: 3, padding: 1 }, conv({ filters: 3, kernel: 3, stride: 2, activation: 'relu' }));
  });
});
