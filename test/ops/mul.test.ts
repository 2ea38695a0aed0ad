/**
 * mul (compiler/ops/mul.ts): its shape rule, the float reference against TF.js (forward and
 * gradient, same shape and per-channel broadcast), the int8 output against the float
 * product, the kernels (assembly/kernels/mul.ts, SIMD and scalar builds) against the exact
 * reference, the backward rule and what the planner keeps for it, and a squeeze-excitation
 * CNN trained end to end.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { planArena } from '../../compiler/memory/planner.js';
import { buildProgram } from '../../compiler/autodiff/program.js';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { Layer } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import { MUL_BACKWARD_KERNEL, MUL_FORWARD_KERNEL } from '../../compiler/ops/mul-kernels.js';
import { opDef } from '../../compiler/ops/registry.js';
import { quantizeMultiplier, requantize, type FixedMultiplier } from '../../compiler/quantize/fixedpoint.js';
import { chooseQParams, quantizeValue, type QTensor } from '../../compiler/quantize/quantize.js';
import { loadKernels, type KernelModule } from '../support/kernel-module.js';
import { modelAround, nodeAround, plainProgram, randomArray, schemeOf, shapeError, stepsOf } from '../support/ops.js';
import { describeTrainsEndToEnd } from '../support/ops-e2e.js';
import { expectWithinBound, tf, tfForwardBackward, useTfCpu, valuesOf } from '../support/ops-float.js';

const op = opDef('mul');

beforeAll(useTfCpu);

/** x: a conv of the input; g: a per-channel gate (GAP, 1x1 conv, hardsigmoid) or a full-size conv; y = mul(x, g). */
const block = (gate: 'channel' | 'full', activation: 'none' | 'relu' = 'none'): Layer[] => [
  { op: 'conv2d', name: 'x', filters: 3, kernel: 3, padding: 1 },
  ...(gate === 'channel'
    ? ([
        { op: 'globalavgpool', name: 'gap' },
        { op: 'conv2d', name: 'se', filters: 3, kernel: 1 },
        { op: 'hardsigmoid', name: 'g' },
      ] as Layer[])
    : ([{ op: 'conv2d', name: 'g', inputs: ['input'], filters: 3, kernel: 1 }] as Layer[])),
  { op: 'mul', name: 'y', inputs: ['x', 'g'], activation },
];

describe('mul: shape rule', () => {
  it('two inputs of one shape, or the second [1, 1, C]; the first one`s shape out', () => {
    for (const gate of ['channel', 'full'] as const) {
      const { node } = nodeAround([4, 5, 2], block(gate), 'y');
      expect(node.op).toBe('mul');
      expect(node.inShapes).toEqual([[4, 5, 3], gate === 'channel' ? [1, 1, 3] : [4, 5, 3]]);
      expect(node.outShape).toEqual([4, 5, 3]);
    }
  });

  it('refuses other shapes, a broadcast first operand, and one input', () => {
    const conv = (name: string, filters: number, from = 'input'): Layer => ({ op: 'conv2d', name, inputs: [from], filters, kernel: 1 });
    expect(shapeError([4, 4, 2], [conv('a', 3), conv('b', 2), { op: 'mul', name: 'y', inputs: ['a', 'b'] }])).toBe(
      "model layer 2 ('y'): mul needs equal shapes or a second input of one value per channel [1,1,3], got [4,4,3] and [4,4,2]",
    );
    const gate: Layer[] = [conv('a', 3), { op: 'globalavgpool', name: 'p', inputs: ['a'] }];
    expect(shapeError([4, 4, 2], [...gate, { op: 'mul', name: 'y', inputs: ['p', 'a'] }])).toMatch(/got \[1,1,3\] and \[4,4,3\]/);
    expect(() => buildGraph(modelAround([4, 4, 2], [{ op: 'mul', name: 'y', inputs: ['input'] } as unknown as Layer]))).toThrow(/two tensors to multiply/);
  });
});

describe('mul: float reference against TF.js', () => {
  for (const gate of ['full', 'channel'] as const) {
    it(`${gate === 'full' ? 'same shape' : 'per channel'}: y = a * b; da = gy * b, db = gy * a${gate === 'channel' ? ' summed over positions' : ''}`, () => {
      const rng = new Rng(gate === 'full' ? 1610 : 1611);
      const { node } = nodeAround([3, 5, 2], block(gate), 'y');
      const n = 45;
      const nb = gate === 'full' ? n : 3;
      const [a, b, gy] = [randomArray(rng, n, -3, 3), randomArray(rng, nb, -2, 2), randomArray(rng, n)];
      const ref = tfForwardBackward((p, q) => tf.mul(p, q), [tf.tensor(a, [3, 5, 3]), tf.tensor(b, gate === 'full' ? [3, 5, 3] : [1, 1, 3])], gy);
      const y = op.float.forward(node, [a, b], undefined);
      // One float32 rounding of one product, each side: equal.
      expect(Array.from(y)).toEqual(Array.from(ref.y));
      const g = op.float.backward(node, { x: [a, b], y, gy, params: undefined, wantInputGrad: true });
      expect(Array.from(g.inputs[0]!)).toEqual(Array.from(valuesOf(ref.grads[0]!)));
      // db: TF.js sums 15 float32 products in float32; ours in float64, rounded once.
      const terms = gate === 'full' ? 1 : 15;
      const sumAbs = new Float32Array(nb);
      for (let i = 0; i < n; i++) sumAbs[i % nb]! += Math.abs(gy[i]! * a[i]!);
      expectWithinBound(g.inputs[1]!, valuesOf(ref.grads[1]!), sumAbs, terms, 'db');
      expect(op.float.backward(node, { x: [a, b], y, gy, params: undefined, wantInputGrad: false }).inputs).toEqual([null, null]);
    });
  }
});

// ---------------------------------------------------------------------------------------
// int8

const dequantize = (v: number, q: QTensor) => (v - q.zp) * q.scale;

/** The exact int8 forward: the one rounding rule on the integer product (fixedpoint.ts, BigInt). */
function mulRef(a: Int8Array, qa: QTensor, b: Int8Array, qb: QTensor, bPerChannel: boolean, m: FixedMultiplier, qy: QTensor, lo = -128, hi = 127): Int8Array {
  const C = bPerChannel ? b.length : a.length;
  return Int8Array.from(a, (v, i) => requantize((v - qa.zp) * (b[i % C]! - qb.zp), m, qy.zp, lo, hi));
}

/** TFLite's first rounding (shift n > 31) moves a result by up to 2^-(n-30) of an output step before the second rounds it (fixedpoint.ts). */
const doubleRounding = (n: number): number => (n > 31 ? 2 ** -(n - 30) : 0);

describe('mul: int8 output against the float product', () => {
  it('within half an output step, plus the double rounding`s 2^-(n-30) step and the multiplier`s 2^-30 relative error, wherever it is not clamped', () => {
    const rng = new Rng(1620);
    for (const [[alo, ahi], [blo, bhi]] of [
      [
        [-4, 4],
        [0, 1],
      ],
      [
        [0, 6],
        [-2, 3],
      ],
      [
        [-0.5, 0.25],
        [-8, 8],
      ],
    ] as const) {
      const qa = chooseQParams(alo, ahi);
      const qb = chooseQParams(blo, bhi);
      const corners = [alo * blo, alo * bhi, ahi * blo, ahi * bhi];
      const qy = chooseQParams(Math.min(0, ...corners), Math.max(0, ...corners));
      const m = op.prepare!(buildGraph(modelAround([2, 2, 3], block('full'))).nodes.at(-1)!, [qa, qb], qy) as FixedMultiplier;
      expect(m).toEqual(quantizeMultiplier((qa.scale * qb.scale) / qy.scale));
      const a = Int8Array.from({ length: 500 }, () => (rng.nextU32() % 256) - 128);
      const b = Int8Array.from({ length: 500 }, () => (rng.nextU32() % 256) - 128);
      const y = mulRef(a, qa, b, qb, false, m, qy);
      for (let i = 0; i < a.length; i++) {
        const exact = dequantize(a[i]!, qa) * dequantize(b[i]!, qb);
        if (y[i] === -128 || y[i] === 127) continue;
        expect(Math.abs(dequantize(y[i]!, qy) - exact), `${a[i]} * ${b[i]}`).toBeLessThanOrEqual(qy.scale * (0.5 + doubleRounding(m.n) + 1e-6) + Math.abs(exact) * 2 ** -30);
      }
      // The float product rounded into the output: the same byte or one step off (ties and the multiplier's rounding).
      for (let i = 0; i < a.length; i++) expect(Math.abs(y[i]! - quantizeValue(dequantize(a[i]!, qa) * dequantize(b[i]!, qb), qy))).toBeLessThanOrEqual(1);
    }
  });
});

describe.each([true, false])('mul kernels (simd %s) against the exact reference', (simd) => {
  let k: KernelModule;
  beforeAll(async () => {
    k = await loadKernels({ simd });
  }, 180_000);

  // Real multipliers below 1/2 (shift >= 32: the SIMD path) and above (the scalar loop in both builds).
  const quants: Array<[QTensor, QTensor, QTensor]> = [
    [
      { scale: 0.03, zp: -5 },
      { scale: 0.01, zp: 7 },
      { scale: 0.02, zp: 3 },
    ],
    [
      { scale: 0.05, zp: 0 },
      { scale: 0.04, zp: -128 },
      { scale: 0.001, zp: -20 },
    ],
  ];

  it('forward: same shape and per channel, every channel count around the SIMD width, clamped, in place', () => {
    for (const [qa, qb, qy] of quants) {
      const m = quantizeMultiplier((qa.scale * qb.scale) / qy.scale);
      for (const [P, C] of [
        [1, 1],
        [1, 3],
        [1, 4],
        [3, 5],
        [2, 8],
        [4, 17],
        [1, 300],
        [7, 16],
      ] as const) {
        for (const perChannel of [false, true]) {
          k.reset();
          const rng = new Rng(1630 + P * 31 + C);
          const a = Int8Array.from({ length: P * C }, () => (rng.nextU32() % 256) - 128);
          const b = Int8Array.from({ length: perChannel ? C : P * C }, () => (rng.nextU32() % 256) - 128);
          const [lo, hi] = perChannel ? [qy.zp, 127] : [-128, 127];
          const want = perChannel ? Int8Array.from(a, (v, i) => requantize((v - qa.zp) * (b[i % C]! - qb.zp), m, qy.zp, lo, hi)) : mulRef(a, qa, b, qb, false, m, qy);
          const ap = k.i8(a);
          const bp = k.i8(b);
          const yp = k.allocFilled(P * C, 0x55);
          const record = { a: ap, za: qa.zp, b: bp, zb: qb.zp, perChannel, m: m.m, n: m.n, y: yp, zy: qy.zp, lo, hi, P, C };
          k.kernel(MUL_FORWARD_KERNEL)(record);
          expect(Array.from(k.readI8(yp, P * C)), `${P}x${C} n=${m.n} perChannel ${perChannel}`).toEqual(Array.from(want));
          k.kernel(MUL_FORWARD_KERNEL)({ ...record, y: ap });
          expect(Array.from(k.readI8(ap, P * C)), 'in place').toEqual(Array.from(want));
        }
      }
    }
  });

  it('backward: gy times the dequantised other operand, broadcast or summed over positions in order, overwrite and accumulate', () => {
    const f = Math.fround;
    for (const [P, C] of [
      [1, 1],
      [3, 5],
      [2, 8],
      [4, 17],
      [9, 4],
    ] as const) {
      for (const mode of ['same', 'otherPerChannel', 'sumPositions'] as const) {
        for (const accumulate of [false, true]) {
          k.reset();
          const rng = new Rng(1640 + P * 31 + C);
          const zo = -9;
          const so = Math.fround(0.0371);
          const otherLen = mode === 'otherPerChannel' ? C : P * C;
          const gxLen = mode === 'sumPositions' ? C : P * C;
          const other = Int8Array.from({ length: otherLen }, () => (rng.nextU32() % 256) - 128);
          const gy = randomArray(rng, P * C);
          const gx0 = randomArray(rng, gxLen);
          const want = accumulate ? gx0.slice() : new Float32Array(gxLen);
          for (let i = 0; i < P * C; i++) {
            const d = f((other[mode === 'otherPerChannel' ? i % C : i]! - zo) * so);
            const g = f(gy[i]! * d);
            const j = mode === 'sumPositions' ? i % C : i;
            want[j] = mode === 'sumPositions' || accumulate ? f(want[j]! + g) : g;
          }
          const gxp = k.f32(gx0);
          const record = {
            gy: k.f32(gy),
            other: k.i8(other),
            zo,
            so,
            otherPerChannel: mode === 'otherPerChannel',
            gx: gxp,
            sumPositions: mode === 'sumPositions',
            P,
            C,
            accumulate,
          };
          k.kernel(MUL_BACKWARD_KERNEL)(record);
          expect(Array.from(k.readF32(gxp, gxLen)), `${P}x${C} ${mode} accumulate ${accumulate}`).toEqual(Array.from(want));
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// The training program

describe('mul: backward rule', () => {
  const all = { bias: true, weightRatio: 1 };

  it('its clamp`s mask, then both operands` gradients, reading both int8 operands; nothing when nothing below trains', () => {
    const graph = buildGraph(modelAround([4, 4, 2], block('channel', 'relu')));
    const p = plainProgram(graph, schemeOf({ x: all, se: all }));
    expect(stepsOf(p, 'y')).toEqual({ forward: ['forward'], backward: ['mask', 'inputGrad'], updates: [] });
    expect(p.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'y')).toMatchObject({ targets: ['x', 'g'], reads: ['grad:y', 'act:x', 'act:g'] });
    // Only the gate's conv trains: only the gate's gradient, still reading x.
    const gateOnly = plainProgram(graph, schemeOf({ se: all }));
    expect(gateOnly.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'y')).toMatchObject({ targets: ['g'], reads: ['grad:y', 'act:x', 'act:g'] });
    expect(stepsOf(plainProgram(graph, schemeOf({ tail_fc: all })), 'y').backward).toEqual([]);
  });

  it('the planner keeps both operands until the input gradient; the output never takes the per-channel operand`s buffer', () => {
    const graph = buildGraph(modelAround([4, 4, 2], block('channel')));
    const p = buildProgram(graph, schemeOf({ x: all }));
    const plan = planArena(p);
    const at = p.steps.findIndex((s) => s.kind === 'inputGrad' && s.node.name === 'y');
    for (const key of ['act:x', 'act:g'] as const) expect(plan.buffers.get(key)!.last, key).toBeGreaterThanOrEqual(at);
    expect(p.actShares.has('y')).toBe(false);
    // Nothing below trains: the output may overwrite x (its size), never g ([1, 1, 3]).
    const frozen = buildProgram(graph, schemeOf({ tail_fc: all }));
    expect(frozen.actShares.get('y')).toBe('x');
    const gateFirst = buildGraph(
      modelAround(
        [4, 4, 2],
        [
          { op: 'globalavgpool', name: 'gap' },
          { op: 'conv2d', name: 'g', filters: 2, kernel: 1 },
          { op: 'conv2d', name: 'x', inputs: ['input'], filters: 2, kernel: 1 },
          { op: 'mul', name: 'y', inputs: ['x', 'g'] },
          { op: 'add', name: 'z', inputs: ['y', 'x'] },
        ],
      ),
    );
    // x is still read (by z) after y, g is not: without the size rule y would take g's 2 bytes.
    expect(buildProgram(gateFirst, schemeOf({ tail_fc: all })).actShares.has('y')).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------
// End to end

/**
 * sha256 of the end-to-end case's checkpoint (below): recorded when the op was added; a change means training changed.
 * Re-recorded once at the merge with per-side padding, whose longer pool records moved this
 * model's layout (and so its checkpoint's layout id): the same program, and the same losses
 * step for step over 60 steps on both layouts (checked by hand, scalar module). Now the
 * payload's sha256 (stableCheckpoint hashes the trained region without the file header), so
 * records that grow (the per-axis conv geometry) leave it alone: the old build gives these bytes.
 * Re-recorded when requantisation became TFLite's (two roundings; its int8 ADD and AVERAGE_POOL_2D
 * arithmetic), which changes the trained bytes of every int8 model.
 */
const E2E_CHECKPOINT_SHA256 = '1a9ec6f17329172658e0214fd852428d65d36cbd7a4d59cb5ba7e574c2ce84d6';

describeTrainsEndToEnd({
  title: 'mul: a squeeze-excitation CNN trains end to end',
  kernels: 'mul',
  net: 'SE CNN',
  spec: {
    format: 'tinytrain-model@1',
    name: 'se-cnn',
    input: [28, 28, 1],
    inputRange: [0, 1],
    seed: 7,
    layers: [
      { op: 'conv2d', name: 'c1', filters: 8, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
      { op: 'conv2d', name: 'c2', filters: 16, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
      { op: 'globalavgpool', name: 'gap' },
      { op: 'conv2d', name: 'squeeze', filters: 4, kernel: 1, activation: 'relu' },
      { op: 'conv2d', name: 'excite', filters: 16, kernel: 1 },
      { op: 'hardsigmoid', name: 'gate' },
      { op: 'mul', name: 'se', inputs: ['c2', 'gate'] },
      { op: 'conv2d', name: 'c3', filters: 16, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
      { op: 'flatten', name: 'flat' },
      { op: 'dense', name: 'fc', units: 10 },
    ],
  },
  pretrainSteps: 600,
  calls: [/mulForwardS8\(\d+\); \/\/ n6_mul/, /mulBackwardF32\(\d+\); mulBackwardF32\(\d+\); \/\/ n6_mul/],
  // Measured: pretrain 0.81, loss 2.284 -> 0.698; the bounds leave room for numeric changes.
  minPretrainAccuracy: 0.6,
  lossRatio: 0.6,
  checkpointSha256: E2E_CHECKPOINT_SHA256,
});
