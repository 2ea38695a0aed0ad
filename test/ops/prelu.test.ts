/**
 * prelu (compiler/ops/prelu.ts): its layer and shape rule; the float reference against
 * TF.js (tf.prelu, forward and input gradient; one slope, per channel, per element); the
 * int8 multipliers against the float function; the kernels (assembly/kernels/prelu.ts, SIMD
 * and scalar builds) against the plain reference kernel and the exact rule; the backward
 * rule; and a CNN with PReLUs trained end to end.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { TinytrainError } from '../../compiler/errors.js';
import { buildGraph, type Node } from '../../compiler/ir/graph.js';
import type { Layer } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import { compactSlopes, preluMultipliers } from '../../compiler/ops/prelu.js';
import { PRELU_BACKWARD_KERNEL, PRELU_FORWARD_KERNEL } from '../../compiler/ops/prelu-kernels.js';
import { opDef } from '../../compiler/ops/registry.js';
import { requantize } from '../../compiler/quantize/fixedpoint.js';
import { chooseQParams, quantizeValue, type QTensor } from '../../compiler/quantize/quantize.js';
import { loadKernels, type KernelModule } from '../support/kernel-module.js';
import { modelAround, nodeAround, plainProgram, randomArray, schemeOf, shapeError, stepsOf } from '../support/ops.js';
import { describeTrainsEndToEnd } from '../support/ops-e2e.js';
import { tf, tfForwardBackward, useTfCpu, valuesOf } from '../support/ops-float.js';

const op = opDef('prelu');
const nodeOf = (alpha: number[], input: [number, number, number] = [3, 5, 4]): Node => nodeAround(input, [{ op: 'prelu', name: 'x', alpha }], 'x').node;

beforeAll(useTfCpu);

describe('prelu: layer and shape rule', () => {
  it('keeps the shape; one slope, one per channel or one per element, kept as float32', () => {
    for (const alpha of [[0.25], [0.1, 0.2, 0.3, 0.4], Array.from({ length: 60 }, (_, i) => i / 60)]) {
      const n = nodeOf(alpha);
      expect(n.op).toBe('prelu');
      expect(n.outShape).toEqual([3, 5, 4]);
      expect(n.fn!.slopes).toEqual(alpha.map(Math.fround));
    }
    expect(op.elementwise).toBe(true);
    expect(op.sharesInputQuant).toBeUndefined();
  });

  it('refuses another number of slopes, slopes that are not finite numbers, and two inputs', () => {
    expect(shapeError([3, 5, 4], [{ op: 'prelu', name: 'x', alpha: [1, 2] }])).toBe("model layer 0 ('x'): prelu has 2 slopes for an input of [3,5,4]");
    const refused = (l: object) => () => buildGraph(modelAround([2, 2, 1], [{ op: 'prelu', name: 'x', ...l } as Layer]));
    expect(refused({ alpha: [] })).toThrow(/alpha.*at least one slope/);
    expect(refused({ alpha: 0.25 })).toThrow(/alpha.*list of slopes/);
    expect(refused({ alpha: [1e39] })).toThrow(/alpha.*magnitude/);
    expect(refused({})).toThrow(/alpha/);
    expect(refused({ alpha: [0.1], activation: 'relu' })).toThrow(/activation/);
    expect(shapeError([2, 2, 1], [{ op: 'prelu', name: 'x', inputs: ['input', 'input'], alpha: [0.1] }])).toBe("model layer 0 ('x'): prelu takes 1 input(s), got 2");
  });

  it('compactSlopes: the shortest layer form of an importer`s per-element slopes', () => {
    expect(compactSlopes([0.5, 0.5, 0.5, 0.5], [2, 1, 2])).toEqual([0.5]);
    expect(compactSlopes([0.1, 0.2, 0.1, 0.2], [1, 2, 2])).toEqual([0.1, 0.2].map(Math.fround));
    expect(compactSlopes([0.1, 0.2, 0.1, 0.3], [2, 1, 2])).toEqual([0.1, 0.2, 0.1, 0.3].map(Math.fround));
  });
});

// ---------------------------------------------------------------------------------------
// The float reference

describe('prelu: float reference against TF.js', () => {
  const cases: Array<[string, number]> = [
    ['one slope', 1],
    ['per channel', 4],
    ['per element', 60],
  ];
  for (const [what, k] of cases) {
    it(`${what}: y = x > 0 ? x : alpha x; gx = x > 0 ? gy : alpha gy (alpha at 0)`, () => {
      const rng = new Rng(1800 + k);
      const alpha = Array.from(randomArray(rng, k, -0.5, 1.5));
      const node = nodeOf(alpha);
      const x = randomArray(rng, 60, -3, 3);
      for (let i = 0; i < 60; i += 7) x[i] = 0;
      const gy = randomArray(rng, 60);
      const tfAlpha = k === 60 ? tf.tensor(alpha, [3, 5, 4]) : tf.tensor1d(alpha);
      const ref = tfForwardBackward((t, a) => tf.prelu(t, a), [tf.tensor(x, [3, 5, 4]), tfAlpha], gy);
      const y = op.float.forward(node, [x], undefined);
      const gx = op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: true }).inputs[0]!;
      // One float32 product (or none) per element on each side: equal, bit for bit.
      expect(Array.from(y)).toEqual(Array.from(ref.y));
      expect(Array.from(gx)).toEqual(Array.from(valuesOf(ref.grads[0]!)));
      ref.grads[1]!.dispose();
      expect(op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: false }).inputs).toEqual([null]);
    });
  }
});

// ---------------------------------------------------------------------------------------
// int8

const dequantize = (v: number, q: QTensor) => (v - q.zp) * q.scale;

/** The int8 forward of one element by the rule (BigInt): v * m on the layer's shift. */
function int8Prelu(x: number, slope: number, d: ReturnType<typeof preluMultipliers>, qin: QTensor, qout: QTensor): number {
  const v = x - qin.zp;
  return requantize(v, { m: v > 0 ? d.mPos : d.mNeg[slope]!, n: d.n }, qout.zp, -128, 127);
}

describe('prelu: the int8 multipliers against the float function', () => {
  const quants: Array<[[number, number], number[]]> = [
    [
      [-4, 4],
      [0.25, -0.3, 0.01, 1.5],
    ],
    [
      [-1, 6],
      [0.1, 0.2, 0.3, 0.05],
    ],
    [
      [-20, 0.5],
      [0.02, 0.5, 1, 2],
    ],
    [
      [-0.01, 0.02],
      [0.7, 0.7, 0.7, 0.7],
    ],
  ];

  it('every byte of every channel within half an output step of the function (plus the multiplier`s rounding), wherever it is not clamped', () => {
    for (const [[lo, hi], alpha] of quants) {
      const qin = chooseQParams(lo, hi);
      const node = nodeOf(alpha, [2, 2, 4]);
      const ys = alpha.flatMap((a) => [lo, hi].map((v) => (v > 0 ? v : a * v)));
      const qout = chooseQParams(Math.min(...ys), Math.max(...ys));
      const d = preluMultipliers(node, qin, qout);
      expect(d.n).toBeGreaterThanOrEqual(1);
      expect(d.n).toBeLessThanOrEqual(30);
      for (const m of [d.mPos, ...d.mNeg]) expect(Math.abs(m)).toBeLessThanOrEqual(2 ** 22);
      // The rule's integers: 255 * 2^22 + 2^29 < 2^31, so the kernels' 32-bit sums cannot overflow.
      const mult = Math.max(Math.abs(d.mPos), ...Array.from(d.mNeg, Math.abs));
      expect(255 * mult + 2 ** (d.n - 1)).toBeLessThan(2 ** 31);
      // Each multiplier is the real one rounded on 2^-n: |v| * 2^-(n+1) output steps at most, for |v| <= 255.
      const slack = 255 * 2 ** -(d.n + 1);
      for (let c = 0; c < 4; c++) {
        const a = Math.fround(alpha[c]!);
        for (let b = -128; b < 128; b++) {
          const x = dequantize(b, qin);
          const exact = x > 0 ? x : a * x;
          const y = int8Prelu(b, c, d, qin, qout);
          if (y === -128 || y === 127) continue;
          expect(Math.abs(dequantize(y, qout) - exact) / qout.scale, `byte ${b} slope ${a}`).toBeLessThanOrEqual(0.5 + slack + 1e-9);
          expect(Math.abs(y - quantizeValue(exact, qout)), `byte ${b} slope ${a}`).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it('one slope is broadcast to every channel; per element keeps them all; its two tables are constants in the frozen image', () => {
    const qin = chooseQParams(-2, 2);
    const qout = chooseQParams(-1, 2);
    const one = preluMultipliers(nodeOf([0.5]), qin, qout);
    expect(one.perElement).toBe(false);
    expect(Array.from(one.slopes)).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(new Set(one.mNeg).size).toBe(1);
    const each = preluMultipliers(nodeOf(Array.from({ length: 60 }, (_, i) => i / 100)), qin, qout);
    expect(each.perElement).toBe(true);
    expect(each.mNeg.length).toBe(60);
    expect(op.constants!(each).map((t) => t.byteLength)).toEqual([240, 240]);
    expect(op.constants!(one).map((t) => t.byteLength)).toEqual([16, 16]);
  });

  it('refuses scales whose multiplier cannot be held (output scale far below the input`s)', () => {
    const fails = () => preluMultipliers(nodeOf([0.5]), { scale: 1, zp: 0 }, { scale: 1e-7, zp: 0 });
    expect(fails).toThrow(TinytrainError);
    expect(fails).toThrow(/prelu: the requantisation multiplier .* is too large/);
  });
});

describe.each([true, false])('prelu kernels (simd %s) against the reference kernel and the exact rule', (simd) => {
  let k: KernelModule;
  beforeAll(async () => {
    k = await loadKernels({ simd });
  }, 180_000);

  // Channel tails around the SIMD width, one position and several; per channel and per element.
  const shapes: Array<[number, number]> = [
    ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 23, 24, 25, 31, 32, 33].map((C): [number, number] => [1, C]),
    [3, 5],
    [7, 16],
    [4, 17],
  ];

  it('forward: every byte, multipliers up to 2^22 on shifts 1..30, in place too', () => {
    for (const [P, C] of shapes) {
      for (const perElement of [false, true]) {
        k.reset();
        const rng = new Rng(1810 + P * 37 + C + (perElement ? 1000 : 0));
        const n = 1 + (rng.nextU32() % 30);
        const zx = (rng.nextU32() % 256) - 128;
        const zy = (rng.nextU32() % 256) - 128;
        const S = perElement ? P * C : C;
        // The extremes the compiler allows (|m| = 2^22) at both ends, random ones between.
        const mNeg = Int32Array.from({ length: S }, (_, i) => (i === 0 ? -(2 ** 22) : i === 1 ? 2 ** 22 : (rng.nextU32() % 2 ** 23) - 2 ** 22));
        const mPos = rng.nextU32() % 2 ** 22;
        const x = Int8Array.from({ length: P * C }, (_, i) => (i < 2 ? [-128, 127][i]! : (rng.nextU32() % 256) - 128));
        const want = Int8Array.from(x, (b, i) => {
          const v = b - zx;
          return requantize(v, { m: v > 0 ? mPos : mNeg[perElement ? i : i % C]!, n }, zy, -128, 127);
        });
        const xp = k.i8(x);
        const record = { x: xp, zx, y: k.allocFilled(P * C, 0x55), zy, mPos, n, mNeg: k.i32(mNeg), slopeStep: perElement ? C : 0, P, C };
        k.kernel(PRELU_FORWARD_KERNEL)(record);
        expect(Array.from(k.readI8(record.y, P * C)), `${P}x${C} n=${n} perElement ${perElement}`).toEqual(Array.from(want));
        const refY = k.allocFilled(P * C, 0x55);
        k.opReference(PRELU_FORWARD_KERNEL, 'qs8_prelu_fwd__ref')({ ...record, y: refY });
        expect(Array.from(k.readI8(refY, P * C)), `reference ${P}x${C}`).toEqual(Array.from(want));
        k.kernel(PRELU_FORWARD_KERNEL)({ ...record, y: xp });
        expect(Array.from(k.readI8(xp, P * C)), `in place ${P}x${C}`).toEqual(Array.from(want));
      }
    }
  });

  it('backward: gy above the zero point, gy * alpha at and below it; overwrite, accumulate, in place', () => {
    const f = Math.fround;
    for (const [P, C] of shapes) {
      for (const perElement of [false, true]) {
        for (const accumulate of [false, true]) {
          k.reset();
          const rng = new Rng(1820 + P * 37 + C);
          const zx = (rng.nextU32() % 256) - 128;
          const S = perElement ? P * C : C;
          const slopes = randomArray(rng, S, -1, 2);
          // Bytes at the zero point included: the gradient there is gy * alpha.
          const x = Int8Array.from({ length: P * C }, (_, i) => (i % 3 === 0 ? zx : (rng.nextU32() % 256) - 128));
          const gy = randomArray(rng, P * C);
          const gx0 = randomArray(rng, P * C);
          const want = Float32Array.from(gy, (g, i) => {
            const d = x[i]! > zx ? g : f(g * slopes[perElement ? i : i % C]!);
            return accumulate ? f(gx0[i]! + d) : d;
          });
          const record = { gy: k.f32(gy), x: k.i8(x), zx, slopes: k.f32(slopes), slopeStep: perElement ? C : 0, gx: k.f32(gx0), P, C, accumulate };
          k.kernel(PRELU_BACKWARD_KERNEL)(record);
          const what = `${P}x${C} perElement ${perElement} accumulate ${accumulate}`;
          expect(Array.from(k.readF32(record.gx, P * C)), what).toEqual(Array.from(want));
          const refGx = k.f32(gx0);
          k.opReference(PRELU_BACKWARD_KERNEL, 'f32_prelu_bwd__ref')({ ...record, gx: refGx });
          expect(Array.from(k.readF32(refGx, P * C)), `reference ${what}`).toEqual(Array.from(want));
          if (!accumulate) {
            k.kernel(PRELU_BACKWARD_KERNEL)({ ...record, gx: record.gy });
            expect(Array.from(k.readF32(record.gy, P * C)), `in place ${what}`).toEqual(Array.from(want));
          }
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// The training program

describe('prelu: backward rule', () => {
  it('an input gradient when something below trains, reading the int8 input; nothing otherwise', () => {
    const graph = buildGraph(
      modelAround(
        [4, 4, 1],
        [
          { op: 'conv2d', name: 'pre', filters: 2, kernel: 3, padding: 1 },
          { op: 'prelu', name: 'x', alpha: [0.25, 0.1] },
        ],
      ),
    );
    const p = plainProgram(graph, schemeOf({ pre: { bias: true } }));
    expect(stepsOf(p, 'x')).toEqual({ forward: ['forward'], backward: ['inputGrad'], updates: [] });
    expect(p.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'x')!.reads).toEqual(['grad:x', 'act:pre']);
    expect(stepsOf(plainProgram(graph, schemeOf({ tail_fc: { bias: true } })), 'x')).toEqual({ forward: ['forward'], backward: [], updates: [] });
  });
});

// ---------------------------------------------------------------------------------------
// End to end

/** sha256 of the end-to-end case's checkpoint (below): recorded when the op was added; a change means training changed.
 * Re-recorded when requantisation became TFLite's (two roundings; its int8 ADD and AVERAGE_POOL_2D
 * arithmetic), which changes the trained bytes of every int8 model.
 */
const E2E_CHECKPOINT_SHA256 = '9cf3403f5546cc35b1b9bd0f9eb304da804077ddfba9d3a7cdcdf9b4f6c1ec9b';

describeTrainsEndToEnd({
  title: 'prelu: a CNN with PReLUs trains end to end',
  kernels: 'prelu',
  net: 'CNN',
  spec: {
    format: 'tinytrain-model@1',
    name: 'prelu-cnn',
    input: [28, 28, 1],
    inputRange: [0, 1],
    seed: 9,
    layers: [
      { op: 'conv2d', name: 'c1', filters: 8, kernel: 3, stride: 2, padding: 'same' },
      { op: 'prelu', name: 'p1', alpha: [0.25, 0.1, 0.05, 0.3, 0.2, 0.15, -0.1, 0.5] },
      { op: 'conv2d', name: 'c2', filters: 16, kernel: 3, stride: 2, padding: 'same', groups: 1 },
      { op: 'prelu', name: 'p2', alpha: [0.2] },
      { op: 'conv2d', name: 'c3', filters: 16, kernel: 3, stride: 2, padding: 'same' },
      { op: 'prelu', name: 'p3', alpha: Array.from({ length: 16 }, (_, i) => 0.02 * i) },
      { op: 'flatten', name: 'flat' },
      { op: 'dense', name: 'fc', units: 10 },
    ],
  },
  pretrainSteps: 1000,
  calls: ['n1_prelu', 'n3_prelu', 'n5_prelu'].flatMap((label) => [new RegExp(`preluForwardS8\\(\\d+\\); // ${label}`), new RegExp(`preluBackwardF32\\(\\d+\\); // ${label}`)]),
  // Measured: pretrain 0.862, loss 1.988 -> 0.864; the bounds leave room for numeric changes.
  minPretrainAccuracy: 0.8,
  lossRatio: 0.6,
  checkpointSha256: E2E_CHECKPOINT_SHA256,
});
