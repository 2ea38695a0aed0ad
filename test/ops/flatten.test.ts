/** flatten (compiler/ops/flatten.ts): its shape rule, float reference, and its backward rule (none: a view). */
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../compiler/autodiff/program.js';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { Layer } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import { opDef } from '../../compiler/ops/registry.js';
import { fullScheme } from '../../compiler/scheme/scheme.js';
import { modelAround, nodeAround, randomArray } from '../support/ops.js';

const op = opDef('flatten');
const layers: Layer[] = [
  { op: 'conv2d', name: 'pre', filters: 2, kernel: 3, padding: 1 },
  { op: 'flatten', name: 'x' },
  { op: 'dense', name: 'fc', units: 3 },
];

describe('flatten: shape rule', () => {
  it('[H, W, C] -> [1, 1, H*W*C]', () => {
    const { node } = nodeAround([3, 4, 5], [{ op: 'flatten', name: 'x' }], 'x');
    expect(node.outShape).toEqual([1, 1, 60]);
    expect(op.view).toBe(true);
  });
});

describe('flatten: float reference', () => {
  it('the values themselves (HWC order is already flat); the gradient likewise, as a copy', () => {
    const { node } = nodeAround([2, 2, 3], [{ op: 'flatten', name: 'x' }], 'x');
    const x = randomArray(new Rng(800), 12);
    expect(op.float.forward(node, [x], undefined)).toBe(x);
    const gy = randomArray(new Rng(801), 12);
    const [gx] = op.float.backward(node, { x: [x], y: x, gy, params: undefined, wantInputGrad: true }).inputs;
    expect(gx).toEqual(gy);
    expect(gx).not.toBe(gy);
  });
});

describe('flatten: backward rule', () => {
  it('no step at all, forward or backward: its tensor is a view of its input (one buffer, one gradient)', () => {
    const graph = buildGraph(modelAround([4, 4, 1], layers));
    for (const opts of [{}, { prune: false, reorder: false, bitMasks: false, stream: false, inPlace: false }]) {
      const p = buildProgram(graph, fullScheme(graph), opts);
      expect(p.steps.some((s) => 'node' in s && s.node.name === 'x')).toBe(false);
      expect(p.alias.get('x')).toBe('pre');
      expect(p.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'fc')).toMatchObject({ targets: ['pre'] });
    }
  });
});
