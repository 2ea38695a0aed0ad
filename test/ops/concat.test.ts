/**
 * concat (compiler/ops/concat.ts): its shape rule and arity, the float reference against
 * TF.js (forward and gradient), the int8 rescale against the float values, the kernels
 * (assembly/kernels/concat.ts, SIMD and scalar builds) against the exact reference, the
 * backward rule, and a Fire-module CNN trained end to end.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { Layer } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import { CONCAT_BACKWARD_KERNEL, CONCAT_FORWARD_KERNEL } from '../../compiler/ops/concat-kernels.js';
import type { ConcatPart } from '../../compiler/ops/concat.js';
import { opDef } from '../../compiler/ops/registry.js';
import { quantizeMultiplier, requantize } from '../../compiler/quantize/fixedpoint.js';
import { chooseQParams, type QTensor } from '../../compiler/quantize/quantize.js';
import { loadKernels, type KernelModule } from '../support/kernel-module.js';
import { modelAround, nodeAround, plainProgram, randomArray, schemeOf, shapeError, stepsOf } from '../support/ops.js';
import { describeTrainsEndToEnd } from '../support/ops-e2e.js';
import { tf, tfForwardBackward, useTfCpu, valuesOf } from '../support/ops-float.js';

const op = opDef('concat');

beforeAll(useTfCpu);

const conv = (name: string, filters: number, from = 'input', kernel = 1): Layer => ({ op: 'conv2d', name, inputs: [from], filters, kernel, padding: (kernel - 1) / 2 });
/** Three branches of 2, 3 and 1 channels from the input, joined. */
const branches = (inputs = ['a', 'b', 'c']): Layer[] => [conv('a', 2), conv('b', 3, 'input', 3), conv('c', 1), { op: 'concat', name: 'y', inputs }];

describe('concat: shape rule', () => {
  it('inputs of one height and width; their channels summed, in input order', () => {
    const { node } = nodeAround([4, 5, 2], branches(), 'y');
    expect(node.op).toBe('concat');
    expect(node.outShape).toEqual([4, 5, 6]);
    expect(nodeAround([4, 5, 2], branches(['a', 'b', 'c', 'a', 'input']), 'y').node.outShape).toEqual([4, 5, 10]);
  });

  it('refuses other heights or widths, one input, more than 8', () => {
    const strided: Layer = { op: 'conv2d', name: 's', inputs: ['input'], filters: 2, kernel: 1, stride: 2 };
    expect(shapeError([4, 4, 2], [strided, { op: 'concat', name: 'y', inputs: ['input', 's'] }])).toBe(
      "model layer 1 ('y'): concat joins channels of tensors of one height and width, got [4,4,2] and [2,2,2]",
    );
    expect(shapeError([4, 4, 2], [{ op: 'concat', name: 'y', inputs: ['input'] }])).toBe("model layer 0 ('y'): concat takes 2 to 8 inputs, got 1");
    expect(shapeError([4, 4, 2], [{ op: 'concat', name: 'y', inputs: Array<string>(9).fill('input') }])).toBe("model layer 0 ('y'): concat takes 2 to 8 inputs, got 9");
  });
});

describe('concat: float reference against TF.js', () => {
  it('y = the inputs` channels in order; each input`s gradient its channels of gy (concat(a, a): both slices)', () => {
    const rng = new Rng(1660);
    const { node } = nodeAround([3, 4, 2], branches(), 'y');
    const [a, b, c, gy] = [randomArray(rng, 24), randomArray(rng, 36), randomArray(rng, 12), randomArray(rng, 72)];
    const ref = tfForwardBackward((p, q, r) => tf.concat([p, q, r], 2), [tf.tensor(a, [3, 4, 2]), tf.tensor(b, [3, 4, 3]), tf.tensor(c, [3, 4, 1])], gy);
    const y = op.float.forward(node, [a, b, c], undefined);
    expect(Array.from(y)).toEqual(Array.from(ref.y));
    const g = op.float.backward(node, { x: [a, b, c], y, gy, params: undefined, wantInputGrad: true });
    expect(g.inputs.map((t) => Array.from(t!))).toEqual(ref.grads.map((t) => Array.from(valuesOf(t))));
    expect(op.float.backward(node, { x: [a, b, c], y, gy, params: undefined, wantInputGrad: false }).inputs).toEqual([null, null, null]);
  });
});

describe('concat: quantisation', () => {
  it('an input on the output`s grid is copied; another is rescaled by s_x / s_y, within half an output step plus the double rounding`s 2^-(n-30)', () => {
    const { node } = nodeAround([2, 2, 1], branches(), 'y');
    const qy = chooseQParams(-3, 5);
    const qa = { ...qy };
    const qb = chooseQParams(-1, 1);
    const qc = chooseQParams(0, 5);
    const parts = op.prepare!(node, [qa, qb, qc], qy) as ConcatPart[];
    expect(parts.map((p) => p.copy)).toEqual([true, false, false]);
    expect(parts[1]).toMatchObject(quantizeMultiplier(qb.scale / qy.scale));
    for (const [q, p] of [
      [qb, parts[1]!],
      [qc, parts[2]!],
    ] as const) {
      for (let v = -128; v < 128; v++) {
        const yv = requantize(v - q.zp, p, qy.zp, -128, 127);
        expect(Math.abs((yv - qy.zp) * qy.scale - (v - q.zp) * q.scale)).toBeLessThanOrEqual(qy.scale * (0.5 + (p.n > 31 ? 2 ** -(p.n - 30) : 0) + 1e-6));
      }
    }
  });
});

describe.each([true, false])('concat kernels (simd %s) against the exact reference', (simd) => {
  let k: KernelModule;
  beforeAll(async () => {
    k = await loadKernels({ simd });
  }, 180_000);

  it('forward: each input into its channels, copied or rescaled; backward: its slice, overwrite and accumulate', () => {
    const qy: QTensor = { scale: 0.05, zp: -7 };
    for (const [P, Cs] of [
      [1, [1, 1]],
      [3, [2, 5, 1]],
      [7, [16, 17]],
      [4, [3, 3, 3, 3, 3, 3, 3, 3]],
    ] as const) {
      k.reset();
      const rng = new Rng(1670 + P);
      const CO = Cs.reduce((s, c) => s + c, 0);
      const yp = k.allocFilled(P * CO, 0x55);
      const want = new Int8Array(P * CO);
      const gy = randomArray(rng, P * CO);
      const gyp = k.f32(gy);
      let offset = 0;
      for (const [i, C] of Cs.entries()) {
        const q: QTensor = i % 2 === 0 ? qy : { scale: 0.02 + 0.01 * i, zp: 3 * i - 10 };
        const copy = q === qy;
        const m = quantizeMultiplier(q.scale / qy.scale);
        const x = Int8Array.from({ length: P * C }, () => (rng.nextU32() % 256) - 128);
        for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) want[p * CO + offset + c] = copy ? x[p * C + c]! : requantize(x[p * C + c]! - q.zp, m, qy.zp, -128, 127);
        k.kernel(CONCAT_FORWARD_KERNEL)({ x: k.i8(x), zx: q.zp, copy, m: m.m, n: m.n, y: yp, zy: qy.zp, P, C, CO, offset });
        // Backward: this input's slice, then added again onto it (a tensor joined twice).
        const slice = Float32Array.from({ length: P * C }, (_, j) => gy[Math.floor(j / C) * CO + offset + (j % C)]!);
        const gxp = k.f32(new Float32Array(P * C).fill(NaN));
        k.kernel(CONCAT_BACKWARD_KERNEL)({ gy: gyp, gx: gxp, P, C, CO, offset, accumulate: false });
        expect(Array.from(k.readF32(gxp, P * C)), `gx ${P} ${C}`).toEqual(Array.from(slice));
        k.kernel(CONCAT_BACKWARD_KERNEL)({ gy: gyp, gx: gxp, P, C, CO, offset, accumulate: true });
        expect(Array.from(k.readF32(gxp, P * C)), `gx accumulated ${P} ${C}`).toEqual(Array.from(slice, (v) => Math.fround(v + v)));
        offset += C;
      }
      expect(Array.from(k.readI8(yp, P * CO)), `y ${P} [${Cs}]`).toEqual(Array.from(want));
    }
  });
});

describe('concat: backward rule', () => {
  const all = { bias: true, weightRatio: 1 };

  it('the gradient of each input that needs one, reading nothing of forward; concat(a, a) accumulates', () => {
    const graph = buildGraph(modelAround([4, 4, 2], branches()));
    const p = plainProgram(graph, schemeOf({ a: all, c: all }));
    expect(stepsOf(p, 'y')).toEqual({ forward: ['forward'], backward: ['inputGrad'], updates: [] });
    expect(p.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'y')).toMatchObject({ targets: ['a', 'c'], reads: ['grad:y'] });
    const twice = buildGraph(modelAround([4, 4, 2], branches(['a', 'b', 'c', 'a'])));
    expect(plainProgram(twice, schemeOf({ a: all })).steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'y')).toMatchObject({
      targets: ['a', 'a'],
      accumulate: [false, true],
    });
    expect(stepsOf(plainProgram(graph, schemeOf({ tail_fc: all })), 'y').backward).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// End to end

/**
 * sha256 of the end-to-end case's checkpoint (below): recorded when the op was added; a change means training changed.
 * Re-recorded when requantisation became TFLite's (two roundings; its int8 ADD and AVERAGE_POOL_2D
 * arithmetic), which changes the trained bytes of every int8 model.
 */
const E2E_CHECKPOINT_SHA256 = '12f6e895de5b68369e2ff496ccf0c2077d0c6c55bb85325254dc012e9532c78a';

describeTrainsEndToEnd({
  title: 'concat: a Fire-module CNN trains end to end',
  kernels: 'concat',
  net: 'Fire CNN',
  spec: {
    format: 'tinytrain-model@1',
    name: 'fire-cnn',
    input: [28, 28, 1],
    inputRange: [0, 1],
    seed: 8,
    layers: [
      { op: 'conv2d', name: 'c1', filters: 8, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
      { op: 'conv2d', name: 'squeeze', filters: 4, kernel: 1, activation: 'relu' },
      { op: 'conv2d', name: 'e1', inputs: ['squeeze'], filters: 6, kernel: 1, activation: 'relu' },
      { op: 'conv2d', name: 'e3', inputs: ['squeeze'], filters: 6, kernel: 3, padding: 1, activation: 'relu' },
      { op: 'concat', name: 'fire', inputs: ['e1', 'e3', 'c1'] },
      { op: 'conv2d', name: 'c2', filters: 16, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
      { op: 'conv2d', name: 'c3', filters: 16, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
      { op: 'flatten', name: 'flat' },
      { op: 'dense', name: 'fc', units: 10 },
    ],
  },
  pretrainSteps: 600,
  calls: [/(concatForwardS8\(\d+\); ){3}\/\/ n4_concat/, /(concatBackwardF32\(\d+\); ){3}\/\/ n4_concat/],
  // Measured: pretrain 0.748, loss 2.294 -> 1.674; the bounds leave room for numeric changes.
  minPretrainAccuracy: 0.6,
  lossRatio: 0.85,
  checkpointSha256: E2E_CHECKPOINT_SHA256,
});
