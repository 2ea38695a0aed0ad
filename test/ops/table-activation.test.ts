/**
 * The table activations (compiler/ops/table-activation.ts): sigmoid, hardsigmoid, hardswish,
 * silu, leakyrelu. Their shape rule and layer fields; the float reference against TF.js
 * (forward and gradient) and PyTorch's gradients at the kinks; the int8 tables against the
 * float function; the backward rule (which byte the derivative reads); the kernels
 * (assembly/kernels/table.ts, SIMD and scalar builds) against the exact reference; and a
 * model with all five trained end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGraph, type FnAttrs, type Node } from '../../compiler/ir/graph.js';
import type { Layer, ModelSpec } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import { TABLE_FUNCTIONS, type TableFunction } from '../../compiler/float/table-functions.js';
import { opDef } from '../../compiler/ops/registry.js';
import { activationTables } from '../../compiler/ops/table-activation.js';
import { TABLE_BACKWARD_KERNEL, TABLE_FORWARD_KERNEL } from '../../compiler/ops/table-kernels.js';
import { chooseQParams, type QTensor } from '../../compiler/quantize/quantize.js';
import { fullScheme } from '../../compiler/scheme/scheme.js';
import { filterClasses } from '../../host/data/dataset.js';
import { pretrain } from '../../host/pretrain.js';
import { Runtime } from '../../host/runtime.js';
import { evaluateRuntime, trainRuntime } from '../../host/train.js';
import { getTarget } from '../../targets/index.js';
import { loadKernels, type KernelModule } from '../support/kernel-module.js';
import { ArtifactCache, mnist } from '../support/models.js';
import { modelAround, nodeAround, plainProgram, randomArray, schemeOf, shapeError, stableCheckpoint, stepsOf } from '../support/ops.js';
import { tf, tfForwardBackward, useTfCpu, valuesOf } from '../support/ops-float.js';
import { SLOW } from '../tiers.js';

const FUNCTIONS: readonly TableFunction[] = ['sigmoid', 'hardsigmoid', 'hardswish', 'silu', 'leakyrelu', 'clampmin'];
/** clampmin has no default: its floor is -0.4 (openWakeWord's) unless a test gives one. */
const layerOf = (fn: TableFunction, extra: object = {}): Layer => ({ op: fn, name: 'x', ...(fn === 'clampmin' ? { min: -0.4 } : {}), ...extra }) as Layer;
const nodeOf = (fn: TableFunction, extra: object = {}, input: [number, number, number] = [3, 4, 5]): Node => nodeAround(input, [layerOf(fn, extra)], 'x').node;

beforeAll(useTfCpu);

describe('table activations: layers and shape rule', () => {
  it('each function is a layer of its own, keeping the shape; coefficients default to PyTorch/ONNX', () => {
    for (const fn of FUNCTIONS) {
      const n = nodeOf(fn);
      expect(n.op).toBe(fn);
      expect(n.outShape).toEqual([3, 4, 5]);
      expect(opDef(fn).elementwise).toBe(true);
    }
    expect(nodeOf('leakyrelu').fn).toEqual({ alpha: 0.01, beta: 0 });
    expect(nodeOf('leakyrelu', { alpha: 0.2 }).fn).toEqual({ alpha: 0.2, beta: 0 });
    expect(nodeOf('hardsigmoid').fn).toEqual({ alpha: 1 / 6, beta: 0.5 });
    expect(nodeOf('hardsigmoid', { alpha: 0.2, beta: 0.4 }).fn).toEqual({ alpha: 0.2, beta: 0.4 });
    expect(nodeOf('clampmin', { min: 1.5 }).fn).toEqual({ alpha: 1.5, beta: 0 });
  });

  it('refuses coefficients that are not finite numbers and fields a function does not have', () => {
    const refused = (l: object) => () => buildGraph(modelAround([2, 2, 1], [{ name: 'x', ...l } as Layer]));
    expect(refused({ op: 'leakyrelu', alpha: 'big' })).toThrow(/alpha.*expected a finite number/);
    expect(refused({ op: 'hardsigmoid', beta: 1e39 })).toThrow(/beta.*magnitude/);
    expect(refused({ op: 'sigmoid', alpha: 1 })).toThrow(/alpha/);
    expect(refused({ op: 'clampmin' })).toThrow(/min/);
    expect(refused({ op: 'silu', activation: 'relu' })).toThrow(/activation/);
    expect(shapeError([2, 2, 1], [{ op: 'sigmoid', name: 'x', inputs: ['input', 'input'] } as Layer])).toBe("model layer 0 ('x'): sigmoid takes 1 input(s), got 2");
  });
});

// ---------------------------------------------------------------------------------------
// The float reference

/** TF.js's definition of each function, composed from its ops where it has none of its own. */
function tfFunction(fn: TableFunction, a: FnAttrs): (t: tf.Tensor) => tf.Tensor {
  switch (fn) {
    case 'sigmoid':
      return (t) => tf.sigmoid(t);
    case 'hardsigmoid':
      return (t) => tf.clipByValue(tf.add(tf.mul(t, a.alpha), a.beta), 0, 1);
    case 'hardswish':
      return (t) => tf.div(tf.mul(t, tf.relu6(tf.add(t, 3))), 6);
    case 'silu':
      return (t) => tf.mul(t, tf.sigmoid(t));
    case 'leakyrelu':
      return (t) => tf.leakyRelu(t, a.alpha);
    case 'clampmin':
      return (t) => tf.maximum(t, a.alpha);
  }
}

describe('table activations: float reference against TF.js', () => {
  for (const [i, fn] of FUNCTIONS.entries()) {
    it(`${fn}: forward and gradient`, () => {
      const rng = new Rng(1600 + i);
      const node = nodeOf(fn, fn === 'leakyrelu' ? { alpha: 0.1 } : fn === 'hardsigmoid' ? { alpha: 0.2, beta: 0.5 } : {});
      const x = randomArray(rng, 60, -7, 7);
      const gy = randomArray(rng, 60);
      const ref = tfForwardBackward(tfFunction(fn, node.fn!), [tf.tensor1d(x)], gy);
      const gref = valuesOf(ref.grads[0]!);
      const op = opDef(fn);
      const y = op.float.forward(node, [x], undefined);
      const gx = op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: true }).inputs[0]!;
      // Ours: each value computed in float64 and rounded once. TF.js's: a chain of up to four
      // float32 ops (its exp in float32), each rounding once, so within 8 units of 2^-24 of
      // the largest value in the chain: the result for forward; |gy| * max(1, |x|) for the
      // gradient (sigmoid's 1 - y, hardswish's product rule x / 6 + relu6(x + 3) / 6).
      const u8 = 8 * 2 ** -24;
      for (let j = 0; j < x.length; j++) {
        expect(Math.abs(y[j]! - ref.y[j]!), `${fn} y at ${x[j]}`).toBeLessThanOrEqual(u8 * Math.max(Math.abs(ref.y[j]!), 2 ** -10));
        expect(Math.abs(gx[j]! - gref[j]!), `${fn} gx at ${x[j]}`).toBeLessThanOrEqual(u8 * Math.abs(gy[j]!) * Math.max(1, Math.abs(x[j]!)));
      }
      expect(op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: false }).inputs).toEqual([null]);
    });
  }

  it("the gradient at the kinks is PyTorch's (TF.js's composed clip differs at hardsigmoid's: it passes the gradient at both ends)", () => {
    const at = (fn: TableFunction, x: number[], extra: object = {}) => {
      const node = nodeOf(fn, extra, [1, 1, x.length]);
      const xs = Float32Array.from(x);
      return Array.from(opDef(fn).float.backward(node, { x: [xs], y: xs, gy: new Float32Array(x.length).fill(1), params: undefined, wantInputGrad: true }).inputs[0]!);
    };
    // torch.nn.functional.hardswish backward: 0 below -3, x / 3 + 1/2 on [-3, 3], 1 above.
    expect(at('hardswish', [-3.5, -3, 0, 3, 3.5])).toEqual([0, -0.5, 0.5, 1.5, 1]);
    // hardsigmoid backward: 1/6 strictly inside (-3, 3), 0 at the kinks and beyond.
    expect(at('hardsigmoid', [-3, -2.9, 2.9, 3])).toEqual([0, Math.fround(1 / 6), Math.fround(1 / 6), 0]);
    // leaky_relu backward: x > 0 ? 1 : alpha, so alpha at 0 (TF.js agrees).
    expect(at('leakyrelu', [-1, 0, 1], { alpha: 0.25 })).toEqual([0.25, 0.25, 1]);
    // clamp(x, min) backward: 1 at and above the floor, 0 below; TF.js's maximum(x, c) passes the gradient at the tie too.
    expect(at('clampmin', [-1, -0.5, 0], { min: -0.5 })).toEqual([0, 1, 1]);
    const tfMax = valuesOf(tfForwardBackward((t) => tf.maximum(t, -0.5), [tf.tensor1d([-1, -0.5, 0])], new Float32Array([1, 1, 1])).grads[0]!);
    expect(Array.from(tfMax)).toEqual([0, 1, 1]);
    const tfLeaky = valuesOf(tfForwardBackward((t) => tf.leakyRelu(t, 0.25), [tf.tensor1d([-1, 0, 1])], new Float32Array([1, 1, 1])).grads[0]!);
    expect(Array.from(tfLeaky)).toEqual([0.25, 0.25, 1]);
  });
});

// ---------------------------------------------------------------------------------------
// The int8 tables

const dequantize = (b: number, q: QTensor) => (b - q.zp) * q.scale;

/** Quantisations to build tables for: an input range, and the output's calibrated from f over it. */
function quantCases(fn: TableFunction, a: FnAttrs): Array<{ qin: QTensor; qout: QTensor }> {
  const { f } = TABLE_FUNCTIONS[fn];
  return [
    [-8, 8],
    [-1, 3],
    [0, 6],
    [-20, 0.5],
  ].map(([lo, hi]) => {
    const qin = chooseQParams(lo!, hi!);
    const ys = Array.from({ length: 256 }, (_, b) => f(dequantize(b - 128, qin), a));
    return { qin, qout: chooseQParams(Math.min(...ys), Math.max(...ys)) };
  });
}

describe('table activations: the int8 tables', () => {
  const attrs: Record<TableFunction, FnAttrs> = {
    sigmoid: { alpha: 0, beta: 0 },
    hardsigmoid: { alpha: 1 / 6, beta: 0.5 },
    hardswish: { alpha: 0, beta: 0 },
    silu: { alpha: 0, beta: 0 },
    leakyrelu: { alpha: 0.1, beta: 0 },
    clampmin: { alpha: -0.4, beta: 0 },
  };

  for (const fn of FUNCTIONS) {
    it(`${fn}: every entry within half an output step of the function at its dequantised byte; the derivative exact`, () => {
      const { f, df } = TABLE_FUNCTIONS[fn];
      for (const { qin, qout } of quantCases(fn, attrs[fn])) {
        const t = activationTables(fn, attrs[fn], qin, qout);
        let worst = 0;
        for (let b = -128; b < 128; b++) {
          const x = dequantize(b, qin);
          // Round to nearest into an output range that covers f over every input byte: the
          // error is at most half a step (1e-9: float rounding of the step itself).
          const err = Math.abs(dequantize(t.forward[b + 128]!, qout) - f(x, attrs[fn]));
          worst = Math.max(worst, err / qout.scale);
          const d = fn === 'sigmoid' ? dequantize(b, qout) * (1 - dequantize(b, qout)) : df(x, attrs[fn]);
          expect(t.derivative[b + 128], `${fn} d[${b}]`).toBe(Math.fround(d));
        }
        expect(worst, `${fn} in [${qin.scale}, ${qin.zp}]`).toBeLessThanOrEqual(0.5 + 1e-9);
      }
    });
  }
});

describe('table activations: backward rule', () => {
  const layers = (fn: TableFunction): Layer[] => [{ op: 'conv2d', name: 'pre', filters: 2, kernel: 3, padding: 1 }, layerOf(fn)];

  it('an input gradient when something below trains, reading the int8 input (sigmoid: its output); nothing otherwise', () => {
    for (const fn of FUNCTIONS) {
      const graph = buildGraph(modelAround([4, 4, 1], layers(fn)));
      const p = plainProgram(graph, schemeOf({ pre: { bias: true } }));
      expect(stepsOf(p, 'x'), fn).toEqual({ forward: ['forward'], backward: ['inputGrad'], updates: [] });
      const reads = p.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'x')!.reads;
      expect(reads, fn).toEqual(['grad:x', fn === 'sigmoid' ? 'act:x' : 'act:pre']);
      expect(stepsOf(plainProgram(graph, schemeOf({ tail_fc: { bias: true } })), 'x'), fn).toEqual({ forward: ['forward'], backward: [], updates: [] });
    }
  });

  it('its two tables are constants in the frozen image: 256 int8 entries, then 256 float32', () => {
    const op = opDef('silu');
    const t = activationTables('silu', { alpha: 0, beta: 0 }, chooseQParams(-4, 4), chooseQParams(-0.3, 4));
    expect(op.constants!(t).map((c) => c.byteLength)).toEqual([256, 1024]);
  });
});

// ---------------------------------------------------------------------------------------
// The kernels against the exact reference

describe.each([true, false])('table kernels (simd %s) against the exact reference', (simd) => {
  let k: KernelModule;
  beforeAll(async () => {
    k = await loadKernels({ simd });
  }, 180_000);

  it('forward: y = table[x + 128] (in place too); backward: gx = gy * d[at + 128], overwrite and accumulate, in place too', () => {
    for (const count of [1, 2, 15, 16, 17, 31, 64, 255, 256, 300]) {
      k.reset();
      const rng = new Rng(1700 + count);
      const table = Int8Array.from({ length: 256 }, () => (rng.nextU32() % 256) - 128);
      const d = randomArray(rng, 256, -2, 2);
      // Every byte (-128 and 127 included) for the longer cases.
      const x = Int8Array.from({ length: count }, (_, i) => (count >= 256 ? (i % 256) - 128 : (rng.nextU32() % 256) - 128));
      const gy = randomArray(rng, count);
      const gx0 = randomArray(rng, count);
      const y = Int8Array.from(x, (b) => table[b + 128]!);
      const g = Float32Array.from(gy, (v, i) => v * d[x[i]! + 128]!);
      const gAcc = Float32Array.from(g, (v, i) => gx0[i]! + v);
      const tp = k.i8(table);
      const dp = k.f32(d);
      const xp = k.i8(x);
      const yp = k.allocFilled(count, 0x55);
      k.kernel(TABLE_FORWARD_KERNEL)({ x: xp, y: yp, count, table: tp });
      expect(Array.from(k.readI8(yp, count)), `y ${count}`).toEqual(Array.from(y));
      k.kernel(TABLE_FORWARD_KERNEL)({ x: xp, y: xp, count, table: tp });
      expect(Array.from(k.readI8(xp, count)), `y in place ${count}`).toEqual(Array.from(y));
      const at = k.i8(x);
      const gyp = k.f32(gy);
      const gxp = k.f32(new Float32Array(count).fill(NaN));
      k.kernel(TABLE_BACKWARD_KERNEL)({ gy: gyp, at, table: dp, gx: gxp, count, accumulate: false });
      expect(Array.from(k.readF32(gxp, count)), `gx ${count}`).toEqual(Array.from(g));
      const gxa = k.f32(gx0);
      k.kernel(TABLE_BACKWARD_KERNEL)({ gy: gyp, at, table: dp, gx: gxa, count, accumulate: true });
      expect(Array.from(k.readF32(gxa, count)), `gx accumulated ${count}`).toEqual(Array.from(gAcc));
      k.kernel(TABLE_BACKWARD_KERNEL)({ gy: gyp, at, table: dp, gx: gyp, count, accumulate: false });
      expect(Array.from(k.readF32(gyp, count)), `gx in place ${count}`).toEqual(Array.from(g));
    }
  });
});

// ---------------------------------------------------------------------------------------
// End to end

describe('table activations: a model with all five trains end to end', () => {
  const cache = new ArtifactCache();
  afterAll(() => cache.dispose());
  const spec: ModelSpec = {
    format: 'tinytrain-model@1',
    name: 'table-activations-cnn',
    input: [28, 28, 1],
    inputRange: [0, 1],
    seed: 5,
    layers: [
      { op: 'conv2d', name: 'c1', filters: 8, kernel: 3, stride: 2, padding: 'same' },
      { op: 'leakyrelu', name: 'a1', alpha: 0.1 },
      { op: 'conv2d', name: 'c2', filters: 12, kernel: 3, stride: 2, padding: 'same' },
      { op: 'hardswish', name: 'a2' },
      { op: 'conv2d', name: 'c3', filters: 12, kernel: 1 },
      { op: 'silu', name: 'a3' },
      { op: 'flatten', name: 'flat' },
      { op: 'dense', name: 'fc1', units: 32 },
      { op: 'hardsigmoid', name: 'a4' },
      { op: 'dense', name: 'fc2', units: 32 },
      { op: 'sigmoid', name: 'a5' },
      { op: 'dense', name: 'fc', units: 10 },
    ],
  };
  const train = mnist('train');
  // Pretrained in float32 (the ops' float reference) on digits 0-4, then trained in int8 on the device on 5-9.
  const pretrained = () => pretrain(spec, filterClasses(train, [0, 1, 2, 3, 4]), { steps: 3000, lr: 0.05, momentum: 0, seed: 1 });
  let pre: ReturnType<typeof pretrained> | undefined;
  const built = () => {
    pre ??= pretrained();
    return cache.get('table-cnn', pre.spec, { target: getTarget('stm32f746'), scheme: fullScheme(buildGraph(pre.spec)), momentum: 0.9 });
  };
  const high = filterClasses(train, [5, 6, 7, 8, 9]);

  it(
    'the float reference learns digits 0-4; its runtime calls the table kernels and learns 5-9 in int8 (loss falls)',
    { tags: [SLOW] },
    async () => {
      const { artifact, loaded } = await built();
      expect(pre!.summary.accuracy).toBeGreaterThan(0.8);
      for (const label of ['n1_leakyrelu', 'n3_hardswish', 'n5_silu', 'n8_hardsigmoid', 'n10_sigmoid']) {
        expect(artifact.source).toMatch(new RegExp(`tableForwardS8\\(\\d+\\); // ${label}`));
        expect(artifact.source).toMatch(new RegExp(`tableBackwardF32\\(\\d+\\); // ${label}`));
      }
      const heldOut = filterClasses(mnist('test'), [5, 6, 7, 8, 9]);
      const rt = await Runtime.load(loaded);
      rt.reset(1);
      const before = evaluateRuntime(rt, heldOut);
      const first = trainRuntime(rt, high, { steps: 100, lr: 0.01, seed: 1 });
      trainRuntime(rt, high, { steps: 400, lr: 0.01, seed: 2 });
      const last = trainRuntime(rt, high, { steps: 100, lr: 0.01, seed: 3 });
      const after = evaluateRuntime(rt, heldOut);
      console.info(
        `[table-activations] pretrain acc ${pre!.summary.accuracy.toFixed(3)}; held-out 5-9 accuracy ${before.toFixed(3)} -> ${after.toFixed(3)}; loss ${first.loss.toFixed(3)} (steps 1-100) -> ${last.loss.toFixed(3)} (steps 501-600), skipped ${first.skipped + last.skipped}`,
      );
      // Never trained on 5-9: it cannot predict them yet. Measured: pretrain 0.925, then
      // 0.000 -> 0.476 and loss 2.606 -> 1.414; the bounds leave room for numeric changes.
      expect(before).toBeLessThan(0.05);
      expect(first.skipped + last.skipped).toBe(0);
      expect(last.loss).toBeLessThan(first.loss * 0.8);
      expect(after).toBeGreaterThan(0.35);
    },
    300_000,
  );

  it('the node result is stable: SIMD == scalar bit for bit, and the checkpoint after 100 steps is the recorded one', async () => {
    const { loaded } = await built();
    expect(await stableCheckpoint(loaded, high)).toBe(E2E_CHECKPOINT_SHA256);
  }, 300_000);
});

/** sha256 of the checkpoint above: recorded when the ops were added; a change means training changed. * Re-recorded when requantisation became TFLite's (two roundings; its int8 ADD and AVERAGE_POOL_2D
 * arithmetic), which changes the trained bytes of every int8 model.
 */
const E2E_CHECKPOINT_SHA256 = '06c9f43e784b7e414bce81b9cecdb0434c2a6fd088023cafeeb268f5ff3fe12d';
