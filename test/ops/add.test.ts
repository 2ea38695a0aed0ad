/** add (compiler/ops/add.ts): its shape rule, float reference against TF.js, quantisation and backward rule. */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../compiler/ir/rng.js';
import { opDef } from '../../compiler/ops/registry.js';
import { quantizeAdd, quantizeMultiplier } from '../../compiler/quantize/fixedpoint.js';
import { modelAround, nodeAround, plainProgram, randomArray, schemeOf, shapeError, stepsOf } from '../support/ops.js';
import { expectWithinBound, tf, tfForwardBackward, useTfCpu, valuesOf } from '../support/ops-float.js';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { Layer } from '../../compiler/ir/model.js';

const op = opDef('add');

beforeAll(useTfCpu);

/** a (trainable conv) and b (a conv straight from the input), added with a relu. */
const residual = (inputs: [string, string] = ['a', 'b'], activation: 'relu' | 'none' = 'relu'): Layer[] => [
  { op: 'conv2d', name: 'a', filters: 3, kernel: 3, padding: 1 },
  { op: 'conv2d', name: 'b', inputs: ['input'], filters: 3, kernel: 1 },
  { op: 'add', name: 'x', inputs, activation },
];

describe('add: shape rule', () => {
  it('two inputs of one shape, the same shape out', () => {
    const { node } = nodeAround([4, 4, 2], residual(), 'x');
    expect(node.op).toBe('add');
    expect(node.inShapes).toEqual([
      [4, 4, 3],
      [4, 4, 3],
    ]);
    expect(node.outShape).toEqual([4, 4, 3]);
  });

  it('refuses different shapes', () => {
    const layers: Layer[] = [
      { op: 'conv2d', name: 'a', filters: 3, kernel: 3 },
      { op: 'add', name: 'x', inputs: ['a', 'input'] },
    ];
    expect(shapeError([4, 4, 3], layers)).toBe("model layer 1 ('x'): add needs equal shapes, got [2,2,3] and [4,4,3]");
  });
});

describe('add: float reference against TF.js', () => {
  it('y = a + b; each input gets the output gradient', () => {
    const rng = new Rng(400);
    const { node } = nodeAround([3, 5, 2], residual(), 'x');
    const [a, b, gy] = [randomArray(rng, 45), randomArray(rng, 45), randomArray(rng, 45)];
    const ref = tfForwardBackward((p, q) => tf.add(p, q), [tf.tensor(a), tf.tensor(b)], gy);
    const y = op.float.forward(node, [a, b], undefined);
    // One rounding each side, the same one: equal (the bound with S = |a| + |b| allows 2 ulps).
    expectWithinBound(
      y,
      ref.y,
      Float32Array.from(a, (v, i) => Math.abs(v) + Math.abs(b[i]!)),
      1,
      'y',
    );
    const g = op.float.backward(node, { x: [a, b], y, gy, params: undefined, wantInputGrad: true });
    expect(g.inputs).toEqual(ref.grads.map(valuesOf));
    expect(g.inputs[0]).not.toBe(g.inputs[1]); // add(x, x): network.ts adds one into the other
    expect(op.float.backward(node, { x: [a, b], y, gy, params: undefined, wantInputGrad: false }).inputs).toEqual([null, null]);
  });
});

describe('add: quantisation', () => {
  it("prepares TFLite's three multipliers: each input onto a common grid of twice the larger input scale, the sum onto the output", () => {
    const { node } = nodeAround([2, 2, 1], residual(), 'x');
    const qa = { scale: 0.02, zp: -3 };
    const qb = { scale: 0.05, zp: 10 };
    const qy = { scale: 0.04, zp: -128 };
    expect(op.prepare!(node, [qa, qb], qy)).toEqual(quantizeAdd(0.02, 0.05, 0.04));
    // TFLite's add.cc: input multipliers s / (2 max), output 2 max / (2^20 s_y)
    expect(quantizeAdd(0.02, 0.05, 0.04)).toEqual({ a: quantizeMultiplier(0.2), b: quantizeMultiplier(0.5), out: quantizeMultiplier(0.1 / (2 ** 20 * 0.04)) });
    expect(op.sharesInputQuant).toBeFalsy();
  });
});

describe('add: backward rule', () => {
  const graph = buildGraph(modelAround([4, 4, 2], residual()));
  const all = { bias: true, weightRatio: 1 };

  it("its clamp's mask, then the gradient of each input that needs one", () => {
    const p = plainProgram(graph, schemeOf({ a: all }));
    expect(stepsOf(p, 'x')).toEqual({ forward: ['forward'], backward: ['mask', 'inputGrad'], updates: [] });
    expect(p.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'x')).toMatchObject({ targets: ['a'], accumulate: [false] });
    const both = plainProgram(graph, schemeOf({ a: all, b: all }));
    expect(both.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'x')).toMatchObject({ targets: ['a', 'b'] });
  });

  it('add(x, x): the second contribution accumulates onto the first', () => {
    const self = buildGraph(
      modelAround(
        [4, 4, 2],
        [
          { op: 'conv2d', name: 'a', filters: 3, kernel: 3, padding: 1 },
          { op: 'add', name: 'x', inputs: ['a', 'a'] },
        ],
      ),
    );
    const step = plainProgram(self, schemeOf({ a: all })).steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'x');
    expect(step).toMatchObject({ targets: ['a', 'a'], accumulate: [false, true] });
  });

  it('no activation, no mask; nothing trained below, no backward at all', () => {
    const linear = buildGraph(modelAround([4, 4, 2], residual(['a', 'b'], 'none')));
    expect(stepsOf(plainProgram(linear, schemeOf({ a: all })), 'x').backward).toEqual(['inputGrad']);
    expect(stepsOf(plainProgram(graph, schemeOf({ tail_fc: all })), 'x').backward).toEqual([]);
  });
});
