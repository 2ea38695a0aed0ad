/** depthwiseConv2d (compiler/ops/depthwise-conv2d.ts): its shape rule, float reference against TF.js, and backward rule. */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../compiler/autodiff/program.js';
import { isDepthwise, weightShape } from '../../compiler/ir/graph.js';
import type { Conv2dLayer } from '../../compiler/ops/conv2d-layer.js';
import { Rng } from '../../compiler/ir/rng.js';
import { opDef } from '../../compiler/ops/registry.js';
import { splitChannels } from '../../compiler/scheme/scheme.js';
import { expectWeightedProgramRule, nodeAround, randomArray, randomParams, schemeOf, shapeError, stepsOf } from '../support/ops.js';
import { abs, depthwiseFilterFromTf, depthwiseFilterToTf, expectWithinBound, tf, tfForwardBackward, tfPad, useTfCpu, valuesOf } from '../support/ops-float.js';

const op = opDef('depthwiseConv2d');
const dw = (o: Partial<Conv2dLayer>): Conv2dLayer => ({ op: 'conv2d', name: 'x', groups: 'depthwise', filters: 4, kernel: 3, ...o });

beforeAll(useTfCpu);

describe('depthwiseConv2d: shape rule', () => {
  it("a model's conv2d with groups 'depthwise' is this op: one filter per channel", () => {
    const { node } = nodeAround([7, 7, 4], [dw({ stride: 2, padding: 1 })], 'x');
    expect(node.op).toBe('depthwiseConv2d');
    expect(isDepthwise(node)).toBe(true);
    expect(node.outShape).toEqual([4, 4, 4]);
    expect(node.conv).toEqual({ kh: 3, kw: 3, sh: 2, sw: 2, pads: [1, 1, 1, 1] });
    expect(weightShape(node)).toEqual([4, 3, 3, 1]);
    // Its trained channels are its channels (the weights split along their first axis).
    expect(splitChannels(node)).toBe(4);
  });

  it('keeps the channel count; sizes and padding are the conv rule', () => {
    expect(shapeError([6, 6, 3], [dw({ filters: 6 })])).toBe("model layer 0 ('x'): a depthwise conv keeps the channel count: filters must be 3");
    expect(shapeError([2, 2, 4], [dw({ kernel: 3 })])).toBe("model layer 0 ('x'): kernel 3x3 does not fit the 2x2 input");
    expect(shapeError([6, 6, 4], [dw({ kernel: 4, padding: 'same' })])).toBe("model layer 0 ('x'): padding 'same' needs an odd kernel (this one is 4x4)");
    expect(nodeAround([6, 6, 4], [dw({ kernel: 5, padding: 'same' })], 'x').node.outShape).toEqual([6, 6, 4]);
  });
});

describe('depthwiseConv2d: float reference against TF.js', () => {
  const cases: Array<{ input: [number, number, number]; layer: Partial<Conv2dLayer> }> = [
    { input: [8, 8, 8], layer: { kernel: 3, padding: 1 } },
    { input: [9, 7, 13], layer: { kernel: 3, stride: 2, padding: 1 } },
    { input: [10, 10, 6], layer: { kernel: 5, stride: 2, padding: 2 } },
    { input: [6, 5, 16], layer: { kernel: [1, 3], padding: 1 } },
    { input: [10, 8, 5], layer: { kernel: 3, stride: 2, padding: [0, 0, 1, 1] } },
    { input: [5, 5, 3], layer: { kernel: 1 } },
    // per-axis geometry: 3x3 (the SIMD path) with strides [2, 1] and top != left; 10x4 stride 2; [1, 2] strides on H = 1 (a 1-D conv)
    { input: [9, 8, 12], layer: { kernel: 3, stride: [2, 1], padding: [1, 0, 1, 2] } },
    { input: [3, 3, 8], layer: { kernel: 3, stride: [1, 2], padding: [0, 1, 2, 1] } },
    { input: [25, 5, 6], layer: { kernel: [10, 4], stride: 2, padding: [4, 1, 5, 2] } },
    { input: [1, 16, 5], layer: { kernel: [1, 3], stride: [1, 2], padding: [0, 1, 0, 1] } },
  ];
  for (const [i, c] of cases.entries()) {
    it(`${c.input.join('x')} ${JSON.stringify(c.layer)}`, () => {
      const rng = new Rng(200 + i);
      const C = c.input[2];
      const { node } = nodeAround(c.input, [dw({ ...c.layer, filters: C })], 'x');
      const ws = weightShape(node);
      const p = randomParams(
        rng,
        ws.reduce((a, b) => a * b),
        C,
      );
      const x = randomArray(rng, c.input[0] * c.input[1] * C);
      const [OH, OW] = node.outShape;
      const gy = randomArray(rng, OH * OW * C);
      const { sh, sw, pads } = node.conv!;
      const run = (xs: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.add(tf.depthwiseConv2d(xs as tf.Tensor4D, f as tf.Tensor4D, [sh, sw], tfPad(pads)), b);
      const tfArgs = (xv: Float32Array, wv: Float32Array, bv: Float32Array) => [tf.tensor4d(xv, [1, ...c.input]), depthwiseFilterToTf(wv, ws), tf.tensor1d(bv)];
      const ref = tfForwardBackward(run, tfArgs(x, p.weight, p.bias), gy);
      const size = tfForwardBackward(run, tfArgs(abs(x), abs(p.weight), abs(p.bias)), abs(gy));

      const y = op.float.forward(node, [x], p);
      expectWithinBound(y, ref.y, size.y, ws[1] * ws[2] + 1, 'y');
      const g = op.float.backward(node, { x: [x], y, gy, params: p, wantInputGrad: true });
      const [gx, gf, gb] = ref.grads.map((t, k) => (k === 1 ? depthwiseFilterFromTf(t) : valuesOf(t)));
      const [sx, sf, sb] = size.grads.map((t, k) => (k === 1 ? depthwiseFilterFromTf(t) : valuesOf(t)));
      expectWithinBound(g.inputs[0]!, gx!, sx!, ws[1] * ws[2], 'dL/dx');
      expectWithinBound(g.params!.gw, gf!, sf!, OH * OW, 'dL/dw');
      expectWithinBound(g.params!.gb, gb!, sb!, OH * OW, 'dL/db');
      expect(op.float.backward(node, { x: [x], y, gy, params: p, wantInputGrad: false }).inputs).toEqual([null]);
    });
  }
});

describe('depthwiseConv2d: backward rule', () => {
  it('emits mask, input, weight and bias gradient steps as the gradient plan asks', () => {
    expectWeightedProgramRule([6, 6, 4], { op: 'conv2d', name: 'pre', filters: 4, kernel: 1 }, dw({ kernel: 3, padding: 1, activation: 'relu6' }));
  });

  it('a stride-1 same-size frozen depthwise conv computes its input gradient in place (the inPlace pass)', () => {
    const { graph } = nodeAround([6, 6, 4], [{ op: 'conv2d', name: 'pre', filters: 4, kernel: 1 }, dw({ kernel: 3, padding: 1 })], 'x');
    const scheme = schemeOf({ pre: { bias: true } });
    const inPlace = buildProgram(graph, scheme).steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'x');
    expect(inPlace).toMatchObject({ kind: 'inputGrad', inPlace: true, targets: ['pre'] });
    const plain = buildProgram(graph, scheme, { inPlace: false });
    expect(stepsOf(plain, 'x').backward).toEqual(['inputGrad']);
    expect(plain.steps.some((s) => s.kind === 'inputGrad' && s.inPlace)).toBe(false);
  });
});
