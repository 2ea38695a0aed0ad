/**
 * padchannels (compiler/ops/pad-channels.ts): its shape rule, the float reference against
 * TF.js (tf.pad on the channel axis, forward and gradient), the int8 rescale, the kernel
 * (assembly/kernels/pad-channels.ts, SIMD and scalar builds) against the exact reference,
 * the backward rule, and a BlazeFace-style CNN (a padded shortcut added to a wider conv
 * branch) trained end to end.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { Layer } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import type { ConcatPart } from '../../compiler/ops/concat.js';
import { CONCAT_BACKWARD_KERNEL } from '../../compiler/ops/concat-kernels.js';
import { PAD_CHANNELS_FORWARD_KERNEL } from '../../compiler/ops/pad-channels-kernels.js';
import { opDef } from '../../compiler/ops/registry.js';
import { quantizeMultiplier, requantize } from '../../compiler/quantize/fixedpoint.js';
import { chooseQParams, type QTensor } from '../../compiler/quantize/quantize.js';
import { loadKernels, type KernelModule } from '../support/kernel-module.js';
import { modelAround, nodeAround, plainProgram, randomArray, schemeOf, shapeError, stepsOf } from '../support/ops.js';
import { describeTrainsEndToEnd } from '../support/ops-e2e.js';
import { tf, tfForwardBackward, useTfCpu, valuesOf } from '../support/ops-float.js';

const op = opDef('padchannels');

beforeAll(useTfCpu);

const convA: Layer = { op: 'conv2d', name: 'a', filters: 3, kernel: 1 };
const padded = (after: number): Layer[] => [convA, { op: 'padchannels', name: 'y', after }];

describe('padchannels: shape rule', () => {
  it('[H, W, C] -> [H, W, C + after]', () => {
    expect(nodeAround([4, 5, 2], padded(4), 'y').node.outShape).toEqual([4, 5, 7]);
    expect(nodeAround([4, 5, 2], padded(4), 'y').node.op).toBe('padchannels');
  });

  it('refuses no channels to add, and two inputs', () => {
    expect(shapeError([4, 4, 2], padded(0))).toMatch(/layers\[1\]\.after \(layer "y"\): expected a positive integer/);
    expect(shapeError([4, 4, 2], [convA, { op: 'padchannels', name: 'y', inputs: ['a', 'input'], after: 1 }])).toBe("model layer 1 ('y'): padchannels takes 1 input(s), got 2");
  });
});

describe('padchannels: float reference against TF.js', () => {
  it('y = x then zero channels (tf.pad); the gradient is gy`s first C channels', () => {
    const rng = new Rng(1710);
    const { node } = nodeAround([3, 4, 2], padded(5), 'y');
    const [x, gy] = [randomArray(rng, 36), randomArray(rng, 96)];
    const ref = tfForwardBackward(
      (t) =>
        tf.pad(t as tf.Tensor3D, [
          [0, 0],
          [0, 0],
          [0, 5],
        ]),
      [tf.tensor(x, [3, 4, 3])],
      gy,
    );
    const y = op.float.forward(node, [x], undefined);
    expect(Array.from(y)).toEqual(Array.from(ref.y));
    const g = op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: true });
    expect(Array.from(g.inputs[0]!)).toEqual(Array.from(valuesOf(ref.grads[0]!)));
    expect(op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: false }).inputs).toEqual([null]);
  });
});

describe('padchannels: quantisation', () => {
  it('an input on the output`s grid is copied; another is rescaled by s_x / s_y', () => {
    const { node } = nodeAround([2, 2, 1], padded(2), 'y');
    const qy = chooseQParams(-3, 5);
    expect((op.prepare!(node, [{ ...qy }], qy) as ConcatPart).copy).toBe(true);
    const qx = chooseQParams(-1, 1);
    expect(op.prepare!(node, [qx], qy)).toMatchObject({ copy: false, ...quantizeMultiplier(qx.scale / qy.scale) });
  });
});

describe.each([true, false])('padchannels kernel (simd %s) against the exact reference', (simd) => {
  let k: KernelModule;
  beforeAll(async () => {
    k = await loadKernels({ simd });
  }, 180_000);

  it('forward: the input copied or rescaled, then the zero point; backward: the first C channels of gy', () => {
    const qy: QTensor = { scale: 0.05, zp: -7 };
    for (const [P, C, after, q] of [
      [1, 1, 1, qy],
      [3, 2, 5, { scale: 0.03, zp: 4 }],
      [7, 16, 17, qy],
      [5, 24, 4, { scale: 0.08, zp: -20 }],
    ] as const) {
      k.reset();
      const rng = new Rng(1720 + P);
      const CO = C + after;
      const copy = q === qy;
      const m = quantizeMultiplier(q.scale / qy.scale);
      const x = Int8Array.from({ length: P * C }, () => (rng.nextU32() % 256) - 128);
      const want = Int8Array.from({ length: P * CO }, (_, i) => {
        const [p, c] = [Math.floor(i / CO), i % CO];
        if (c >= C) return qy.zp;
        return copy ? x[p * C + c]! : requantize(x[p * C + c]! - q.zp, m, qy.zp, -128, 127);
      });
      const yp = k.allocFilled(P * CO, 0x55);
      k.kernel(PAD_CHANNELS_FORWARD_KERNEL)({ x: k.i8(x), zx: q.zp, copy, m: m.m, n: m.n, y: yp, zy: qy.zp, P, C, CO });
      expect(Array.from(k.readI8(yp, P * CO)), `y ${P} ${C} +${after}`).toEqual(Array.from(want));
      const gy = randomArray(rng, P * CO);
      const gxp = k.f32(new Float32Array(P * C).fill(NaN));
      k.kernel(CONCAT_BACKWARD_KERNEL)({ gy: k.f32(gy), gx: gxp, P, C, CO, offset: 0, accumulate: false });
      expect(Array.from(k.readF32(gxp, P * C))).toEqual(Array.from({ length: P * C }, (_, j) => gy[Math.floor(j / C) * CO + (j % C)]!));
    }
  });
});

describe('padchannels: backward rule', () => {
  const all = { bias: true, weightRatio: 1 };

  it('the input gradient when a layer below trains, reading nothing of forward; nothing otherwise', () => {
    const graph = buildGraph(modelAround([4, 4, 2], padded(3)));
    const p = plainProgram(graph, schemeOf({ a: all }));
    expect(stepsOf(p, 'y')).toEqual({ forward: ['forward'], backward: ['inputGrad'], updates: [] });
    expect(p.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'y')).toMatchObject({ targets: ['a'], reads: ['grad:y'] });
    expect(stepsOf(plainProgram(graph, schemeOf({ tail_fc: all })), 'y').backward).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// End to end

/** sha256 of the end-to-end case's checkpoint (below): recorded when the op was added; a change means training changed.
 * Re-recorded when requantisation became TFLite's (two roundings; its int8 ADD and AVERAGE_POOL_2D
 * arithmetic), which changes the trained bytes of every int8 model.
 */
const E2E_CHECKPOINT_SHA256 = '462560e5799069e03653a1abbdb1b4437b71c8a06ff2f4a2f35b72ec0652904d';

// BlazeFace's blocks: a strided depthwise + 1x1 branch to more channels, beside a max-pooled shortcut padded to them.
describeTrainsEndToEnd({
  title: 'padchannels: a BlazeFace-style CNN trains end to end',
  kernels: 'padchannels',
  net: 'BlazeFace-style CNN',
  spec: {
    format: 'tinytrain-model@1',
    name: 'blaze-cnn',
    input: [28, 28, 1],
    inputRange: [0, 1],
    seed: 9,
    layers: [
      { op: 'conv2d', name: 'c1', filters: 8, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
      { op: 'conv2d', name: 'dw', filters: 8, groups: 'depthwise', kernel: 3, stride: 2, padding: 'same' },
      { op: 'conv2d', name: 'pw', filters: 12, kernel: 1 },
      { op: 'maxpool', name: 'short', inputs: ['c1'], size: 2, stride: 2 },
      { op: 'padchannels', name: 'pad', after: 4 },
      { op: 'add', name: 'sum', inputs: ['pw', 'pad'], activation: 'relu' },
      { op: 'conv2d', name: 'c3', filters: 16, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
      { op: 'flatten', name: 'flat' },
      { op: 'dense', name: 'fc', units: 10 },
    ],
  },
  pretrainSteps: 600,
  calls: [/padChannelsForwardS8\(\d+\); \/\/ n4_padchannels/, /concatBackwardF32\(\d+\); \/\/ n4_padchannels/],
  // Measured: pretrain 0.773, loss 2.311 -> 1.699; the bounds leave room for numeric changes.
  minPretrainAccuracy: 0.6,
  lossRatio: 0.85,
  checkpointSha256: E2E_CHECKPOINT_SHA256,
});
