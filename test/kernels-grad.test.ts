/**
 * Every backward rule of the kernel library checked against TensorFlow.js autodiff.
 *
 * Each op is run by TF.js in float32 on the dequantised tensors
 *   x_real = (xq - zx) * sx,   W_real[co,...] = wq * wScale[co],   b_real = bq * wScale * sx
 * with the loss L = sum(gy * op(x, W, b)), and tf.grads gives dL/dx, dL/dW, dL/db. The
 * kernels give the same quantities:
 *   dL/dx      conv2dBackwardInputF32 / avgpoolBackwardF32 / clampBackwardF32 / gradInto /
 *              softmaxCrossEntropyS8 (wrt the real logits)
 *   dL/dW      conv2dWeightGradF32 (real units, written out), and the fused
 *              conv2dWeightUpdateS8 with a zeroed velocity buffer, mu = 0, lr = 0: the
 *              velocity then holds the integer-domain direction g~ exactly, which is
 *              G/wScale[co] with qas and G*wScale[co] without; the weights stay unchanged.
 *   dL/db      biasGradF32, and biasUpdateAllS32 with the same trick:
 *              g~ = G_b/(wScale*sx) or G_b*(wScale*sx).
 * Sparse update (the weights reading the first K input channels, in a slice of their
 * own) is checked the same way against the matching slice of TF's full dL/dW.
 *
 * TOLERANCE. Both sides compute the same sums of products in float32 (TF's CPU backend
 * even accumulates in float64), just in a different order and with the scales applied
 * at different points. For a result r = sum_{k<n} t_k computed with at most n + c float32
 * roundings on each side (products, the scale multiplications, the running sum, the final
 * division by the scale), the standard error bound of recursive summation (Higham,
 * "Accuracy and Stability of Numerical Algorithms", sec. 3.1/4.2) is
 *     |computed - exact| <= gamma_{n+c} * S,   S = sum_k |t_k|,   gamma_m = m u/(1 - m u),
 * u = 2^-24, whatever the order. Hence, element by element,
 *     |kernel - tf| <= 2 * gamma_{n+6} * S        (c = 6 covers the extra roundings)
 * where n is an upper bound on the number of terms feeding that element and S is computed
 * by TF from the same op on |gy|, |x|, |W| (same graph, absolute values). This is a
 * rigorous worst-case bound, not a fitted one: it scales with the conditioning of each
 * individual sum, and is usually far tighter than a blanket 1e-4*max|ref| (it gets to
 * ~1e-6 relative for small sums). A kernel that drops or double counts one term, uses a
 * wrong tap or a wrong scale exceeds it by orders of magnitude. Special cases (masks,
 * softmax) state their own bound below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// The Node (CJS) bundle of tfjs-core ships no gradient functions; they are registered by
// this ESM module (registries and engine are process globals, so both copies share them).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { quantizeMultiplier } from '../compiler/quantize/fixedpoint.js';
import {
  type ConvCase,
  type Layer,
  type TensorData as T,
  KernelModule,
  Rng,
  U32,
  channelSlice,
  convLabel as label,
  f32,
  fromTfFilter,
  gamma,
  loadKernels,
  makeLayer,
  randomConvCases as randomCases,
  toTfFilter,
} from './support/kernel-module.js';

let km: KernelModule;
/** Largest observed |kernel - tf| / tolerance per check, printed with TINYTRAIN_TEST_VERBOSE=1. */
const worst = new Map<string, number>();

beforeAll(async () => {
  await tf.setBackend('cpu');
  tf.env().set('DEBUG', false);
  km = await loadKernels({ simd: true });
}, 180_000);

afterAll(() => {
  if (process.env.TINYTRAIN_TEST_VERBOSE) {
    for (const [k, v] of [...worst].sort()) console.info(`worst error/tolerance ${v.toExponential(2)}  ${k}`);
  }
});

// ---------------------------------------------------------------------------------------
// helpers

/** Element-wise |got - ref| <= tol[i]; reports the first offenders with their indices. */
function expectClose(what: string, got: ArrayLike<number>, ref: ArrayLike<number>, tol: ArrayLike<number> | number): void {
  expect(got.length, `${what}: length`).toBe(ref.length);
  const bad: string[] = [];
  let ratio = 0;
  for (let i = 0; i < ref.length; i++) {
    const t = typeof tol === 'number' ? tol : tol[i]!;
    const e = Math.abs(got[i]! - ref[i]!);
    if (!(e <= t)) {
      if (bad.length < 5) bad.push(`[${i}] kernel ${got[i]} tf ${ref[i]} |diff| ${e.toExponential(3)} > tol ${t.toExponential(3)}`);
      else if (bad.length === 5) bad.push('...');
    }
    if (t > 0) ratio = Math.max(ratio, e / t);
    else if (e > 0) ratio = Infinity;
  }
  const key = what.replace(/ \(case.*$/, '');
  worst.set(key, Math.max(worst.get(key) ?? 0, ratio));
  expect(bad, `${what}: elements outside tolerance`).toEqual([]);
}

/** 2 * gamma_{n+6} * S, element-wise (see the header). */
function sumBound(nTerms: number, S: ArrayLike<number>, scale = 1): Float64Array {
  const g = 2 * gamma(nTerms + 6);
  const t = new Float64Array(S.length);
  for (let i = 0; i < S.length; i++) t[i] = g * Math.abs(S[i]!) * scale;
  return t;
}

/** tf.grads of f at the given inputs, as plain arrays. */
function tfGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: T[]): Float32Array[] {
  return tf.tidy(() => {
    const ts = inputs.map((t) => tf.tensor(Float32Array.from(t.data), t.shape, 'float32'));
    return tf
      .grads(f)(ts)
      .map((g) => g.dataSync() as Float32Array);
  });
}

const absArr = (a: ArrayLike<number>): Float32Array => Float32Array.from(a, Math.abs);
const absT = (t: T): T => ({ data: absArr(t.data), shape: t.shape });

/**
 * Reference gradients and the matching bound magnitudes: grads of sum(gy * op(...)) and
 * of sum(|gy| * op(|...|)) (the latter is S for every output, see the header).
 */
function refAndAbs(op: (...xs: tf.Tensor[]) => tf.Tensor, gy: T, inputs: T[]): { ref: Float32Array[]; abs: Float32Array[] } {
  const loss =
    (g: T) =>
    (...xs: tf.Tensor[]) =>
      tf.sum(tf.mul(op(...xs), tf.tensor(Float32Array.from(g.data), g.shape)));
  return { ref: tfGrads(loss(gy), inputs), abs: tfGrads(loss(absT(gy)), inputs.map(absT)) };
}

/** TF conv with explicit zero padding (symmetric per axis) then a 'valid' convolution at the case's strides, plus bias. */
function tfConv(c: ConvCase) {
  return (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor => {
    const xp =
      c.pad > 0 || (c.padW ?? 0) > 0
        ? tf.pad(x as tf.Tensor4D, [
            [0, 0],
            [c.pad, c.pad],
            [c.padW ?? c.pad, c.padW ?? c.pad],
            [0, 0],
          ])
        : (x as tf.Tensor4D);
    const strides: [number, number] = [c.stride, c.strideW ?? c.stride];
    const y = c.depthwise ? tf.depthwiseConv2d(xp, w as tf.Tensor4D, strides, 'valid') : tf.conv2d(xp, w as tf.Tensor4D, strides, 'valid');
    return tf.add(y, b);
  };
}

/** Kernel input gradient; gx is prefilled (NaN unless `prefill` is given) to catch stale data. */
function kernelInputGrad(c: ConvCase, L: Layer, gy: ArrayLike<number>, prefill?: Float32Array): Float32Array {
  km.reset();
  const n = c.H * c.W * c.C;
  const pGy = km.f32(gy);
  const pW = km.i8(L.wq);
  const pS = km.f32(L.wScale);
  const pGx = km.f32(prefill ?? new Float32Array(n).fill(NaN));
  km.k.conv2dBackwardInputF32({
    gy: pGy,
    OH: L.OH,
    OW: L.OW,
    CO: c.CO,
    w: pW,
    wScale: pS,
    gx: pGx,
    H: c.H,
    W: c.W,
    C: c.C,
    KH: c.KH,
    KW: c.KW,
    stride: c.stride,
    pad: c.pad,
    strideW: c.strideW,
    padW: c.padW,
    depthwise: c.depthwise,
    accumulate: prefill !== undefined,
    w2: 0,
    split: 0,
  });
  return km.readF32(pGx, n);
}

/** Bytes on each side of a kernel output buffer, filled with a sentinel that must survive. */
const GUARD = 32;
const SENTINEL = 0xa5;

/** A buffer of `bytes` bytes between two sentinel guards; `intact()` says whether both survived. */
function guarded(bytes: number): { p: number; intact: () => boolean } {
  const base = km.allocFilled(bytes + 2 * GUARD, SENTINEL);
  const p = base + GUARD;
  const intact = () => [...km.readBytes(base, GUARD), ...km.readBytes(p + bytes, GUARD)].every((v) => v === SENTINEL);
  return { p, intact };
}

interface WeightGradOpts {
  /** Trained leading input channels (depthwise: channels); default all (C). */
  K?: number;
  /** x holds only the K saved channels (saveChannelsS8, XC = K) instead of all C. */
  saved?: boolean;
  /** Learning rate of the fused update (default 0: the weights must not move). */
  lr?: number;
}

/**
 * Weight gradient of the slice of the first K channels, two ways: conv2dWeightGradF32
 * (`grad`, real units) and the integer-domain g~ read through the velocity trick of the
 * fused conv2dWeightUpdateS8 (`vel`; mu = 0, lr = 0 unless given). Also returns the slice
 * weights afterwards. Every output buffer holds exactly the slice and sits between
 * guards: nothing outside it may be written.
 */
function kernelWeightGrad(c: ConvCase, L: Layer, gy: ArrayLike<number>, qas: boolean, opts: WeightGradOpts = {}) {
  const K = opts.K ?? c.C;
  const wSlice = Int8Array.from(channelSlice(c, L.wq, 0, K));
  const n = wSlice.length;
  const P = c.H * c.W;
  km.reset();
  const pGy = km.f32(gy);
  const pX = km.i8(L.xq);
  let pXin = pX;
  let XC = c.C;
  if (opts.saved) {
    const xs = guarded(P * K);
    km.k.saveChannelsS8({ x: pX, P, C: c.C, K, out: xs.p });
    expect(xs.intact(), 'saveChannelsS8 wrote outside its output').toBe(true);
    pXin = xs.p;
    XC = K;
  }
  const w = guarded(n);
  km.writeI8(w.p, wSlice);
  const pS = km.f32(L.wScale);
  const vel = guarded(n * 4);
  km.writeF32(vel.p, new Float32Array(n));
  const grad = guarded(n * 4);
  km.writeF32(grad.p, new Float32Array(n).fill(NaN));
  const pR = km.rng(0xc0ffee);
  km.k.conv2dWeightUpdateS8(
    {
      gy: pGy,
      OH: L.OH,
      OW: L.OW,
      CO: c.CO,
      x: pXin,
      H: c.H,
      W: c.W,
      XC,
      zx: L.zx,
      sx: L.sx,
      w: w.p,
      wScale: pS,
      vel: vel.p,
      KH: c.KH,
      KW: c.KW,
      stride: c.stride,
      pad: c.pad,
      strideW: c.strideW,
      padW: c.padW,
      depthwise: c.depthwise,
      K,
    },
    opts.lr ?? 0,
    0,
    qas,
    pR,
  );
  km.k.conv2dWeightGradF32({
    gy: pGy,
    OH: L.OH,
    OW: L.OW,
    CO: c.CO,
    x: pXin,
    H: c.H,
    W: c.W,
    XC,
    zx: L.zx,
    sx: L.sx,
    KH: c.KH,
    KW: c.KW,
    stride: c.stride,
    pad: c.pad,
    strideW: c.strideW,
    padW: c.padW,
    depthwise: c.depthwise,
    K,
    out: grad.p,
  });
  expect(w.intact() && vel.intact() && grad.intact(), `writes outside the slice of ${K} channels`).toBe(true);
  return { vel: km.readF32(vel.p, n), w: km.readI8(w.p, n), grad: km.readF32(grad.p, n), w0: wSlice };
}

/** Bias gradient: biasGradF32 (`grad`) and g~ through the velocity trick of biasUpdateAllS32 (`vel`). */
function kernelBiasGrad(P: number, CO: number, gy: ArrayLike<number>, bq: Int32Array, wScale: Float32Array, sx: number, qas: boolean) {
  km.reset();
  const pGy = km.f32(gy);
  const pB = km.i32(bq);
  const pS = km.f32(wScale);
  const vel = guarded(CO * 4);
  km.writeF32(vel.p, new Float32Array(CO));
  const grad = guarded(CO * 4);
  km.writeF32(grad.p, new Float32Array(CO).fill(NaN));
  const pR = km.rng(7);
  km.k.biasUpdateAllS32({ gy: pGy, P, CO, bias: pB, wScale: pS, sx, vel: vel.p }, 0, 0, qas, pR);
  km.k.biasGradF32({ gy: pGy, P, CO, out: grad.p });
  expect(vel.intact() && grad.intact(), 'bias kernels wrote outside CO channels').toBe(true);
  return { vel: km.readF32(vel.p, CO), b: km.readI32(pB, CO), grad: km.readF32(grad.p, CO) };
}

/** Checks dL/dx, dL/dW (qas and not) and dL/db of one conv/depthwise/dense layer. */
function checkConvLayer(c: ConvCase, seed: number): void {
  const rng = new Rng(seed);
  const L = makeLayer(rng, c);
  const name = `${label(c)} (case ${seed})`;
  const x: T = { data: L.xReal, shape: [1, c.H, c.W, c.C] };
  const gyT: T = { data: L.gy, shape: [1, L.OH, L.OW, c.CO] };
  const { ref, abs } = refAndAbs(tfConv(c), gyT, [x, toTfFilter(c, L.wReal), { data: L.bReal, shape: [c.CO] }]);
  const [gxRef, gwRefTf, gbRef] = ref as [Float32Array, Float32Array, Float32Array];
  const [gxAbs, gwAbsTf, gbAbs] = abs as [Float32Array, Float32Array, Float32Array];

  // input gradient: each x element receives at most KH*KW*(CO or 1) terms
  const nx = c.KH * c.KW * (c.depthwise ? 1 : c.CO);
  expectClose(`dL/dx ${name}`, kernelInputGrad(c, L, L.gy), gxRef, sumBound(nx, gxAbs));
  // accumulate = true adds onto what is there (a second consumer of the same tensor)
  const prev = rng.f32s(c.H * c.W * c.C, -2, 2);
  const acc = Float32Array.from(gxRef, (v, i) => v + prev[i]!);
  const accTol = sumBound(
    nx + 1,
    Float64Array.from(gxAbs, (v, i) => v + Math.abs(prev[i]!)),
  );
  expectClose(`dL/dx accumulate ${name}`, kernelInputGrad(c, L, L.gy, prev), acc, accTol);

  // weight gradient: each weight sums over at most OH*OW output positions
  const gwRef = fromTfFilter(c, gwRefTf);
  const gwAbs = fromTfFilter(c, gwAbsTf);
  const per = c.KH * c.KW * L.cin;
  const sOf = (i: number) => L.wScale[Math.floor(i / per)]!;
  for (const qas of [true, false]) {
    const { vel, w, grad } = kernelWeightGrad(c, L, L.gy, qas);
    expectClose(`dL/dW real ${name}`, grad, gwRef, sumBound(L.OH * L.OW, gwAbs));
    const want = Float64Array.from(gwRef, (g, i) => (qas ? g / sOf(i) : g * sOf(i)));
    const tol = Float64Array.from(sumBound(L.OH * L.OW, gwAbs), (t, i) => (qas ? t / sOf(i) : t * sOf(i)));
    expectClose(`dL/dW ${qas ? 'qas' : 'no-qas'} ${name}`, vel, want, tol);
    expect(Array.from(w), `lr = 0 must leave the weights unchanged (${name})`).toEqual(Array.from(L.wq));
  }

  // bias gradient: sum of gy over the OH*OW positions of the channel
  for (const qas of [true, false]) {
    const { vel, b, grad } = kernelBiasGrad(L.OH * L.OW, c.CO, L.gy, L.bq, L.wScale, L.sx, qas);
    expectClose(`dL/db real ${name}`, grad, gbRef, sumBound(L.OH * L.OW, gbAbs));
    const sb = (i: number) => f32(L.wScale[i]! * L.sx);
    const want = Float64Array.from(gbRef, (g, i) => (qas ? g / sb(i) : g * sb(i)));
    const tol = Float64Array.from(sumBound(L.OH * L.OW, gbAbs), (t, i) => (qas ? t / sb(i) : t * sb(i)));
    expectClose(`dL/db ${qas ? 'qas' : 'no-qas'} ${name}`, vel, want, tol);
    expect(Array.from(b), `lr = 0 must leave the bias unchanged (${name})`).toEqual(Array.from(L.bq));
  }
}

// ---------------------------------------------------------------------------------------

describe('conv2d backward vs TF.js autodiff', () => {
  const fixed: ConvCase[] = [
    { H: 6, W: 6, C: 3, CO: 4, KH: 3, KW: 3, stride: 1, pad: 1, depthwise: false },
    { H: 7, W: 5, C: 8, CO: 5, KH: 3, KW: 3, stride: 2, pad: 1, depthwise: false }, // non-square image, stride 2
    { H: 9, W: 9, C: 5, CO: 6, KH: 5, KW: 5, stride: 1, pad: 2, depthwise: false }, // 5x5, pad 2
    { H: 8, W: 10, C: 16, CO: 7, KH: 5, KW: 5, stride: 2, pad: 2, depthwise: false },
    { H: 5, W: 6, C: 12, CO: 9, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false }, // pointwise
    { H: 6, W: 7, C: 10, CO: 3, KH: 1, KW: 1, stride: 2, pad: 0, depthwise: false }, // strided pointwise
    { H: 7, W: 6, C: 4, CO: 5, KH: 3, KW: 1, stride: 1, pad: 1, depthwise: false }, // non-square kernel
    { H: 5, W: 9, C: 6, CO: 4, KH: 1, KW: 5, stride: 2, pad: 2, depthwise: false },
    { H: 9, W: 7, C: 3, CO: 8, KH: 5, KW: 3, stride: 2, pad: 0, depthwise: false },
    { H: 4, W: 4, C: 9, CO: 6, KH: 3, KW: 3, stride: 1, pad: 0, depthwise: false }, // pad 0
    { H: 3, W: 3, C: 2, CO: 2, KH: 5, KW: 5, stride: 1, pad: 2, depthwise: false }, // kernel larger than image
    { H: 12, W: 12, C: 3, CO: 8, KH: 3, KW: 3, stride: 2, pad: 1, depthwise: false }, // a typical stem
    // per-axis strides and leading pads: DS-CNN's 10x4 stride-2 stem (pads 4 rows, 1 column), strides [2, 1] and [1, 3]
    { H: 49, W: 10, C: 1, CO: 6, KH: 10, KW: 4, stride: 2, pad: 4, strideW: 2, padW: 1, depthwise: false },
    { H: 9, W: 8, C: 5, CO: 4, KH: 3, KW: 3, stride: 2, pad: 1, strideW: 1, padW: 0, depthwise: false },
    { H: 1, W: 20, C: 3, CO: 5, KH: 1, KW: 5, stride: 1, pad: 0, strideW: 3, padW: 2, depthwise: false }, // a 1-D conv as H = 1
  ];
  it.each(fixed.map((c, i) => [label(c), c, 1000 + i] as const))('%s', (_n, c, seed) => checkConvLayer(c, seed));
  it('random shapes (stride 1/2, pad 0-2, kernels 1-5, non-square)', () => {
    randomCases(77, 24, false, 19, true).forEach((c, i) => checkConvLayer(c, 5000 + i));
  });
});

describe('depthwise conv2d backward vs tf.depthwiseConv2d autodiff', () => {
  const fixed: ConvCase[] = [
    { H: 8, W: 8, C: 8, CO: 8, KH: 3, KW: 3, stride: 1, pad: 1, depthwise: true },
    { H: 9, W: 7, C: 5, CO: 5, KH: 3, KW: 3, stride: 2, pad: 1, depthwise: true },
    { H: 10, W: 10, C: 6, CO: 6, KH: 5, KW: 5, stride: 2, pad: 2, depthwise: true },
    { H: 6, W: 5, C: 13, CO: 13, KH: 5, KW: 5, stride: 1, pad: 2, depthwise: true },
    { H: 7, W: 8, C: 4, CO: 4, KH: 1, KW: 3, stride: 1, pad: 1, depthwise: true },
    { H: 6, W: 6, C: 3, CO: 3, KH: 3, KW: 5, stride: 2, pad: 0, depthwise: true },
    { H: 5, W: 5, C: 7, CO: 7, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: true },
    // per-axis: 3x3 (the SIMD path, 4-channel blocks plus a tail) at strides [2, 1] and [1, 2], top != left; 10x4
    { H: 9, W: 8, C: 10, CO: 10, KH: 3, KW: 3, stride: 2, pad: 1, strideW: 1, padW: 0, depthwise: true },
    { H: 6, W: 9, C: 7, CO: 7, KH: 3, KW: 3, stride: 1, pad: 0, strideW: 2, padW: 1, depthwise: true },
    { H: 25, W: 5, C: 6, CO: 6, KH: 10, KW: 4, stride: 2, pad: 4, strideW: 2, padW: 1, depthwise: true },
  ];
  it.each(fixed.map((c, i) => [label(c), c, 2000 + i] as const))('%s', (_n, c, seed) => checkConvLayer(c, seed));
  it('random shapes', () => {
    randomCases(78, 16, true, 19, true).forEach((c, i) => checkConvLayer(c, 6000 + i));
  });
});

describe('dense backward vs tf.matMul autodiff', () => {
  function checkDense(C: number, CO: number, seed: number): void {
    const rng = new Rng(seed);
    const c: ConvCase = { H: 1, W: 1, C, CO, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false };
    const L = makeLayer(rng, c);
    const name = `dense ${C}->${CO} (case ${seed})`;
    // TF: y[1,CO] = x[1,C] . W[CO,C]^T + b (W in the kernel's own [CO, C] layout)
    const op = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D, false, true), b);
    const { ref, abs } = refAndAbs(op, { data: L.gy, shape: [1, CO] }, [
      { data: L.xReal, shape: [1, C] },
      { data: L.wReal, shape: [CO, C] },
      { data: L.bReal, shape: [CO] },
    ]);
    const [gxRef, gwRef, gbRef] = ref as [Float32Array, Float32Array, Float32Array];
    const [gxAbs, gwAbs, gbAbs] = abs as [Float32Array, Float32Array, Float32Array];
    expectClose(`dense dL/dx ${name}`, kernelInputGrad(c, L, L.gy), gxRef, sumBound(CO, gxAbs));
    for (const qas of [true, false]) {
      const { vel, grad } = kernelWeightGrad(c, L, L.gy, qas);
      expectClose(`dense dL/dW real ${name}`, grad, gwRef, sumBound(1, gwAbs));
      const s = (i: number) => L.wScale[Math.floor(i / C)]!;
      expectClose(
        `dense dL/dW ${qas ? 'qas' : 'no-qas'} ${name}`,
        vel,
        Float64Array.from(gwRef, (g, i) => (qas ? g / s(i) : g * s(i))),
        Float64Array.from(sumBound(1, gwAbs), (t, i) => (qas ? t / s(i) : t * s(i))),
      );
      const { vel: vb, grad: gb } = kernelBiasGrad(1, CO, L.gy, L.bq, L.wScale, L.sx, qas);
      expectClose(`dense dL/db real ${name}`, gb, gbRef, sumBound(1, gbAbs));
      const sb = (i: number) => f32(L.wScale[i]! * L.sx);
      expectClose(
        `dense dL/db ${qas ? 'qas' : 'no-qas'} ${name}`,
        vb,
        Float64Array.from(gbRef, (g, i) => (qas ? g / sb(i) : g * sb(i))),
        Float64Array.from(sumBound(1, gbAbs), (t, i) => (qas ? t / sb(i) : t * sb(i))),
      );
    }
  }
  it.each([
    [1, 1],
    [7, 3],
    [16, 10],
    [37, 10],
    [64, 64],
    [100, 2],
    [250, 17],
  ] as const)('dense %i -> %i', (C, CO) => checkDense(C, CO, 3000 + C * 7 + CO));
});

describe('sparse update: only the weights reading input channels [0, K) are trained', () => {
  /**
   * The trained weights are the slice [CO,KH,KW,K] (depthwise: channels [0, K)), stored on
   * their own. Their gradient must be TF's full dL/dW restricted to that slice (same bound
   * as above), whether x holds all C channels (XC = C) or only the K saved ones
   * (saveChannelsS8, XC = K; then bit-identical to XC = C: same terms, same order). With
   * lr > 0 each slice weight moves by its own step d = -lr*g~: floor(w + d + u) - w - d
   * lies in (u - 1, u], so |step - d| < 1 (all exact in f64 at these magnitudes), and
   * nothing outside the slice buffers is written (guards).
   */
  function checkSparse(c: ConvCase, K: number, seed: number): void {
    const rng = new Rng(seed);
    const L = makeLayer(rng, c);
    L.wq.set(rng.int8s(L.wq.length, -100, 100)); // room for the steps: no clamping at +-127
    const name = `${label(c)} K=${K} (case ${seed})`;
    const { ref, abs } = refAndAbs(tfConv(c), { data: L.gy, shape: [1, L.OH, L.OW, c.CO] }, [
      { data: L.xReal, shape: [1, c.H, c.W, c.C] },
      toTfFilter(c, L.wReal),
      { data: L.bReal, shape: [c.CO] },
    ]);
    const gwRef = channelSlice(c, fromTfFilter(c, ref[1]!), 0, K);
    const gwTol = sumBound(L.OH * L.OW, channelSlice(c, fromTfFilter(c, abs[1]!), 0, K));
    const per = c.KH * c.KW * (c.depthwise ? 1 : K); // slice elements per output channel
    const sOf = (i: number) => L.wScale[Math.floor(i / per)]!;
    expect(gwRef.length).toBe(c.depthwise ? K * c.KH * c.KW : c.CO * c.KH * c.KW * K);
    for (const qas of [true, false]) {
      const full = kernelWeightGrad(c, L, L.gy, qas, { K });
      expectClose(`sparse dL/dW real ${name}`, full.grad, gwRef, gwTol);
      expectClose(
        `sparse dL/dW ${qas ? 'qas' : 'no-qas'} ${name}`,
        full.vel,
        Float64Array.from(gwRef, (g, i) => (qas ? g / sOf(i) : g * sOf(i))),
        Float64Array.from(gwTol, (t, i) => (qas ? t / sOf(i) : t * sOf(i))),
      );
      expect(Array.from(full.w), 'lr = 0 must leave the slice unchanged').toEqual(Array.from(full.w0));
      const saved = kernelWeightGrad(c, L, L.gy, qas, { K, saved: true });
      expect(Array.from(saved.grad), `XC = K vs XC = C, gradient (${name})`).toEqual(Array.from(full.grad));
      expect(Array.from(saved.vel), `XC = K vs XC = C, direction (${name})`).toEqual(Array.from(full.vel));
    }
    // a real step: largest ~4 units; w_new = floor(w - lr*g~ + u) with g~ in vel (mu = 0)
    const probe = kernelWeightGrad(c, L, L.gy, true, { K });
    let maxDir = 0;
    for (const v of probe.vel) maxDir = Math.max(maxDir, Math.abs(v));
    const lr = f32(4 / maxDir);
    for (const saved of [false, true]) {
      const { vel, w, w0 } = kernelWeightGrad(c, L, L.gy, true, { K, saved, lr });
      expect(Array.from(vel)).toEqual(Array.from(probe.vel));
      let moved = 0;
      const bad: string[] = [];
      for (let i = 0; i < w.length; i++) {
        const d = -f32(lr * vel[i]!);
        const step = w[i]! - w0[i]!;
        if (step !== 0) moved++;
        if (!(Math.abs(step - d) < 1) && bad.length < 5) bad.push(`w[${i}] step ${step}, float step ${d}`);
      }
      expect(bad, `steps of the slice (${name}, saved=${saved})`).toEqual([]);
      expect(moved).toBeGreaterThan(0);
    }
  }
  const dense: Array<[ConvCase, number[]]> = [
    [{ H: 6, W: 5, C: 8, CO: 10, KH: 3, KW: 3, stride: 1, pad: 1, depthwise: false }, [1, 3, 7, 8]],
    [{ H: 7, W: 7, C: 13, CO: 5, KH: 5, KW: 3, stride: 2, pad: 2, depthwise: false }, [2, 6, 12]],
    [{ H: 5, W: 6, C: 19, CO: 7, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false }, [1, 9, 17, 18]],
    [{ H: 1, W: 1, C: 40, CO: 10, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false }, [1, 5, 33]], // dense layer
  ];
  const dw: Array<[ConvCase, number[]]> = [
    [{ H: 6, W: 5, C: 8, CO: 8, KH: 3, KW: 3, stride: 1, pad: 1, depthwise: true }, [1, 3, 7, 8]],
    [{ H: 9, W: 7, C: 13, CO: 13, KH: 5, KW: 5, stride: 2, pad: 2, depthwise: true }, [2, 6, 12]],
  ];
  const rows = [...dense, ...dw].flatMap(([c, Ks], i) => Ks.map((K) => [label(c), K, c, 4200 + i * 10 + K] as const));
  it.each(rows)('%s, K = %i', (_n, K, c, seed) => checkSparse(c, K, seed));
  it('random shapes and K', () => {
    const rng = new Rng(4300);
    [...randomCases(79, 8, false), ...randomCases(80, 6, true)].forEach((c, i) => checkSparse(c, rng.int(1, c.C), 4400 + i));
  });
});

describe('average pooling backward vs tf.avgPool / tf.mean autodiff', () => {
  function checkPool(H: number, W: number, C: number, PH: number, PW: number, SH: number, SW: number, seed: number, global: boolean): void {
    const rng = new Rng(seed);
    const OH = Math.floor((H - PH) / SH) + 1;
    const OW = Math.floor((W - PW) / SW) + 1;
    const x: T = { data: rng.f32s(H * W * C, -1, 1), shape: [1, H, W, C] };
    const gy = rng.f32s(OH * OW * C, -1, 1, 0.1);
    const op = global ? (t: tf.Tensor) => tf.mean(t, [1, 2], true) : (t: tf.Tensor) => tf.avgPool(t as tf.Tensor4D, [PH, PW], [SH, SW], 'valid');
    const { ref, abs } = refAndAbs(op, { data: gy, shape: [1, OH, OW, C] }, [x]);
    const name = `${global ? 'gap' : 'avgpool'} ${H}x${W}x${C} p${PH}x${PW} s${SH}x${SW} (case ${seed})`;
    // each input element is covered by at most ceil(PH/SH)*ceil(PW/SW) windows
    const n = Math.ceil(PH / SH) * Math.ceil(PW / SW) + 1;
    for (const accumulate of [false, true]) {
      km.reset();
      const prev = rng.f32s(H * W * C, -2, 2);
      const pGy = km.f32(gy);
      const pGx = km.f32(accumulate ? prev : new Float32Array(H * W * C).fill(NaN));
      km.k.avgpoolBackwardF32({ gy: pGy, OH, OW, gx: pGx, H, W, C, PH, PW, strideH: SH, strideW: SW, accumulate, padH: 0, padW: 0, byValidTaps: false });
      const got = km.readF32(pGx, H * W * C);
      const want = accumulate ? Float32Array.from(ref[0]!, (v, i) => v + prev[i]!) : ref[0]!;
      const S = accumulate ? Float64Array.from(abs[0]!, (v, i) => v + Math.abs(prev[i]!)) : abs[0]!;
      expectClose(`${accumulate ? 'accumulate ' : ''}dL/dx ${name}`, got, want, sumBound(n, S));
    }
  }
  it.each([
    [4, 4, 3, 2, 2, 2, 2],
    [6, 6, 5, 3, 3, 1, 1],
    [7, 5, 4, 3, 2, 2, 2],
    [9, 9, 2, 3, 3, 3, 3],
    [8, 6, 8, 2, 3, 1, 1],
    [5, 7, 3, 1, 1, 2, 2],
    [10, 10, 6, 3, 3, 4, 4],
    // Per axis: a 3x1 window (a 1-D pool over H), strides [3, 1] and [1, 2], channel tails.
    [42, 1, 17, 3, 1, 3, 1],
    [9, 8, 5, 3, 2, 1, 2],
    [6, 11, 33, 2, 4, 2, 3],
  ] as const)('avgpool %ix%ix%i pool %ix%i stride %ix%i', (H, W, C, PH, PW, sh, sw) => checkPool(H, W, C, PH, PW, sh, sw, 7000 + H * 31 + W * 7 + PH * 3 + sh, false));
  it.each([
    [1, 1, 9],
    [3, 3, 16],
    [4, 7, 10],
    [8, 8, 32],
    [7, 7, 5],
  ] as const)('global avgpool %ix%ix%i', (H, W, C) => checkPool(H, W, C, H, W, 1, 1, 8000 + H * 13 + W * 5 + C, true));
});

describe('ReLU / ReLU6 backward (mask from the int8 output) vs tf.relu / tf.relu6 autodiff', () => {
  /**
   * The pre-activation comes from the int8 conv kernel itself: zq (unclamped, lo = -128,
   * hi = 127) and y (fused clamp to [lo, hi]) from the same accumulators. TF differentiates
   * relu/relu6 of the dequantised pre-activation z = (zq - zy)*sy; the kernel masks with
   * the int8 output y (clampBackwardF32, lo = zy, hi = zy + 6/sy for ReLU6, 128 for ReLU).
   * A mask passes gy unchanged or writes 0, so the comparison is exact (tolerance 0).
   * Convention: TF passes the gradient at z == 6 exactly (x <= 6) while the kernel, which
   * only sees the clamped output and cannot tell z == 6 from z > 6, zeroes it ("strictly
   * inside (lo, hi)"); such elements are asserted to be 0 and left out of the TF comparison.
   * At z == 0 both give 0.
   */
  /** Kernel mask vs TF on pre-activations zq (int8) whose clamped output is yq. */
  function compareMask(kind: 'relu' | 'relu6', zq: Int8Array, yq: Int8Array, zy: number, sy: number, hi: number, gy: Float32Array, what: string) {
    const n = zq.length;
    km.reset();
    const pY = km.i8(yq);
    const pG = km.f32(gy);
    km.k.clampBackwardF32({ g: pG, y: pY, count: n, lo: zy, hi });
    const got = km.readF32(pG, n);
    const z = Float32Array.from(zq, (v) => (v - zy) * sy);
    const [ref] = tfGrads((t) => tf.sum(tf.mul(kind === 'relu' ? tf.relu(t) : tf.relu6(t), tf.tensor(gy, [n]))), [{ data: z, shape: [n] }]);
    const want = Float32Array.from(ref!);
    let passed = 0;
    let zeroed = 0;
    for (let i = 0; i < n; i++) {
      if (kind === 'relu6' && zq[i] === hi) {
        expect(got[i], `element ${i} at the ReLU6 top must get 0`).toBe(0);
        want[i] = 0;
      }
      if (got[i] === 0) zeroed++;
      else passed++;
    }
    expectClose(`${kind} mask ${what}`, got, want, 0);
    // the data must exercise both sides of the mask (and for ReLU6, the top)
    expect(passed).toBeGreaterThan(0);
    expect(zeroed).toBeGreaterThan(0);
    if (kind === 'relu6') expect(zq.some((v) => v > hi)).toBe(true);
  }

  function checkMask(kind: 'relu' | 'relu6', seed: number): void {
    const rng = new Rng(seed);
    const c: ConvCase = { H: rng.int(3, 9), W: rng.int(3, 9), C: rng.int(1, 12), CO: rng.int(2, 12), KH: 3, KW: 3, stride: rng.pick([1, 2]), pad: 1, depthwise: false };
    const L = makeLayer(rng, c);
    const n = L.OH * L.OW * c.CO;
    const steps = rng.int(40, 100); // ReLU6 top = zy + steps, i.e. sy = 6/steps
    const zy = rng.int(-128, 127 - steps);
    const sy = f32(6 / steps);
    const hi = kind === 'relu6' ? zy + steps : 128;
    // per-channel multiplier M = sx*s_w/sy (times 4 so the outputs span the int8 range)
    const mult = new Int32Array(c.CO);
    const shift = new Int32Array(c.CO);
    for (let co = 0; co < c.CO; co++) {
      const q = quantizeMultiplier(((L.sx * L.wScale[co]!) / sy) * 4);
      mult[co] = q.m;
      shift[co] = q.n;
    }
    km.reset();
    const pX = km.i8(L.xq);
    const pW = km.i8(L.wq);
    const pB = km.i32(L.bq);
    const pM = km.i32(mult);
    const pS = km.i32(shift);
    const pZ = km.alloc(n);
    const pY = km.alloc(n);
    const pY2 = km.alloc(n);
    km.k.conv2dForwardS8({
      x: pX,
      H: c.H,
      W: c.W,
      C: c.C,
      zx: L.zx,
      w: pW,
      bias: pB,
      mult: pM,
      shift: pS,
      y: pZ,
      OH: L.OH,
      OW: L.OW,
      CO: c.CO,
      zy,
      lo: -128,
      hi: 127,
      KH: c.KH,
      KW: c.KW,
      stride: c.stride,
      pad: c.pad,
      strideW: c.strideW,
      padW: c.padW,
      depthwise: false,
      w2: 0,
      split: 0,
    });
    km.k.conv2dForwardS8({
      x: pX,
      H: c.H,
      W: c.W,
      C: c.C,
      zx: L.zx,
      w: pW,
      bias: pB,
      mult: pM,
      shift: pS,
      y: pY,
      OH: L.OH,
      OW: L.OW,
      CO: c.CO,
      zy,
      lo: zy,
      hi: Math.min(hi, 127),
      KH: c.KH,
      KW: c.KW,
      stride: c.stride,
      pad: c.pad,
      strideW: c.strideW,
      padW: c.padW,
      depthwise: false,
      w2: 0,
      split: 0,
    });
    km.k.clampS8({ x: pZ, y: pY2, count: n, lo: zy, hi: Math.min(hi, 127) });
    const zq = km.readI8(pZ, n);
    const yq = km.readI8(pY, n);
    // the standalone clamp gives the same int8 output as the fused one
    expect(Array.from(km.readI8(pY2, n))).toEqual(Array.from(yq));
    compareMask(kind, zq, yq, zy, sy, hi, rng.f32s(n, -1, 1), `conv output (case ${seed})`);
  }

  it.each([['relu'], ['relu6']] as const)('%s on every int8 value (both sides, lo and the top exactly)', (kind) => {
    const rng = new Rng(kind === 'relu' ? 31 : 32);
    for (const zy of [-128, -100, -3, 0, 17]) {
      const steps = kind === 'relu6' ? Math.min(96, 126 - zy) : 0;
      const hi = kind === 'relu6' ? zy + steps : 128;
      const sy = kind === 'relu6' ? f32(6 / steps) : f32(0.05);
      const zq = Int8Array.from({ length: 256 }, (_, i) => i - 128);
      const yq = Int8Array.from(zq, (v) => Math.min(Math.max(v, zy), Math.min(hi, 127)));
      compareMask(kind, zq, yq, zy, sy, hi, rng.f32s(256, -1, 1), `all int8 values, zy ${zy}`);
    }
  });

  it.each([1, 2, 3, 4, 5, 6])('relu (case %i)', (s) => checkMask('relu', 9100 + s));
  it.each([1, 2, 3, 4, 5, 6])('relu6 (case %i)', (s) => checkMask('relu6', 9200 + s));

  it('zeroes exactly at lo and hi, passes strictly inside', () => {
    km.reset();
    const y = Int8Array.from([-128, -6, -5, -4, 0, 9, 10, 11, 127]);
    const pY = km.i8(y);
    const pG = km.f32(new Float32Array(y.length).fill(1.5));
    km.k.clampBackwardF32({ g: pG, y: pY, count: y.length, lo: -5, hi: 10 });
    expect(Array.from(km.readF32(pG, y.length))).toEqual([0, 0, 0, 1.5, 1.5, 1.5, 0, 0, 0]);
    // ReLU (hi = 128): 127 still passes
    const pG2 = km.f32(new Float32Array(y.length).fill(2));
    km.k.clampBackwardF32({ g: pG2, y: pY, count: y.length, lo: -5, hi: 128 });
    expect(Array.from(km.readF32(pG2, y.length))).toEqual([0, 0, 0, 2, 2, 2, 2, 2, 2]);
  });
});

describe('residual add: gradient to both inputs through gradInto', () => {
  /**
   * out = conv_a(x) + x          (skip connection: x feeds the conv and the add)
   * out = conv_a(x) + conv_b(x)  (two branches)
   * TF differentiates sum(gy * out) wrt x and the conv parameters; the kernels route gy to
   * both add inputs with gradInto and accumulate the input gradients into one buffer, in
   * both orders (copy first then accumulate the conv, or conv first then accumulate gy).
   */
  function checkResidual(seed: number, twoBranches: boolean): void {
    const rng = new Rng(seed);
    const C = rng.int(2, 12);
    const H = rng.int(3, 8);
    const W = rng.int(3, 8);
    const k = rng.pick([1, 3, 5]);
    const ca: ConvCase = { H, W, C, CO: C, KH: k, KW: k, stride: 1, pad: (k - 1) / 2, depthwise: rng.next() < 0.4 };
    const cb: ConvCase = { ...ca, KH: 3, KW: 3, pad: 1, depthwise: !ca.depthwise };
    const A = makeLayer(rng, ca);
    const B = makeLayer(rng, cb);
    B.xq.set(A.xq); // both read the same x
    (B as { zx: number }).zx = A.zx;
    (B as { sx: number }).sx = A.sx;
    B.xReal.set(A.xReal);
    const n = H * W * C;
    const gy = rng.f32s(n, -1, 1, 0.05);
    const x: T = { data: A.xReal, shape: [1, H, W, C] };
    const op = (xt: tf.Tensor, wa: tf.Tensor, ba: tf.Tensor, wb?: tf.Tensor, bb?: tf.Tensor) => tf.add(tfConv(ca)(xt, wa, ba), twoBranches ? tfConv(cb)(xt, wb!, bb!) : xt);
    const inputs: T[] = [x, toTfFilter(ca, A.wReal), { data: A.bReal, shape: [C] }];
    if (twoBranches) inputs.push(toTfFilter(cb, B.wReal), { data: B.bReal, shape: [C] });
    const { ref, abs } = refAndAbs(op as (...xs: tf.Tensor[]) => tf.Tensor, { data: gy, shape: [1, H, W, C] }, inputs);
    const name = `${twoBranches ? 'two branches' : 'skip'} ${label(ca)} (case ${seed})`;
    const nTerms = k * k * (ca.depthwise ? 1 : C) + 9 * (cb.depthwise ? 1 : C) + 2;

    for (const order of ['copy-first', 'conv-first'] as const) {
      km.reset();
      const pGy = km.f32(gy);
      const pGa = km.allocFilled(n * 4, 0xff); // gradient of the add's first input
      const pGb = km.allocFilled(n * 4, 0xff); // of its second input
      const pGx = km.allocFilled(n * 4, 0xff); // of x (NaN garbage until written)
      const pWa = km.i8(A.wq);
      const pSa = km.f32(A.wScale);
      const pWb = km.i8(B.wq);
      const pSb = km.f32(B.wScale);
      km.k.gradInto({ src: pGy, dst: pGa, count: n, accumulate: false });
      km.k.gradInto({ src: pGy, dst: pGb, count: n, accumulate: false });
      expect(Array.from(km.readF32(pGa, n))).toEqual(Array.from(gy));
      const convA = (acc: boolean) =>
        km.k.conv2dBackwardInputF32({
          gy: pGa,
          OH: H,
          OW: W,
          CO: C,
          w: pWa,
          wScale: pSa,
          gx: pGx,
          H,
          W,
          C,
          KH: ca.KH,
          KW: ca.KW,
          stride: 1,
          pad: ca.pad,
          depthwise: ca.depthwise,
          accumulate: acc,
          w2: 0,
          split: 0,
        });
      const convB = (acc: boolean) =>
        km.k.conv2dBackwardInputF32({
          gy: pGb,
          OH: H,
          OW: W,
          CO: C,
          w: pWb,
          wScale: pSb,
          gx: pGx,
          H,
          W,
          C,
          KH: cb.KH,
          KW: cb.KW,
          stride: 1,
          pad: cb.pad,
          depthwise: cb.depthwise,
          accumulate: acc,
          w2: 0,
          split: 0,
        });
      if (order === 'copy-first') {
        if (twoBranches) convB(false);
        else km.k.gradInto({ src: pGb, dst: pGx, count: n, accumulate: false });
        convA(true);
      } else {
        convA(false);
        if (twoBranches) convB(true);
        else km.k.gradInto({ src: pGb, dst: pGx, count: n, accumulate: true });
      }
      expectClose(`residual dL/dx ${order} ${name}`, km.readF32(pGx, n), ref[0]!, sumBound(nTerms, abs[0]!));
    }
    // the parameters of each branch see the add's gradient unchanged
    const ga = kernelWeightGrad(ca, A, gy, true);
    const per = ca.KH * ca.KW * A.cin;
    const gwA = fromTfFilter(ca, ref[1]!);
    expectClose(
      `residual dL/dWa ${name}`,
      ga.vel,
      Float64Array.from(gwA, (g, i) => g / A.wScale[Math.floor(i / per)]!),
      Float64Array.from(sumBound(H * W, fromTfFilter(ca, abs[1]!)), (t, i) => t / A.wScale[Math.floor(i / per)]!),
    );
    const gbA = kernelBiasGrad(H * W, C, gy, A.bq, A.wScale, A.sx, true);
    expectClose(
      `residual dL/dba ${name}`,
      gbA.vel,
      Float64Array.from(ref[2]!, (g, i) => g / f32(A.wScale[i]! * A.sx)),
      Float64Array.from(sumBound(H * W, abs[2]!), (t, i) => t / f32(A.wScale[i]! * A.sx)),
    );
    if (twoBranches) {
      const gb = kernelWeightGrad(cb, B, gy, true);
      const perB = cb.KH * cb.KW * B.cin;
      expectClose(
        `residual dL/dWb ${name}`,
        gb.vel,
        Float64Array.from(fromTfFilter(cb, ref[3]!), (g, i) => g / B.wScale[Math.floor(i / perB)]!),
        Float64Array.from(sumBound(H * W, fromTfFilter(cb, abs[3]!)), (t, i) => t / B.wScale[Math.floor(i / perB)]!),
      );
    }
  }
  it.each([1, 2, 3, 4, 5])('skip connection (case %i)', (s) => checkResidual(9300 + s, false));
  it.each([1, 2, 3, 4, 5])('two conv branches (case %i)', (s) => checkResidual(9400 + s, true));

  it('gradInto copies or accumulates exactly', () => {
    const rng = new Rng(99);
    const n = 37;
    const src = rng.f32s(n, -3, 3);
    const dst = rng.f32s(n, -3, 3);
    km.reset();
    const pS = km.f32(src);
    const pD = km.f32(dst);
    km.k.gradInto({ src: pS, dst: pD, count: n, accumulate: true });
    expect(Array.from(km.readF32(pD, n))).toEqual(Array.from(dst, (v, i) => f32(v + src[i]!)));
    km.k.gradInto({ src: pS, dst: pD, count: n, accumulate: false });
    expect(Array.from(km.readF32(pD, n))).toEqual(Array.from(src));
  });
});

describe('softmax cross-entropy gradient wrt the logits vs TF.js autodiff', () => {
  /**
   * TF: L = -sum(onehot * logSoftmax(z)), z = (lq - zp)*scale; tf.valueAndGrads gives L
   * and dL/dz = softmax(z) - onehot. Kernel: softmaxCrossEntropyS8.
   * Tolerance: with A = max(z) - min(z), each exp(z_i - max) is computed from an argument
   * carrying at most ~2u*A absolute error plus <= 1 ulp in exp itself, the sum of count
   * terms adds gamma_count, the division one more rounding: the relative error of each
   * probability is <= u*(2A + count + 4) per side. Hence, per element,
   *   |g_k - g_tf| <= 2u*(2A + count + 4)*p_i + 2u      (the +2u: p - 1 rounding)
   *   |L_k - L_tf| <= 2u*(2A + count + 4) + 2u*L        (L = -log p_label, log rounding)
   */
  function checkSoftmax(count: number, scale: number, seed: number): void {
    const rng = new Rng(seed);
    const lq = rng.int8s(count);
    const zp = rng.int(-20, 20);
    const label = rng.int(0, count - 1);
    const s = f32(scale);
    const z = Float32Array.from(lq, (v) => (v - zp) * s);
    const onehot = new Float32Array(count);
    onehot[label] = 1;
    const { value, grads } = tf.tidy(() => {
      const r = tf.valueAndGrads((t: tf.Tensor) => tf.neg(tf.sum(tf.mul(tf.tensor(onehot), tf.logSoftmax(t)))))([tf.tensor(z)]);
      return { value: r.value.dataSync()[0]!, grads: r.grads.map((g) => g.dataSync() as Float32Array) };
    });
    km.reset();
    const pL = km.i8(lq);
    const pG = km.f32(new Float32Array(count).fill(NaN));
    const loss = km.k.softmaxCrossEntropyS8({ logits: pL, count, scale: s, zp, grad: pG }, label);
    const got = km.readF32(pG, count);
    const A = Math.max(...z) - Math.min(...z);
    const rel = 2 * U32 * (2 * A + count + 4);
    const ref = grads[0]!;
    const tol = Float64Array.from(ref, (g, i) => rel * Math.abs(g + onehot[i]!) + 2 * U32);
    const name = `count ${count} scale ${scale} (case ${seed})`;
    expectClose(`softmax-CE dL/dz ${name}`, got, ref, tol);
    // gradients of softmax - onehot sum to 0
    expect(Math.abs(got.reduce((a, b) => a + b, 0))).toBeLessThanOrEqual(4 * count * U32);
    expect(got[label]!).toBeLessThanOrEqual(0);
    expectClose(`softmax-CE loss ${name}`, [loss], [value], rel + 2 * U32 * value);
  }
  it.each([
    [2, 0.05],
    [3, 0.1],
    [10, 0.02],
    [10, 0.1],
    [10, 0.25],
    [37, 0.05],
    [100, 0.03],
    [100, 0.15],
    [1, 0.1],
  ] as const)('count %i scale %f', (count, scale) => checkSoftmax(count, scale, 9500 + count * 3 + Math.round(scale * 100)));
});
