/** avgpool (compiler/ops/avgpool.ts): its shape rule, float reference against TF.js, quantisation and backward rule. */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { Layer } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import type { AvgpoolLayer } from '../../compiler/ops/avgpool.js';
import type { Pads } from '../../compiler/ops/padding.js';
import { opDef } from '../../compiler/ops/registry.js';
import { quantizeMultiplier } from '../../compiler/quantize/fixedpoint.js';
import { modelAround, nodeAround, plainProgram, randomArray, schemeOf, shapeError, stepsOf } from '../support/ops.js';
import { abs, expectWithinBound, tf, tfForwardBackward, tfPad, useTfCpu, valuesOf } from '../support/ops-float.js';

const op = opDef('avgpool');
const pool = (o: Partial<AvgpoolLayer>): AvgpoolLayer => ({ op: 'avgpool', name: 'x', size: 2, ...o });
/** A size or stride as a layer writes it: both axes, or [rows, columns]. */
type PerAxis = number | [number, number];
const axes = (v: PerAxis): [number, number] => (typeof v === 'number' ? [v, v] : v);

beforeAll(useTfCpu);

describe('avgpool: shape rule', () => {
  it('size x size windows, stride defaulting to the size, no padding', () => {
    const { node } = nodeAround([7, 6, 3], [pool({ size: 2 })], 'x');
    expect(node.op).toBe('avgpool');
    expect(node.pool).toEqual({ ph: 2, pw: 2, sh: 2, sw: 2, pads: [0, 0, 0, 0] });
    expect(node.outShape).toEqual([3, 3, 3]);
    expect(nodeAround([7, 6, 3], [pool({ size: 3, stride: 1 })], 'x').node.outShape).toEqual([5, 4, 3]);
  });

  it("padding 'same' (TF's split, the smaller half before) or per side; countIncludePad kept on the node", () => {
    const same = nodeAround([7, 6, 3], [pool({ size: 3, stride: 2, padding: 'same' })], 'x').node;
    expect(same.outShape).toEqual([4, 3, 3]);
    expect(same.pool).toEqual({ ph: 3, pw: 3, sh: 2, sw: 2, pads: [1, 0, 1, 1] });
    const sides = nodeAround([5, 5, 1], [pool({ size: 3, stride: 1, padding: [1, 2, 0, 1], countIncludePad: true })], 'x').node;
    expect(sides.outShape).toEqual([4, 6, 1]);
    expect(sides.pool).toEqual({ ph: 3, pw: 3, sh: 1, sw: 1, pads: [1, 2, 0, 1], countIncludePad: true });
  });

  it('per-axis windows and strides [PH, PW], [SH, SW] (the stride defaulting to the size per axis), same per axis', () => {
    const col = nodeAround([42, 1, 16], [pool({ size: [3, 1] })], 'x').node;
    expect(col.pool).toEqual({ ph: 3, pw: 1, sh: 3, sw: 1, pads: [0, 0, 0, 0] });
    expect(col.outShape).toEqual([14, 1, 16]);
    // Rows: ceil(7 / 2) = 4 outputs pad 2 (1 above); columns: 6 outputs pad 1 (after).
    const same = nodeAround([7, 6, 3], [pool({ size: [3, 2], stride: [2, 1], padding: 'same' })], 'x').node;
    expect(same.pool).toEqual({ ph: 3, pw: 2, sh: 2, sw: 1, pads: [1, 0, 1, 1] });
    expect(same.outShape).toEqual([4, 6, 3]);
    expect(shapeError([3, 5, 1], [pool({ size: [2, 6] })])).toBe("model layer 0 ('x'): pool 2x6 is larger than the 3x5 input");
  });

  it('refuses a window larger than the input, and padding a window could lie wholly in', () => {
    expect(shapeError([3, 5, 1], [pool({ size: 4 })])).toBe("model layer 0 ('x'): pool 4 is larger than the 3x5 input");
    expect(shapeError([5, 5, 1], [pool({ size: 2, padding: [0, 0, 0, 2] })])).toBe("model layer 0 ('x'): padding [0, 0, 0, 2] is not less than the 2x2 window on every side");
  });
});

/**
 * TF.js's average pool of x [H, W, C] padded per side: 'valid' pools the zero-padded
 * input (count_include_pad); otherwise the sums over the windows divide by the count of
 * inputs in each, the same pool over a padded tensor of ones (TF's 'same' rule).
 */
function tfAvgPool(input: [number, number, number], size: PerAxis, stride: PerAxis, pads: Pads, includePad: boolean) {
  const [k, s] = [axes(size), axes(stride)];
  return (t: tf.Tensor) => {
    const padded = tf.pad(t as tf.Tensor4D, tfPad(pads));
    const mean = tf.avgPool(padded, k, s, 'valid');
    if (includePad) return mean;
    const ones = tf.pad(tf.ones([1, ...input]) as tf.Tensor4D, tfPad(pads));
    return tf.div(mean, tf.avgPool(ones, k, s, 'valid'));
  };
}

describe('avgpool: float reference against TF.js', () => {
  const cases: Array<{ input: [number, number, number]; size: PerAxis; stride: PerAxis; padding?: AvgpoolLayer['padding']; countIncludePad?: boolean }> = [
    { input: [6, 6, 3], size: 2, stride: 2 },
    { input: [7, 5, 4], size: 3, stride: 2 },
    { input: [5, 5, 2], size: 2, stride: 1 },
    { input: [7, 6, 3], size: 3, stride: 2, padding: 'same' },
    { input: [6, 5, 2], size: 3, stride: 1, padding: [1, 2, 0, 1] },
    { input: [6, 5, 2], size: 3, stride: 1, padding: [1, 2, 0, 1], countIncludePad: true },
    // Per axis: a 3x1 window, unequal strides, 'same' per axis, per-side pads on a non-square window.
    { input: [12, 3, 4], size: [3, 1], stride: [3, 1] },
    { input: [9, 8, 2], size: [2, 3], stride: [1, 2] },
    { input: [7, 6, 3], size: [3, 2], stride: [2, 1], padding: 'same' },
    { input: [7, 9, 3], size: [3, 2], stride: [2, 3], padding: [1, 0, 2, 1] },
    { input: [7, 9, 3], size: [3, 2], stride: [2, 3], padding: [1, 0, 2, 1], countIncludePad: true },
  ];
  for (const [i, c] of cases.entries()) {
    it(`${c.input.join('x')} size ${axes(c.size).join('x')} stride ${axes(c.stride).join('x')} ${JSON.stringify(c.padding ?? 'valid')}${c.countIncludePad ? ' count_include_pad' : ''}`, () => {
      const rng = new Rng(500 + i);
      const { node } = nodeAround(c.input, [pool({ size: c.size, stride: c.stride, padding: c.padding, countIncludePad: c.countIncludePad })], 'x');
      const x = randomArray(rng, c.input[0] * c.input[1] * c.input[2]);
      const gy = randomArray(rng, node.outShape[0] * node.outShape[1] * node.outShape[2]);
      const run = tfAvgPool(c.input, c.size, c.stride, node.pool!.pads, c.countIncludePad === true);
      const ref = tfForwardBackward(run, [tf.tensor4d(x, [1, ...c.input])], gy);
      const size = tfForwardBackward(run, [tf.tensor4d(abs(x), [1, ...c.input])], abs(gy));
      const y = op.float.forward(node, [x], undefined);
      // Terms: the window's PH * PW sum, one division (and TF.js's second division by the count).
      const terms = axes(c.size)[0] * axes(c.size)[1] + 2;
      expectWithinBound(y, ref.y, size.y, terms, 'y');
      const g = op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: true });
      expectWithinBound(g.inputs[0]!, valuesOf(ref.grads[0]!), valuesOf(size.grads[0]!), terms, 'dL/dx');
      expect(op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: false }).inputs).toEqual([null]);
    });
  }
});

describe('avgpool: quantisation', () => {
  it("prepares the rescale of a window's sum: s_in / (s_out * PH * PW)", () => {
    const { node } = nodeAround([6, 6, 1], [pool({ size: 3 })], 'x');
    expect(op.prepare!(node, [{ scale: 0.1, zp: 0 }], { scale: 0.05, zp: 3 })).toEqual({ m: quantizeMultiplier(0.1 / (0.05 * 9)) });
    const col = nodeAround([6, 6, 1], [pool({ size: [3, 1] })], 'x').node;
    expect(op.prepare!(col, [{ scale: 0.1, zp: 0 }], { scale: 0.05, zp: 3 })).toEqual({ m: quantizeMultiplier(0.1 / (0.05 * 3)) });
    expect(op.constants!({ m: quantizeMultiplier(1) })).toEqual([]);
  });

  it('a padded pool dividing by its valid taps: a table of the rescale of k inputs, k = 1 .. size^2 (count_include_pad: none)', () => {
    const { node } = nodeAround([6, 6, 1], [pool({ size: 2, stride: 1, padding: 'same' })], 'x');
    const d = op.prepare!(node, [{ scale: 0.1, zp: 0 }], { scale: 0.05, zp: 3 });
    const at = (k: number) => quantizeMultiplier(0.1 / (0.05 * k));
    expect(Array.from(d.byCount!)).toEqual([1, 2, 3, 4].flatMap((k) => [at(k).m, at(k).n]));
    expect(op.constants!(d)).toEqual([d.byCount]);
    const include = nodeAround([6, 6, 1], [pool({ size: 2, stride: 1, padding: 'same', countIncludePad: true })], 'x').node;
    expect(op.prepare!(include, [{ scale: 0.1, zp: 0 }], { scale: 0.05, zp: 3 }).byCount).toBeUndefined();
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
