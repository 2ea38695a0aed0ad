/**
 * maxpool (compiler/ops/maxpool.ts): its shape rule and refusals, the float reference
 * against TF.js (forward, gradient, ties), the backward rule (the argmax mask), its int8
 * kernels (assembly/kernels/maxpool.ts, SIMD and scalar builds) against the exact integer
 * reference (square and per-axis windows and strides), and a small model with a maxpool
 * layer trained end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGraph, type Node } from '../../compiler/ir/graph.js';
import type { Layer, ModelSpec } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import type { MaxpoolLayer } from '../../compiler/ops/maxpool.js';
import type { Pads } from '../../compiler/ops/padding.js';
import { MAXPOOL_BACKWARD_KERNEL, MAXPOOL_FORWARD_KERNEL } from '../../compiler/ops/maxpool-kernels.js';
import { opDef } from '../../compiler/ops/registry.js';
import { fullScheme } from '../../compiler/scheme/scheme.js';
import { filterClasses } from '../../host/data/dataset.js';
import { pretrain } from '../../host/pretrain.js';
import { Runtime } from '../../host/runtime.js';
import { evaluateRuntime, trainRuntime } from '../../host/train.js';
import { getTarget } from '../../targets/index.js';
import { loadKernels, type KernelModule } from '../support/kernel-module.js';
import { ArtifactCache, mnist } from '../support/models.js';
import { modelAround, nodeAround, plainProgram, randomArray, schemeOf, shapeError, stableCheckpoint, stepsOf } from '../support/ops.js';
import { tf, tfForwardBackward, tfPad, useTfCpu, valuesOf } from '../support/ops-float.js';
import { SLOW } from '../tiers.js';

const op = opDef('maxpool');
const pool = (o: Partial<MaxpoolLayer>): MaxpoolLayer => ({ op: 'maxpool', name: 'x', size: 2, ...o });
type Shape3 = [number, number, number];
type Padding = 'valid' | 'same' | Pads;
/** A size or stride as a layer writes it: both axes, or [rows, columns]. */
type PerAxis = number | [number, number];
const axes = (v: PerAxis): [number, number] => (typeof v === 'number' ? [v, v] : v);
const axesText = (v: PerAxis): string => axes(v).join('x');

beforeAll(useTfCpu);

describe('maxpool: shape rule', () => {
  it("size x size windows, stride defaulting to the size; 'valid' by default, 'same' as TF (ceil(H / stride))", () => {
    const { node } = nodeAround([7, 6, 3], [pool({ size: 2 })], 'x');
    expect(node.op).toBe('maxpool');
    expect(node.pool).toEqual({ ph: 2, pw: 2, sh: 2, sw: 2, pads: [0, 0, 0, 0] });
    expect(node.outShape).toEqual([3, 3, 3]);
    expect(nodeAround([7, 6, 3], [pool({ size: 3, stride: 1 })], 'x').node.outShape).toEqual([5, 4, 3]);
    expect(nodeAround([7, 6, 3], [pool({ size: 2, padding: 'valid' })], 'x').node.outShape).toEqual([3, 3, 3]);
    expect(nodeAround([7, 6, 3], [pool({ size: 2, padding: 'same' })], 'x').node.outShape).toEqual([4, 3, 3]);
    expect(nodeAround([5, 5, 1], [pool({ size: 3, stride: 1, padding: 'same' })], 'x').node.outShape).toEqual([5, 5, 1]);
    // 'same' pools over the edge even with a window larger than the input.
    expect(nodeAround([3, 2, 1], [pool({ size: 4, padding: 'same' })], 'x').node.outShape).toEqual([1, 1, 1]);
    // 'same' keeps TF's split: the smaller half before.
    expect(nodeAround([7, 6, 3], [pool({ size: 2, padding: 'same' })], 'x').node.pool!.pads).toEqual([0, 0, 1, 0]);
  });

  it('per-axis windows and strides, [PH, PW] and [SH, SW] (the stride defaulting to the size per axis); same per axis', () => {
    // magic_wand's second pool: a 3x1 window over 42x1x16.
    const wand = nodeAround([42, 1, 16], [pool({ size: [3, 1] })], 'x').node;
    expect(wand.pool).toEqual({ ph: 3, pw: 1, sh: 3, sw: 1, pads: [0, 0, 0, 0] });
    expect(wand.outShape).toEqual([14, 1, 16]);
    const strided = nodeAround([9, 8, 2], [pool({ size: [2, 3], stride: [1, 2] })], 'x').node;
    expect(strided.outShape).toEqual([8, 3, 2]); // floor((9 - 2) / 1) + 1, floor((8 - 3) / 2) + 1
    // 'same' per axis: rows ceil(7 / 2) = 4 outputs pad (4 - 1) * 2 + 3 - 7 = 2 (1 above, 1 below); columns 6 outputs pad 1 (after).
    const same = nodeAround([7, 6, 3], [pool({ size: [3, 2], stride: [2, 1], padding: 'same' })], 'x').node;
    expect(same.pool).toEqual({ ph: 3, pw: 2, sh: 2, sw: 1, pads: [1, 0, 1, 1] });
    expect(same.outShape).toEqual([4, 6, 3]);
    expect(shapeError([6, 6, 1], [pool({ size: [2, 1], padding: [1, 1, 0, 0] })])).toBe("model layer 0 ('x'): padding [1, 1, 0, 0] is not less than the 2x1 window on every side");
    expect(shapeError([2, 5, 1], [pool({ size: [3, 1] })])).toBe("model layer 0 ('x'): pool 3x1 is larger than the 2x5 input");
  });

  it('per side [top, left, bottom, right] as ONNX pads; each side less than the window', () => {
    const { node } = nodeAround([6, 6, 1], [pool({ size: 3, stride: 2, padding: [1, 0, 1, 2] })], 'x');
    expect(node.pool!.pads).toEqual([1, 0, 1, 2]);
    expect(node.outShape).toEqual([3, 3, 1]); // floor((6 + 2 - 3) / 2) + 1, floor((6 + 2 - 3) / 2) + 1
    expect(shapeError([6, 6, 1], [pool({ size: 2, padding: [2, 0, 0, 0] })])).toBe("model layer 0 ('x'): padding [2, 0, 0, 0] is not less than the 2x2 window on every side");
  });

  it('refuses a valid window larger than the input, and windows of more than 256 positions (the mask keeps an argmax in a byte)', () => {
    expect(shapeError([3, 5, 1], [pool({ size: 4 })])).toBe("model layer 0 ('x'): pool 4 is larger than the 3x5 input");
    expect(shapeError([20, 20, 1], [pool({ size: 17 })])).toBe("model layer 0 ('x'): the maxpool window 17x17 has 289 positions, more than 256");
    expect(shapeError([4, 300, 1], [pool({ size: [2, 129] })])).toBe("model layer 0 ('x'): the maxpool window 2x129 has 258 positions, more than 256");
    expect(nodeAround([16, 16, 1], [pool({ size: 16 })], 'x').node.outShape).toEqual([1, 1, 1]);
    expect(nodeAround([8, 64, 1], [pool({ size: [8, 32] })], 'x').node.outShape).toEqual([1, 2, 1]);
    expect(nodeAround([1, 256, 1], [pool({ size: [1, 256] })], 'x').node.outShape).toEqual([1, 1, 1]);
  });

  it('refuses other paddings in the model file, naming the ones it takes', () => {
    expect(() => buildGraph(modelAround([4, 4, 1], [{ op: 'maxpool', name: 'x', size: 2, padding: 1 } as unknown as Layer]))).toThrow(
      /expected 'valid', 'same' or \[top, left, bottom, right\]/,
    );
  });
});

/** TF.js's maxPool of x [H, W, C] and the gradient of sum(gy * maxPool(x)). */
function tfMaxPool(x: Float32Array, input: Shape3, size: PerAxis, stride: PerAxis, padding: Padding, gy: Float32Array) {
  const [k, s] = [axes(size), axes(stride)];
  // Per side: TF.js pools a tensor padded with -1e30, which is never a window's max.
  const run = (t: tf.Tensor) =>
    typeof padding === 'string' ? tf.maxPool(t as tf.Tensor4D, k, s, padding) : tf.maxPool(tf.pad(t as tf.Tensor4D, tfPad(padding), -1e30), k, s, 'valid');
  const ref = tfForwardBackward(run, [tf.tensor4d(x, [1, ...input])], gy);
  return { y: ref.y, gx: valuesOf(ref.grads[0]!) };
}

describe('maxpool: float reference against TF.js', () => {
  const cases: Array<{ input: Shape3; size: PerAxis; stride: PerAxis; padding: Padding }> = [
    { input: [6, 6, 3], size: 2, stride: 2, padding: 'valid' },
    { input: [7, 5, 4], size: 3, stride: 2, padding: 'valid' },
    { input: [5, 5, 2], size: 2, stride: 1, padding: 'valid' },
    { input: [7, 5, 3], size: 2, stride: 2, padding: 'same' },
    { input: [5, 6, 2], size: 3, stride: 1, padding: 'same' },
    { input: [8, 7, 1], size: 4, stride: 3, padding: 'same' },
    { input: [6, 6, 2], size: 3, stride: 2, padding: [1, 0, 1, 2] },
    { input: [5, 4, 3], size: 2, stride: 1, padding: [0, 1, 1, 0] },
    // Per axis: a 3x1 window (magic_wand's), unequal strides, 'same' per axis, per-side pads on a non-square window.
    { input: [12, 3, 4], size: [3, 1], stride: [3, 1], padding: 'valid' },
    { input: [9, 8, 2], size: [2, 3], stride: [1, 2], padding: 'valid' },
    { input: [7, 6, 3], size: [3, 2], stride: [2, 1], padding: 'same' },
    { input: [7, 9, 3], size: [3, 2], stride: [2, 3], padding: [1, 0, 2, 1] },
  ];
  const nodeOf = (c: (typeof cases)[number]): Node => nodeAround(c.input, [pool({ size: c.size, stride: c.stride, padding: c.padding })], 'x').node;

  for (const [i, c] of cases.entries()) {
    it(`${c.input.join('x')} size ${axesText(c.size)} stride ${axesText(c.stride)} ${c.padding}`, () => {
      const rng = new Rng(700 + i);
      const node = nodeOf(c);
      const x = randomArray(rng, c.input[0] * c.input[1] * c.input[2]);
      const gy = randomArray(rng, node.outShape[0] * node.outShape[1] * node.outShape[2]);
      const ref = tfMaxPool(x, c.input, c.size, c.stride, c.padding, gy);
      const y = op.float.forward(node, [x], undefined);
      // A max is one of its inputs: exactly TF.js's. A gradient element sums at most
      // ceil(PH / SH) * ceil(PW / SW) output gradients (at most 4 here, each of magnitude < 1):
      // within float32 rounding of theirs, far inside 6 decimals.
      expect(Array.from(y)).toEqual(Array.from(ref.y));
      const g = op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: true }).inputs[0]!;
      expect(g.length).toBe(ref.gx.length);
      for (let j = 0; j < g.length; j++) expect(g[j]!).toBeCloseTo(ref.gx[j]!, 6);
      expect(op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: false }).inputs).toEqual([null]);
    });
  }

  it("ties: the gradient goes to the window's first max in row-major order, as TF.js's", () => {
    let tied = 0;
    for (const [i, c] of cases.entries()) {
      const rng = new Rng(800 + i);
      const node = nodeOf(c);
      // Three values only: most windows hold their max more than once.
      const x = Float32Array.from({ length: c.input[0] * c.input[1] * c.input[2] }, () => rng.nextU32() % 3);
      // Powers of two: every sum of them is exact, so the gradients must be equal, not close.
      const gy = Float32Array.from({ length: node.outShape[0] * node.outShape[1] * node.outShape[2] }, (_, j) => 2 ** (j % 7));
      const ref = tfMaxPool(x, c.input, c.size, c.stride, c.padding, gy);
      const y = op.float.forward(node, [x], undefined);
      expect(Array.from(y)).toEqual(Array.from(ref.y));
      const g = op.float.backward(node, { x: [x], y, gy, params: undefined, wantInputGrad: true }).inputs[0]!;
      expect(Array.from(g), c.input.join('x')).toEqual(Array.from(ref.gx));
      tied += y.filter((v) => v === 2).length;
    }
    expect(tied).toBeGreaterThan(20);
    // One 2x2 window of four equal values: all of the gradient to its top-left input.
    const { node } = nodeAround([2, 2, 1], [pool({ size: 2 })], 'x');
    const g = op.float.backward(node, { x: [new Float32Array([5, 5, 5, 5])], y: new Float32Array([5]), gy: new Float32Array([3]), params: undefined, wantInputGrad: true });
    expect(Array.from(g.inputs[0]!)).toEqual([3, 0, 0, 0]);
  });
});

describe('maxpool: quantisation and backward rule', () => {
  const layers: Layer[] = [{ op: 'conv2d', name: 'pre', filters: 2, kernel: 3, padding: 1, activation: 'relu' }, pool({})];
  const graph = buildGraph(modelAround([6, 6, 1], layers));

  it("shares its input's quantisation: no requantisation, nothing to prepare", () => {
    expect(op.sharesInputQuant).toBe(true);
    expect(op.prepare).toBeUndefined();
  });

  it('an input gradient when the layer below trains, reading the argmax mask its forward saves (a byte per output); nothing otherwise', () => {
    const p = plainProgram(graph, schemeOf({ pre: { bias: true } }));
    expect(stepsOf(p, 'x')).toEqual({ forward: ['forward'], backward: ['inputGrad'], updates: [] });
    expect(p.steps.find((s) => s.kind === 'forward' && s.node.name === 'x')!.writes).toEqual(['act:x', 'save:x']);
    expect(p.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'x')!.reads).toEqual(['grad:x', 'save:x']);
    expect(p.sizes.get('save:x')).toBe(3 * 3 * 2);
    // Not the input: the conv below keeps no int8 copy of its output for this pool's backward.
    expect(p.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'x')!.reads).not.toContain('act:pre');
    const frozen = plainProgram(graph, schemeOf({ tail_fc: { bias: true } }));
    expect(stepsOf(frozen, 'x')).toEqual({ forward: ['forward'], backward: [], updates: [] });
    expect(frozen.steps.find((s) => s.kind === 'forward' && s.node.name === 'x')!.writes).toEqual(['act:x']);
    expect(frozen.sizes.has('save:x')).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------
// The int8 kernels against the exact reference

interface KernelCase {
  H: number;
  W: number;
  C: number;
  ph: number;
  pw: number;
  sh: number;
  sw: number;
  padH: number;
  padW: number;
  OH: number;
  OW: number;
}

/** A case as the op's shape rule and window would set it up. */
function kernelCase(H: number, W: number, C: number, size: PerAxis, stride: PerAxis, padding: Padding): KernelCase {
  const { node } = nodeAround([H, W, C], [pool({ size, stride, padding })], 'x');
  const [OH, OW] = node.outShape;
  const { ph, pw, sh, sw, pads } = node.pool!;
  return { H, W, C, ph, pw, sh, sw, padH: pads[0], padW: pads[1], OH, OW };
}

/** The exact reference: each output's first max (row-major window order) and its index kh * PW + kw; then the gradient, summed in output order as float32. */
function reference(c: KernelCase, x: Int8Array, gy: Float32Array, gx0: Float32Array | undefined) {
  const y = new Int8Array(c.OH * c.OW * c.C);
  const mask = new Uint8Array(y.length);
  const gx = gx0 ? gx0.slice() : new Float32Array(c.H * c.W * c.C);
  for (let oh = 0; oh < c.OH; oh++)
    for (let ow = 0; ow < c.OW; ow++)
      for (let ch = 0; ch < c.C; ch++) {
        let best = -129;
        let at = -1;
        let k = 0;
        for (let kh = 0; kh < c.ph; kh++)
          for (let kw = 0; kw < c.pw; kw++) {
            const ih = oh * c.sh - c.padH + kh;
            const iw = ow * c.sw - c.padW + kw;
            if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
            const i = (ih * c.W + iw) * c.C + ch;
            if (x[i]! > best) [best, at, k] = [x[i]!, i, kh * c.pw + kw];
          }
        const o = (oh * c.OW + ow) * c.C + ch;
        y[o] = best;
        mask[o] = k;
        gx[at] = Math.fround(gx[at]! + gy[o]!);
      }
  return { y, mask, gx };
}

function kernelCases(): KernelCase[] {
  const out: KernelCase[] = [];
  for (let C = 1; C <= 17; C++) {
    out.push(kernelCase(5, 7, C, 2, 2, C % 2 ? 'same' : 'valid'), kernelCase(7, 5, C, 3, C % 3 === 0 ? 1 : 2, C % 2 ? 'valid' : 'same'));
    // Per axis on every channel count: a 3x1 window at strides [3, 1], a 2x3 one at [1, 2].
    out.push(kernelCase(10, 3, C, [3, 1], [3, 1], C % 2 ? 'valid' : 'same'), kernelCase(6, 9, C, [2, 3], [1, 2], C % 2 ? 'same' : [1, 0, 0, 2]));
  }
  out.push(
    kernelCase(9, 11, 33, 3, 2, 'same'),
    kernelCase(6, 6, 32, 2, 2, 'valid'),
    kernelCase(3, 3, 5, 5, 1, 'same'),
    kernelCase(16, 17, 3, 16, 1, 'valid'),
    kernelCase(1, 1, 19, 1, 1, 'valid'),
    kernelCase(6, 7, 9, 3, 2, [2, 0, 1, 2]),
    kernelCase(5, 5, 4, 2, 1, [0, 1, 1, 0]),
    kernelCase(42, 1, 16, [3, 1], [3, 1], 'valid'),
    kernelCase(11, 9, 33, [3, 2], [2, 3], 'same'),
    // The largest mask index: 8x32 windows (index up to 255), stride [1, 4].
    kernelCase(9, 40, 18, [8, 32], [1, 4], 'valid'),
  );
  return out;
}

describe.each([true, false])('maxpool kernels (simd %s) against the exact reference', (simd) => {
  let k: KernelModule;
  beforeAll(async () => {
    k = await loadKernels({ simd });
  }, 180_000);
  const label = (c: KernelCase) => `${c.H}x${c.W}x${c.C} window ${c.ph}x${c.pw} stride ${c.sh}x${c.sw} pad ${c.padH},${c.padW}`;

  it('forward: the max and its first index, ties included; backward: each gradient to it (overwrite and accumulate)', () => {
    const cases = kernelCases();
    let tiedWindows = 0;
    for (const [i, c] of cases.entries()) {
      k.reset();
      const rng = new Rng(900 + i);
      // Half the cases over all of int8 (-128 and 127 included), half over four values: ties.
      const span = i % 2 ? 256 : 4;
      const x = Int8Array.from({ length: c.H * c.W * c.C }, (_, j) => (j % 97 === 5 ? -128 : (rng.nextU32() % span) - (span === 256 ? 128 : 0)));
      const gy = randomArray(rng, c.OH * c.OW * c.C);
      const gx0 = randomArray(rng, c.H * c.W * c.C);
      const ref = reference(c, x, gy, undefined);
      const acc = reference(c, x, gy, gx0);
      const n = c.OH * c.OW * c.C;
      const xp = k.i8(x);
      const yp = k.allocFilled(n, 0x55);
      const mp = k.allocFilled(n, 0xee);
      const window = { PH: c.ph, PW: c.pw, strideH: c.sh, strideW: c.sw, padH: c.padH, padW: c.padW };
      k.kernel(MAXPOOL_FORWARD_KERNEL)({ x: xp, H: c.H, W: c.W, C: c.C, y: yp, OH: c.OH, OW: c.OW, mask: mp, ...window });
      expect(Array.from(k.readI8(yp, n)), `${label(c)} y`).toEqual(Array.from(ref.y));
      expect(Array.from(k.readBytes(mp, n)), `${label(c)} mask`).toEqual(Array.from(ref.mask));
      tiedWindows += ref.mask.filter((m) => m === 0).length;
      // Without a mask (no input gradient): the same output, and nothing written besides it.
      const y2 = k.allocFilled(n, 0x55);
      const before = k.readBytes(0, k.capacity);
      k.kernel(MAXPOOL_FORWARD_KERNEL)({ x: xp, H: c.H, W: c.W, C: c.C, y: y2, OH: c.OH, OW: c.OW, mask: 0, ...window });
      const after = k.readBytes(0, k.capacity);
      expect(Array.from(k.readI8(y2, n))).toEqual(Array.from(ref.y));
      expect(after.findIndex((v, j) => v !== before[j] && (j < y2 || j >= y2 + n))).toBe(-1);
      const backward = (gx: number, accumulate: boolean) =>
        k.kernel(MAXPOOL_BACKWARD_KERNEL)({ gy: k.f32(gy), OH: c.OH, OW: c.OW, mask: mp, gx, H: c.H, W: c.W, C: c.C, accumulate, ...window });
      const gxp = k.f32(new Float32Array(c.H * c.W * c.C).fill(NaN));
      backward(gxp, false);
      expect(Array.from(k.readF32(gxp, c.H * c.W * c.C)), `${label(c)} gx`).toEqual(Array.from(ref.gx));
      const gxa = k.f32(gx0);
      backward(gxa, true);
      expect(Array.from(k.readF32(gxa, c.H * c.W * c.C)), `${label(c)} gx accumulated`).toEqual(Array.from(acc.gx));
    }
    expect(tiedWindows).toBeGreaterThan(100);
  });
});

// ---------------------------------------------------------------------------------------
// End to end

describe('maxpool: a model with maxpool layers trains end to end', () => {
  const cache = new ArtifactCache();
  afterAll(() => cache.dispose());
  const spec: ModelSpec = {
    format: 'tinytrain-model@1',
    name: 'maxpool-cnn',
    input: [28, 28, 1],
    inputRange: [0, 1],
    seed: 3,
    layers: [
      { op: 'conv2d', name: 'c1', filters: 8, kernel: 3, padding: 'same', activation: 'relu' },
      { op: 'maxpool', name: 'p1', size: 2 },
      { op: 'conv2d', name: 'c2', filters: 12, kernel: 3, stride: 2, padding: 'same', activation: 'relu' },
      { op: 'maxpool', name: 'p2', size: 3, stride: 2, padding: 'same' },
      { op: 'flatten', name: 'flat' },
      { op: 'dense', name: 'fc', units: 10 },
    ],
  };
  const train = mnist('train');
  // Pretrained in float32 (the op's float reference) on digits 0-4, then trained in int8 on the device on 5-9.
  const pretrained = () => pretrain(spec, filterClasses(train, [0, 1, 2, 3, 4]), { steps: 1500, lr: 0.01, momentum: 0, seed: 1 });
  let pre: ReturnType<typeof pretrained> | undefined;
  const built = () => {
    pre ??= pretrained();
    return cache.get('maxpool-cnn', pre.spec, { target: getTarget('stm32f746'), scheme: fullScheme(buildGraph(pre.spec)), momentum: 0.9 });
  };
  const high = filterClasses(train, [5, 6, 7, 8, 9]);

  // Full tier only (SLOW): 600 steps and two held-out evaluations; the fast tier keeps the
  // bit-identity test below on the same artifact.
  it(
    'the float reference learns digits 0-4; its runtime calls the maxpool kernels and learns 5-9 in int8',
    { tags: [SLOW] },
    async () => {
      const { artifact, loaded } = await built();
      expect(pre!.summary.accuracy).toBeGreaterThan(0.8);
      expect(artifact.source).toMatch(/maxpoolForwardS8\(\d+\); \/\/ n1_maxpool/);
      expect(artifact.source).toMatch(/maxpoolBackwardF32\(\d+\); \/\/ n3_maxpool/);
      const heldOut = filterClasses(mnist('test'), [5, 6, 7, 8, 9]);
      const rt = await Runtime.load(loaded);
      rt.reset(1);
      const before = evaluateRuntime(rt, heldOut);
      const summary = trainRuntime(rt, high, { steps: 600, lr: 0.01, seed: 1 });
      const after = evaluateRuntime(rt, heldOut);
      console.info(
        `[maxpool] pretrain acc ${pre!.summary.accuracy.toFixed(3)}; held-out 5-9 accuracy ${before.toFixed(3)} -> ${after.toFixed(3)} after 600 steps (train acc ${summary.accuracy.toFixed(3)}, skipped ${summary.skipped})`,
      );
      // Never trained on 5-9: it cannot predict them yet. Measured: pretrain 0.902, then
      // 0.000 -> 0.505 (chance over 5 classes is 0.2); 0.35 leaves room for numeric changes.
      expect(before).toBeLessThan(0.05);
      expect(summary.skipped).toBe(0);
      expect(after).toBeGreaterThan(0.35);
    },
    300_000,
  );

  it('the node result is stable: SIMD == scalar bit for bit, and the checkpoint after 100 steps is the recorded one', async () => {
    const { loaded } = await built();
    expect(await stableCheckpoint(loaded, high)).toBe(E2E_CHECKPOINT_SHA256);
  }, 300_000);
});

/** sha256 of the checkpoint above: recorded when the op was added; a change means training changed. * Re-recorded when requantisation became TFLite's (two roundings; its int8 ADD and AVERAGE_POOL_2D
 * arithmetic), which changes the trained bytes of every int8 model.
 */
const E2E_CHECKPOINT_SHA256 = '4524c384af2c0053e28cd44f2eb2b4c12cda3cddd770c9c381d4259e357256b9';
