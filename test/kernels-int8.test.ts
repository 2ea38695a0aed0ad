/**
 * int8 kernels: forward results against a float reference and against the exact integer
 * reference of the one requantisation rule; SIMD vs scalar builds bit for bit; the QAS
 * update rule measured against TF.js gradients; stochastic rounding unbiasedness.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// The Node (CJS) bundle of tfjs-core ships no gradient functions; they are registered by
// this ESM module (registries and engine are process globals, so both copies share them).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { quantizeAdd, quantizeMultiplier, requantize, requantizeAdd } from '../compiler/quantize/fixedpoint.js';
import {
  type ConvCase,
  type Layer,
  type TensorData,
  KernelAbort,
  KernelModule,
  Rng,
  U32,
  assertNoOptionalParameters,
  channelSlice,
  compileAs,
  convLabel,
  decodeAsString,
  f32,
  fromTfFilter,
  gamma,
  instantiateAs,
  loadKernels,
  makeLayer,
  randomConvCases,
  toTfFilter,
} from './support/kernel-module.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let simd: KernelModule;
let scalar: KernelModule;

beforeAll(async () => {
  await tf.setBackend('cpu');
  [simd, scalar] = await Promise.all([loadKernels({ simd: true }), loadKernels({ simd: false })]);
}, 180_000);

const builds = [['simd'], ['scalar']] as const;
const mod = (b: 'simd' | 'scalar') => (b === 'simd' ? simd : scalar);

// ---------------------------------------------------------------------------------------
// references

function tfTensor(t: TensorData): tf.Tensor {
  return tf.tensor(Float32Array.from(t.data), t.shape, 'float32');
}

/** Float conv forward of the dequantised tensors (TF: explicit zero pad, 'valid' conv). */
function tfConvForward(c: ConvCase, L: Layer): Float32Array {
  return tf.tidy(() => {
    const x = tfTensor({ data: L.xReal, shape: [1, c.H, c.W, c.C] }) as tf.Tensor4D;
    const xp =
      c.pad > 0
        ? tf.pad(x, [
            [0, 0],
            [c.pad, c.pad],
            [c.pad, c.pad],
            [0, 0],
          ])
        : x;
    const w = tfTensor(toTfFilter(c, L.wReal)) as tf.Tensor4D;
    const y = c.depthwise ? tf.depthwiseConv2d(xp, w, c.stride, 'valid') : tf.conv2d(xp, w, c.stride, 'valid');
    return tf.add(y, tf.tensor1d(L.bReal)).dataSync() as Float32Array;
  });
}

/** Exact int32 accumulators of the conv (JS numbers are exact far beyond 2^31). */
function intConvAcc(c: ConvCase, L: Layer): Float64Array {
  const acc = new Float64Array(L.OH * L.OW * c.CO);
  for (let oh = 0; oh < L.OH; oh++)
    for (let ow = 0; ow < L.OW; ow++)
      for (let co = 0; co < c.CO; co++) {
        let a = L.bq[co]!;
        for (let kh = 0; kh < c.KH; kh++)
          for (let kw = 0; kw < c.KW; kw++) {
            const ih = oh * c.stride - c.pad + kh;
            const iw = ow * c.stride - c.pad + kw;
            if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
            for (let ci = 0; ci < L.cin; ci++) {
              const xv = L.xq[(ih * c.W + iw) * c.C + (c.depthwise ? co : ci)]! - L.zx;
              a += xv * L.wq[((co * c.KH + kh) * c.KW + kw) * L.cin + ci]!;
            }
          }
        acc[(oh * L.OW + ow) * c.CO + co] = a;
      }
  return acc;
}

/** The share of outputs TFLite's first rounding can move onto a half for shift n (checkQuantised). */
const doubleRoundingShare = (n: number): number => (n > 31 ? 2 ** -(n - 32) : 0);

/** Float result quantised with the output scale: clamp(round(y/sy) + zy, lo, hi). */
const quantizeReal = (y: number, sy: number, zy: number, lo: number, hi: number) => Math.min(Math.max(Math.round(y / sy) + zy, lo), hi);

/**
 * Checks one int8 output against both references:
 *  - exactly equal to the integer reference (requantize with BigInt, fixedpoint.ts);
 *  - within one quantisation step of the float result quantised with (sy, zy). Why 1:
 *    the kernel computes TFLite's two roundings of acc * m * 2^-n (m*2^-n = M(1 + d),
 *    |d| <= 2^-31), the float reference carries a relative error of ~1e-6; the two can
 *    only disagree where y/sy is near a rounding boundary, and then by exactly 1. "Near"
 *    is ~1e-5 for the float error, plus, for a shift n > 31, TFLite's double rounding:
 *    its first rounding moves a value within 2^-(n-30) of an output step of a half onto
 *    it. Uniform fractions put 2^-(n-30) of the elements there; a pool's fractions are
 *    multiples of 1/count, which can put up to twice that share there (a 3x3 window at
 *    n = 34: every fraction 4/9, 1/9 of the elements, against 1/16). So at most 1% plus
 *    2^-(n-32) (`doubleRounding`, from the smallest shift) of the elements may differ
 *    at all: a systematic off-by-one (zero point, rounding offset) moves most elements
 *    and fails this.
 */
function checkQuantised(
  what: string,
  got: Int8Array,
  exact: ArrayLike<number>,
  float: ArrayLike<number>,
  sy: number,
  zy: number,
  lo: number,
  hi: number,
  doubleRounding = 0,
): void {
  const bad: string[] = [];
  let off = 0;
  for (let i = 0; i < got.length; i++) {
    const q = quantizeReal(float[i]!, sy, zy, lo, hi);
    if (got[i] !== q) off++;
    if ((got[i] !== exact[i] || Math.abs(got[i]! - q) > 1) && bad.length < 5) {
      bad.push(`[${i}] kernel ${got[i]} integer-ref ${exact[i]} float-ref ${q} (y/sy = ${float[i]! / sy})`);
    }
  }
  expect(bad, `${what}: mismatches`).toEqual([]);
  expect(off, `${what}: elements one step away from the float reference`).toBeLessThanOrEqual(Math.max(1, got.length * (0.01 + doubleRounding)));
}

/** Output scale from the data: the float outputs span about +-100 steps. */
function outputScale(y: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < y.length; i++) m = Math.max(m, Math.abs(y[i]!));
  return f32(m > 0 ? m / 100 : 1);
}

// ---------------------------------------------------------------------------------------

describe.each(builds)('int8 forward (%s build) vs float and exact integer references', (b) => {
  type Act = 'none' | 'relu' | 'relu6';
  function runConv(k: KernelModule, c: ConvCase, L: Layer, sy: number, zy: number, lo: number, hi: number) {
    const mult = new Int32Array(c.CO);
    const shift = new Int32Array(c.CO);
    const fm = Array.from(L.wScale, (s) => quantizeMultiplier((L.sx * s) / sy));
    fm.forEach((q, i) => {
      mult[i] = q.m;
      shift[i] = q.n;
    });
    k.reset();
    const n = L.OH * L.OW * c.CO;
    const pX = k.i8(L.xq);
    const pW = k.i8(L.wq);
    const pB = k.i32(L.bq);
    const pM = k.i32(mult);
    const pS = k.i32(shift);
    const pY = k.allocFilled(n, 0x55);
    k.k.conv2dForwardS8({
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
      lo,
      hi,
      KH: c.KH,
      KW: c.KW,
      stride: c.stride,
      pad: c.pad,
      depthwise: c.depthwise,
      w2: 0,
      split: 0,
    });
    return { y: k.readI8(pY, n), fm };
  }
  function checkConv(c: ConvCase, seed: number, act: Act): void {
    const rng = new Rng(seed);
    const L = makeLayer(rng, c);
    const yf = tfConvForward(c, L);
    const sy = outputScale(yf);
    const zy = rng.int(-20, 20);
    const lo = act === 'none' ? -128 : zy;
    const hi = act === 'relu6' ? zy + 50 : 127;
    const { y, fm } = runConv(mod(b), c, L, sy, zy, lo, hi);
    const acc = intConvAcc(c, L);
    const exact = Array.from(acc, (a, i) => requantize(a, fm[i % c.CO]!, zy, lo, hi));
    checkQuantised(`${convLabel(c)} ${act} (case ${seed})`, y, exact, yf, sy, zy, lo, hi);
  }
  const fixed: ConvCase[] = [
    { H: 6, W: 6, C: 3, CO: 4, KH: 3, KW: 3, stride: 1, pad: 1, depthwise: false },
    { H: 7, W: 5, C: 8, CO: 5, KH: 3, KW: 3, stride: 2, pad: 1, depthwise: false },
    { H: 5, W: 6, C: 16, CO: 9, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false },
    { H: 8, W: 8, C: 13, CO: 6, KH: 5, KW: 5, stride: 2, pad: 2, depthwise: false },
    { H: 6, W: 7, C: 24, CO: 7, KH: 3, KW: 1, stride: 1, pad: 1, depthwise: false },
    { H: 5, W: 5, C: 33, CO: 4, KH: 1, KW: 5, stride: 2, pad: 2, depthwise: false },
    { H: 4, W: 4, C: 64, CO: 8, KH: 3, KW: 3, stride: 1, pad: 0, depthwise: false },
    { H: 8, W: 8, C: 8, CO: 8, KH: 3, KW: 3, stride: 1, pad: 1, depthwise: true },
    { H: 9, W: 7, C: 13, CO: 13, KH: 3, KW: 3, stride: 2, pad: 1, depthwise: true },
    { H: 10, W: 10, C: 6, CO: 6, KH: 5, KW: 5, stride: 2, pad: 2, depthwise: true },
    { H: 6, W: 5, C: 16, CO: 16, KH: 1, KW: 3, stride: 1, pad: 1, depthwise: true },
  ];
  for (const act of ['none', 'relu', 'relu6'] as const) {
    it.each(fixed.map((c, i) => [convLabel(c), c, 100 + i] as const))(`%s ${act}`, (_n, c, seed) => checkConv(c, seed, act));
  }
  it('random conv and depthwise shapes', () => {
    randomConvCases(501, 20, false, 40).forEach((c, i) => checkConv(c, 600 + i, (['none', 'relu', 'relu6'] as const)[i % 3]!));
    randomConvCases(502, 12, true, 40).forEach((c, i) => checkConv(c, 700 + i, (['none', 'relu', 'relu6'] as const)[i % 3]!));
  });

  it.each([
    [1, 1],
    [7, 3],
    [8, 10],
    [16, 5],
    [100, 10],
    [256, 12],
    [257, 3],
  ] as const)('dense %i -> %i vs tf.matMul', (C, CO) => {
    const rng = new Rng(800 + C + CO);
    const c: ConvCase = { H: 1, W: 1, C, CO, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false };
    const L = makeLayer(rng, c);
    const yf = tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(L.xReal, [1, C]), tf.tensor2d(L.wReal, [CO, C]), false, true), tf.tensor1d(L.bReal)).dataSync() as Float32Array);
    const sy = outputScale(yf);
    const zy = rng.int(-20, 20);
    const { y, fm } = runConv(mod(b), c, L, sy, zy, -128, 127);
    const exact = Array.from(intConvAcc(c, L), (a, i) => requantize(a, fm[i]!, zy, -128, 127));
    checkQuantised(`dense ${C}->${CO}`, y, exact, yf, sy, zy, -128, 127);
  });

  it.each([
    [17, 0],
    [64, 1],
    [300, 2],
    [1000, 3],
  ] as const)('residual add, %i elements (case %i)', (count, cs) => {
    const rng = new Rng(900 + cs);
    const k = mod(b);
    for (const [lo, hiOff] of [
      [-128, 127],
      [0, 127],
    ] as const) {
      const a = rng.int8s(count);
      const bb = rng.int8s(count);
      const za = rng.int(-30, 30);
      const zb = rng.int(-30, 30);
      const sa = f32(rng.uniform(0.01, 0.1));
      const sb = f32(rng.uniform(0.01, 0.1));
      const yf = Float32Array.from(a, (v, i) => (v - za) * sa + (bb[i]! - zb) * sb);
      const sy = outputScale(yf);
      const zy = rng.int(-20, 20);
      const lo2 = lo === 0 ? zy : lo;
      const p = quantizeAdd(sa, sb, sy);
      k.reset();
      const pA = k.i8(a);
      const pB = k.i8(bb);
      const pY = k.allocFilled(count, 0x55);
      k.k.addS8({ a: pA, za, ma: p.a.m, na: p.a.n, b: pB, zb, mb: p.b.m, nb: p.b.n, my: p.out.m, ny: p.out.n, y: pY, zy, lo: lo2, hi: hiOff, count });
      const exact = Array.from(a, (v, i) => requantizeAdd(v - za, bb[i]! - zb, p, zy, lo2, hiOff));
      checkQuantised(`add ${count}`, k.readI8(pY, count), exact, yf, sy, zy, lo2, hiOff);
    }
  });

  function checkPool(H: number, W: number, C: number, PH: number, PW: number, SH: number, SW: number, seed: number, global: boolean) {
    const rng = new Rng(seed);
    const k = mod(b);
    const OH = Math.floor((H - PH) / SH) + 1;
    const OW = Math.floor((W - PW) / SW) + 1;
    const xq = rng.int8s(H * W * C);
    const zx = rng.int(-30, 30);
    const sx = f32(rng.uniform(0.01, 0.1));
    const xReal = Float32Array.from(xq, (v) => (v - zx) * sx);
    const yf = tf.tidy(() => {
      const x = tf.tensor4d(xReal, [1, H, W, C]);
      return (global ? tf.mean(x, [1, 2]) : tf.avgPool(x, [PH, PW], [SH, SW], 'valid')).dataSync() as Float32Array;
    });
    // global pooling keeps the input scale (the usual choice), so it takes TFLite's integer
    // mean (the raw sum over the count, half away from zero); windows get a fresh scale
    const sy = global ? sx : outputScale(yf);
    const zy = global ? zx : rng.int(-20, 20);
    const fm = quantizeMultiplier(sx / (sy * PH * PW));
    const mean = global ? 1 : 0;
    k.reset();
    const pX = k.i8(xq);
    const pY = k.allocFilled(OH * OW * C, 0x55);
    k.k.avgpoolForwardS8({ x: pX, H, W, C, zx, y: pY, OH, OW, zy, PH, PW, strideH: SH, strideW: SW, m: fm.m, n: fm.n, padH: 0, padW: 0, counts: 0, mean });
    const exact: number[] = [];
    const count = PH * PW;
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let ch = 0; ch < C; ch++) {
          let acc = 0;
          for (let kh = 0; kh < PH; kh++) for (let kw = 0; kw < PW; kw++) acc += xq[((oh * SH + kh) * W + ow * SW + kw) * C + ch]! - zx;
          // TFLite's reference AveragePool: round(raw / count) half away from zero
          const raw = acc + count * zx;
          exact.push(mean ? Math.min(127, Math.max(-128, Math.sign(raw) * Math.floor((Math.abs(raw) + Math.floor(count / 2)) / count))) : requantize(acc, fm, zy, -128, 127));
        }
    checkQuantised(
      `${global ? 'gap' : 'avgpool'} ${H}x${W}x${C} p${PH}x${PW} s${SH}x${SW}`,
      k.readI8(pY, OH * OW * C),
      exact,
      yf,
      sy,
      zy,
      -128,
      127,
      mean ? 0 : doubleRoundingShare(fm.n),
    );
  }
  it.each([
    [4, 4, 3, 2, 2, 2, 2],
    [6, 6, 5, 3, 3, 1, 1],
    [7, 5, 4, 3, 2, 2, 2],
    [9, 9, 16, 3, 3, 3, 3],
    [10, 10, 6, 3, 3, 4, 4],
    // Per axis: a 3x1 window (a 1-D pool over H), strides [3, 1] and [1, 2], channel tails around the SIMD widths.
    [42, 1, 17, 3, 1, 3, 1],
    [9, 8, 5, 3, 2, 1, 2],
    [6, 11, 33, 2, 4, 2, 3],
  ] as const)('avgpool %ix%ix%i pool %ix%i stride %ix%i', (H, W, C, PH, PW, sh, sw) => checkPool(H, W, C, PH, PW, sh, sw, 1000 + H + W + C + PH + sh, false));
  it.each([
    [1, 1, 9],
    [3, 3, 16],
    [4, 7, 10],
    [8, 8, 32],
    [7, 7, 5],
    [5, 5, 100],
  ] as const)('global avgpool %ix%ix%i', (H, W, C) => checkPool(H, W, C, H, W, 1, 1, 1100 + H * W + C, true));
});

// ---------------------------------------------------------------------------------------

describe('SIMD and scalar builds are bit-identical', () => {
  /** Runs f on both modules with the same inputs and compares every output byte. */
  function same(what: string, f: (k: KernelModule) => Uint8Array[]): void {
    const a = f(simd);
    const s = f(scalar);
    expect(a.length).toBe(s.length);
    for (let j = 0; j < a.length; j++) {
      const x = a[j]!;
      const y = s[j]!;
      expect(x.length, `${what}: output ${j} length`).toBe(y.length);
      const i = x.findIndex((v, idx) => v !== y[idx]);
      expect(i, `${what}: output ${j} differs first at byte ${i}`).toBe(-1);
    }
  }
  function convInputs(c: ConvCase, seed: number) {
    const rng = new Rng(seed);
    const L = makeLayer(rng, c);
    const mult = Int32Array.from(L.wScale, () => quantizeMultiplier(rng.uniform(1e-4, 2e-2)).m);
    const shift = Int32Array.from(L.wScale, () => rng.int(10, 24));
    const zy = rng.int(-20, 20);
    return { L, mult, shift, zy };
  }

  // C around multiples of 8 exercises the SIMD body and the scalar tail of the dot product
  const Cs = [1, 3, 7, 8, 9, 13, 16, 17, 24, 31, 32, 40, 63, 64, 100];
  it.each(Cs)('conv2dForwardS8, C = %i (dense conv, depthwise, 1x1, strides, padding)', (C) => {
    const rng = new Rng(2000 + C);
    for (let t = 0; t < 6; t++) {
      const depthwise = t === 5;
      const KH = rng.pick([1, 3, 5]);
      const c: ConvCase = {
        H: rng.int(5, 9),
        W: rng.int(5, 9),
        C,
        CO: depthwise ? C : rng.int(1, 9),
        KH,
        KW: rng.pick([KH, 1, 3]),
        stride: rng.pick([1, 2]),
        pad: rng.int(0, 2),
        depthwise,
      };
      const { L, mult, shift, zy } = convInputs(c, 3000 + C * 10 + t);
      same(`${convLabel(c)}`, (k) => {
        k.reset();
        const n = L.OH * L.OW * c.CO;
        const pX = k.i8(L.xq);
        const pW = k.i8(L.wq);
        const pB = k.i32(L.bq);
        const pM = k.i32(mult);
        const pS = k.i32(shift);
        const pY = k.alloc(n);
        k.k.conv2dForwardS8({
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
          lo: t % 2 ? zy : -128,
          hi: 127,
          KH: c.KH,
          KW: c.KW,
          stride: c.stride,
          pad: c.pad,
          depthwise: c.depthwise,
          w2: 0,
          split: 0,
        });
        return [k.readBytes(pY, n)];
      });
    }
  });

  it.each([
    [64, 10],
    [255, 7],
    [256, 16],
    [1000, 4],
  ] as const)('dense forward %i -> %i', (C, CO) => {
    const c: ConvCase = { H: 1, W: 1, C, CO, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false };
    const { L, mult, shift, zy } = convInputs(c, 4000 + C);
    same(`dense ${C}`, (k) => {
      k.reset();
      const pX = k.i8(L.xq);
      const pW = k.i8(L.wq);
      const pB = k.i32(L.bq);
      const pM = k.i32(mult);
      const pS = k.i32(shift);
      const pY = k.alloc(CO);
      k.k.conv2dForwardS8({
        x: pX,
        H: 1,
        W: 1,
        C,
        zx: L.zx,
        w: pW,
        bias: pB,
        mult: pM,
        shift: pS,
        y: pY,
        OH: 1,
        OW: 1,
        CO,
        zy,
        lo: -128,
        hi: 127,
        KH: 1,
        KW: 1,
        stride: 1,
        pad: 0,
        depthwise: false,
        w2: 0,
        split: 0,
      });
      return [k.readBytes(pY, CO)];
    });
  });

  it('backward input, weight/bias updates with momentum and stochastic rounding (same seed, same bytes)', () => {
    const cases = [...randomConvCases(41, 12, false, 40), ...randomConvCases(42, 6, true, 40)];
    cases.forEach((c, t) => {
      const { L } = convInputs(c, 5000 + t);
      const rng = new Rng(6000 + t);
      const K = rng.int(1, c.C); // sparse update: the first K input channels (depthwise: channels)
      const GK = rng.int(K, c.C); // a stored gradient may cover more channels than are applied
      const split = rng.int(0, c.C); // split weight storage in the backward pass
      const wK = Int8Array.from(channelSlice(c, L.wq, 0, K));
      const vel0 = rng.f32s(wK.length, -50, 50);
      const velB0 = rng.f32s(c.CO, -50, 50);
      const prev = rng.f32s(c.H * c.W * c.C, -1, 1);
      const lr = f32(rng.uniform(0.001, 0.5));
      const mu = f32(rng.pick([0, 0.9]));
      const nG = channelSlice(c, L.wq, 0, GK).length;
      for (const qas of [true, false]) {
        same(`${convLabel(c)} K=${K} GK=${GK} split=${split} qas=${qas}`, (k) => {
          k.reset();
          const pGy = k.f32(L.gy);
          const pW = k.i8(L.wq);
          const pS = k.f32(L.wScale);
          const pX = k.i8(L.xq);
          const pW1 = k.i8(channelSlice(c, L.wq, 0, split));
          const pW2 = k.i8(channelSlice(c, L.wq, split, c.C));
          const pGx = k.f32(prev);
          const pGx2 = k.alloc(prev.length * 4);
          const pGx3 = k.alloc(prev.length * 4);
          const pWK = k.i8(wK);
          const pWK2 = k.i8(wK);
          const pV = k.f32(vel0);
          const pV2 = k.f32(vel0);
          const pB = k.i32(L.bq);
          const pVB = k.f32(velB0);
          const pB2 = k.i32(L.bq);
          const pVB2 = k.f32(velB0);
          const pXs = k.alloc(c.H * c.W * GK);
          const pG = k.alloc(nG * 4);
          const pGb = k.alloc(c.CO * 4);
          const pR = k.rng(1234 + t);
          const pR2 = k.rng(99 + t);
          const lrW = qas ? lr : lr * 1e4;
          const lrB = qas ? lr : lr * 1e6;
          k.k.conv2dBackwardInputF32({
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
            depthwise: c.depthwise,
            accumulate: true,
            w2: 0,
            split: 0,
          });
          k.k.conv2dBackwardInputF32({
            gy: pGy,
            OH: L.OH,
            OW: L.OW,
            CO: c.CO,
            w: pW,
            wScale: pS,
            gx: pGx2,
            H: c.H,
            W: c.W,
            C: c.C,
            KH: c.KH,
            KW: c.KW,
            stride: c.stride,
            pad: c.pad,
            depthwise: c.depthwise,
            accumulate: false,
            w2: 0,
            split: 0,
          });
          k.k.conv2dBackwardInputF32({
            gy: pGy,
            OH: L.OH,
            OW: L.OW,
            CO: c.CO,
            w: split ? pW1 : pW,
            wScale: pS,
            gx: pGx3,
            H: c.H,
            W: c.W,
            C: c.C,
            KH: c.KH,
            KW: c.KW,
            stride: c.stride,
            pad: c.pad,
            depthwise: c.depthwise,
            accumulate: false,
            w2: split ? pW2 : 0,
            split,
          });
          k.k.conv2dWeightUpdateS8(
            {
              gy: pGy,
              OH: L.OH,
              OW: L.OW,
              CO: c.CO,
              x: pX,
              H: c.H,
              W: c.W,
              XC: c.C,
              zx: L.zx,
              sx: L.sx,
              w: pWK,
              wScale: pS,
              vel: pV,
              KH: c.KH,
              KW: c.KW,
              stride: c.stride,
              pad: c.pad,
              depthwise: c.depthwise,
              K,
            },
            lrW,
            mu,
            qas,
            pR,
          );
          // a second call without velocity state (vel = 0) continues the same random stream
          k.k.conv2dWeightUpdateS8(
            {
              gy: pGy,
              OH: L.OH,
              OW: L.OW,
              CO: c.CO,
              x: pX,
              H: c.H,
              W: c.W,
              XC: c.C,
              zx: L.zx,
              sx: L.sx,
              w: pWK,
              wScale: pS,
              vel: 0,
              KH: c.KH,
              KW: c.KW,
              stride: c.stride,
              pad: c.pad,
              depthwise: c.depthwise,
              K,
            },
            lrW,
            0,
            qas,
            pR,
          );
          k.k.biasUpdateAllS32({ gy: pGy, P: L.OH * L.OW, CO: c.CO, bias: pB, wScale: pS, sx: L.sx, vel: pVB }, lrB, mu, qas, pR);
          // the same through stored gradients, from saved input channels (XC = GK)
          k.k.saveChannelsS8({ x: pX, P: c.H * c.W, C: c.C, K: GK, out: pXs });
          k.k.conv2dWeightGradF32({
            gy: pGy,
            OH: L.OH,
            OW: L.OW,
            CO: c.CO,
            x: pXs,
            H: c.H,
            W: c.W,
            XC: GK,
            zx: L.zx,
            sx: L.sx,
            KH: c.KH,
            KW: c.KW,
            stride: c.stride,
            pad: c.pad,
            depthwise: c.depthwise,
            K: GK,
            out: pG,
          });
          k.k.applyWeightUpdateS8({ grad: pG, GK, CO: c.CO, KH: c.KH, KW: c.KW, depthwise: c.depthwise, w: pWK2, wScale: pS, vel: pV2, K }, lrW, mu, qas, pR2);
          k.k.biasGradF32({ gy: pGy, P: L.OH * L.OW, CO: c.CO, out: pGb });
          k.k.applyBiasUpdateS32({ grad: pGb, CO: c.CO, bias: pB2, wScale: pS, sx: L.sx, vel: pVB2 }, lrB, mu, qas, pR2);
          return [
            k.readBytes(pGx, prev.length * 4),
            k.readBytes(pGx2, prev.length * 4),
            k.readBytes(pGx3, prev.length * 4),
            k.readBytes(pWK, wK.length),
            k.readBytes(pV, vel0.length * 4),
            k.readBytes(pB, c.CO * 4),
            k.readBytes(pVB, c.CO * 4),
            k.readBytes(pR, 4),
            k.readBytes(pXs, c.H * c.W * GK),
            k.readBytes(pG, nG * 4),
            k.readBytes(pWK2, wK.length),
            k.readBytes(pV2, vel0.length * 4),
            k.readBytes(pGb, c.CO * 4),
            k.readBytes(pB2, c.CO * 4),
            k.readBytes(pVB2, c.CO * 4),
            k.readBytes(pR2, 4),
          ];
        });
      }
    });
  });

  it('pooling, add, clamps, mask bits, gradInto, softmax cross-entropy, argmax', () => {
    const rng = new Rng(7000);
    for (let t = 0; t < 8; t++) {
      const H = rng.int(2, 9);
      const W = rng.int(2, 9);
      const C = rng.int(1, 20);
      const PH = rng.int(1, H);
      const PW = rng.int(1, W);
      const strideH = rng.int(1, 3);
      const strideW = rng.int(1, 3);
      const OH = Math.floor((H - PH) / strideH) + 1;
      const OW = Math.floor((W - PW) / strideW) + 1;
      const n = H * W * C;
      const x = rng.int8s(n);
      const x2 = rng.int8s(n);
      const gy = rng.f32s(OH * OW * C, -1, 1);
      const g = rng.f32s(n, -1, 1);
      const prev = rng.f32s(n, -1, 1);
      const fm = quantizeMultiplier(rng.uniform(0.01, 1));
      const p = quantizeAdd(rng.uniform(0.01, 0.1), rng.uniform(0.01, 0.1), rng.uniform(0.01, 0.2));
      const count = rng.int(1, 100);
      const logits = rng.int8s(count);
      const label = rng.int(0, count - 1);
      const scale = f32(rng.uniform(0.01, 0.3));
      same(`misc case ${t}`, (k) => {
        k.reset();
        const pX = k.i8(x);
        const pX2 = k.i8(x2);
        const pY = k.alloc(OH * OW * C);
        const pA = k.alloc(n);
        const pC = k.alloc(n);
        const pGy = k.f32(gy);
        const pGx = k.f32(prev);
        const pG = k.f32(g);
        const pD = k.f32(prev);
        const pL = k.i8(logits);
        const pLG = k.alloc(count * 4);
        const pOut = k.alloc(8);
        const pBits = k.alloc((n + 7) >> 3);
        const pG2 = k.f32(g);
        k.k.avgpoolForwardS8({ x: pX, H, W, C, zx: 3, y: pY, OH, OW, zy: -2, PH, PW, strideH, strideW, m: fm.m, n: fm.n, padH: 0, padW: 0, counts: 0, mean: t % 3 === 0 ? 1 : 0 });
        k.k.avgpoolBackwardF32({ gy: pGy, OH, OW, gx: pGx, H, W, C, PH, PW, strideH, strideW, accumulate: t % 2 === 0, padH: 0, padW: 0, byValidTaps: false });
        k.k.addS8({ a: pX, za: 5, ma: p.a.m, na: p.a.n, b: pX2, zb: -7, mb: p.b.m, nb: p.b.n, my: p.out.m, ny: p.out.n, y: pA, zy: 1, lo: t % 2 ? 1 : -128, hi: 127, count: n });
        k.k.clampS8({ x: pX, y: pC, count: n, lo: -3, hi: 90 });
        k.k.clampBackwardF32({ g: pG, y: pC, count: n, lo: -3, hi: 90 });
        k.k.saveMaskBits({ y: pC, count: n, lo: -3, hi: 90, bits: pBits });
        k.k.clampBackwardBitsF32({ g: pG2, bits: pBits, count: n });
        k.k.gradInto({ src: pG, dst: pD, count: n, accumulate: true });
        const loss = k.k.softmaxCrossEntropyS8({ logits: pL, count, scale, zp: 4, grad: pLG }, label);
        new DataView(k.memory.buffer).setFloat32(pOut, loss, true);
        new DataView(k.memory.buffer).setInt32(pOut + 4, k.k.argmaxS8(pL, count), true);
        return [
          k.readBytes(pY, OH * OW * C),
          k.readBytes(pGx, n * 4),
          k.readBytes(pA, n),
          k.readBytes(pC, n),
          k.readBytes(pG, n * 4),
          k.readBytes(pD, n * 4),
          k.readBytes(pLG, count * 4),
          k.readBytes(pOut, 8),
          k.readBytes(pBits, (n + 7) >> 3),
          k.readBytes(pG2, n * 4),
        ];
      });
    }
  });
});

// ---------------------------------------------------------------------------------------
// QAS

/** TF gradients of sum(gy * (conv(x_real, W_real) + b_real)) wrt W and b, with the
 *  per-element error bound magnitude S (the same on absolute values, see kernels-grad). */
function tfParamGrads(c: ConvCase, L: Layer) {
  const run = (abs: boolean) =>
    tf.tidy(() => {
      const m = (a: ArrayLike<number>) => (abs ? Float32Array.from(a, Math.abs) : Float32Array.from(a));
      const x = tf.tensor4d(m(L.xReal), [1, c.H, c.W, c.C]);
      const gy = tf.tensor4d(m(L.gy), [1, L.OH, L.OW, c.CO]);
      const filt = toTfFilter(c, m(L.wReal));
      const f = (w: tf.Tensor, bias: tf.Tensor) => {
        const xp =
          c.pad > 0
            ? tf.pad(x, [
                [0, 0],
                [c.pad, c.pad],
                [c.pad, c.pad],
                [0, 0],
              ])
            : x;
        const y = c.depthwise ? tf.depthwiseConv2d(xp, w as tf.Tensor4D, c.stride, 'valid') : tf.conv2d(xp, w as tf.Tensor4D, c.stride, 'valid');
        return tf.sum(tf.mul(tf.add(y, bias), gy));
      };
      const [gw, gb] = tf.grads(f)([tf.tensor(filt.data as Float32Array, filt.shape), tf.tensor1d(m(L.bReal))]);
      return [fromTfFilter(c, gw!.dataSync()), Float32Array.from(gb!.dataSync())];
    });
  const [G, Gb] = run(false);
  const [S, Sb] = run(true);
  return { G: G!, Gb: Gb!, S: S!, Sb: Sb! };
}

/** Applies one weight update (vel = 0: no momentum) and one bias update on the SIMD build. */
function applyUpdates(c: ConvCase, L: Layer, lr: number, lrB: number, qas: boolean, seed: number, w0 = L.wq, b0 = L.bq) {
  const k = simd;
  k.reset();
  const pGy = k.f32(L.gy);
  const pX = k.i8(L.xq);
  const pW = k.i8(w0);
  const pS = k.f32(L.wScale);
  const pB = k.i32(b0);
  const pR = k.rng(seed);
  k.k.conv2dWeightUpdateS8(
    {
      gy: pGy,
      OH: L.OH,
      OW: L.OW,
      CO: c.CO,
      x: pX,
      H: c.H,
      W: c.W,
      XC: c.C,
      zx: L.zx,
      sx: L.sx,
      w: pW,
      wScale: pS,
      vel: 0,
      KH: c.KH,
      KW: c.KW,
      stride: c.stride,
      pad: c.pad,
      depthwise: c.depthwise,
      K: c.C,
    },
    lr,
    0,
    qas,
    pR,
  );
  k.k.biasUpdateAllS32({ gy: pGy, P: L.OH * L.OW, CO: c.CO, bias: pB, wScale: pS, sx: L.sx, vel: 0 }, lrB, 0, qas, pR);
  return { w: k.readI8(pW, w0.length), b: k.readI32(pB, c.CO) };
}

/**
 * Hoeffding bound for a mean of N independent zero-mean rounding errors e_i*s_i with
 * e_i in an interval of length 1 (stochastic rounding: e = floor(d + u) - d in
 * [-frac(d), 1 - frac(d)]): P(|sum e_i s_i| >= t) <= 2 exp(-2 t^2 / sum s_i^2). With
 * delta = 1e-6 (a correct kernel fails for one seed in a million), t = sqrt(ln(2/delta)/2 *
 * sum s_i^2). For comparison the standard error is sqrt(sum s_i^2 f_i(1-f_i)) <= sqrt(sum
 * s_i^2)/2, so t is at most ~5.4 standard errors: "a few standard errors", but valid
 * without a normal approximation.
 */
function hoeffding(sumSq: number, delta = 1e-6): number {
  return Math.sqrt((Math.log(2 / delta) / 2) * sumSq);
}

describe('QAS: an int8 step equals the float SGD step in units of the scale', () => {
  /**
   * Per element: d = -lr*G/s (QAS) or -lr*G*s (no QAS) is the exact step in integer
   * units, G from TF.js. Stochastic rounding gives floor(w + d + u) - w, which is within
   * 1 of d. Allowance on top of 1: the kernel's own G differs from TF's by at most the
   * summation bound of kernels-grad (2 gamma_{n+6} S), scaled by lr/s (or lr*s); and
   * w - lr*dir + u is evaluated with lr*dir rounded to float32 and the rest in float64:
   * well within 3 float32 roundings of magnitude <= |w|+|d|+1, the allowance kept here.
   */
  const cases: ConvCase[] = [
    { H: 6, W: 6, C: 5, CO: 6, KH: 3, KW: 3, stride: 1, pad: 1, depthwise: false },
    { H: 7, W: 9, C: 12, CO: 4, KH: 5, KW: 3, stride: 2, pad: 2, depthwise: false },
    { H: 8, W: 8, C: 9, CO: 9, KH: 3, KW: 3, stride: 2, pad: 1, depthwise: true },
    { H: 1, W: 1, C: 120, CO: 10, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false },
    ...randomConvCases(61, 6, false),
  ];
  it.each(cases.map((c, i) => [convLabel(c), c, 8000 + i] as const))('%s', (_n, c, seed) => {
    const rng = new Rng(seed);
    const L = makeLayer(rng, c);
    L.wq.set(rng.int8s(L.wq.length, -100, 100)); // room for the steps: no clamping at +-127
    const { G, Gb, S, Sb } = tfParamGrads(c, L);
    const per = c.KH * c.KW * L.cin;
    const s = (i: number) => L.wScale[Math.floor(i / per)]!;
    const sb = (i: number) => f32(L.wScale[i]! * L.sx);
    const P = L.OH * L.OW;
    for (const qas of [true, false]) {
      const dirOf = (g: number, sc: number) => (qas ? g / sc : g * sc);
      // lr chosen so the largest step is ~4 units (sub-unit and multi-unit steps both occur)
      let maxW = 0;
      let maxB = 0;
      G.forEach((g, i) => {
        maxW = Math.max(maxW, Math.abs(dirOf(g, s(i))));
      });
      Gb.forEach((g, i) => {
        maxB = Math.max(maxB, Math.abs(dirOf(g, sb(i))));
      });
      const lr = f32(4 / maxW);
      const lrB = f32(4 / maxB);
      const { w, b } = applyUpdates(c, L, lr, lrB, qas, seed);
      const bad: string[] = [];
      let moved = 0;
      for (let i = 0; i < w.length; i++) {
        const d = -lr * dirOf(G[i]!, s(i));
        const allow = lr * dirOf(2 * gamma(P + 6) * S[i]!, s(i)) + 3 * U32 * (Math.abs(L.wq[i]!) + Math.abs(d) + 1);
        const step = w[i]! - L.wq[i]!;
        if (step !== 0) moved++;
        if (!(Math.abs(step - d) < 1 + allow) && bad.length < 5) bad.push(`w[${i}] step ${step} float step ${d.toFixed(4)} units`);
        // the same statement in real units: int8 step * s vs the float step (QAS only)
        if (qas && !(Math.abs(step * s(i) - -lr * G[i]!) < s(i) * (1 + allow)) && bad.length < 5) bad.push(`w[${i}] real step ${step * s(i)} vs ${-lr * G[i]!}`);
      }
      for (let i = 0; i < b.length; i++) {
        const d = -lrB * dirOf(Gb[i]!, sb(i));
        const allow = lrB * dirOf(2 * gamma(P + 6) * Sb[i]!, sb(i)) + 3 * U32 * (Math.abs(d) + 1) + 2 ** -52 * Math.abs(L.bq[i]!) * 4;
        const step = b[i]! - L.bq[i]!;
        if (!(Math.abs(step - d) < 1 + allow) && bad.length < 5) bad.push(`b[${i}] step ${step} float step ${d.toFixed(4)} units`);
      }
      expect(bad, `qas=${qas}`).toEqual([]);
      expect(moved, 'some weights must move').toBeGreaterThan(0);
    }
  });

  /**
   * Many small steps (all G > 0: gy > 0 and x > zx, so every step points the same way and
   * is below one unit). The mean real-valued change mean((w_new - w_old)*s) must match the
   * mean float step mean(-lr*G) (QAS) within the Hoeffding bound above. Round-to-nearest
   * or truncation would be off by ~0.25-0.3 units on average, and the mean float step is
   * asserted to be > 5 times the bound (it is ~12x), so this discriminates.
   */
  it.each([[true], [false]] as const)('mean step over a layer of small steps matches the float step (qas=%s)', (qas) => {
    const rng = new Rng(qas ? 8101 : 8102);
    const C = 96;
    const CO = 128; // 12288 weights; 1x1 conv over a 2x2 image: 4 positions
    const c: ConvCase = { H: 2, W: 2, C, CO, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false };
    const L = makeLayer(rng, c);
    // x - zx in [20, 60], gy in [0.2, 1], scales within 20%: every G > 0 and the steps
    // stay within ~[0.05, 0.8] units once the mean is set to 0.3
    L.xq.set(Int8Array.from(L.xq, () => L.zx + rng.int(20, 60)));
    L.xReal.set(Float32Array.from(L.xq, (v) => (v - L.zx) * L.sx));
    L.gy.set(rng.f32s(L.gy.length, 0.2, 1));
    L.wScale.set(rng.f32s(CO, 0.01, 0.012));
    L.wq.set(rng.int8s(L.wq.length, -100, 100));
    const { G, Gb } = tfParamGrads(c, L);
    const s = (i: number) => L.wScale[Math.floor(i / C)]!;
    const sb = (i: number) => f32(L.wScale[i]! * L.sx);
    const dirOf = (g: number, sc: number) => (qas ? g / sc : g * sc);
    // scale lr so the mean step is 0.3 units
    const mean = (f: (i: number) => number, n: number) => {
      let a = 0;
      for (let i = 0; i < n; i++) a += f(i);
      return a / n;
    };
    const lr = f32(0.3 / mean((i) => dirOf(G[i]!, s(i)), G.length));
    const lrB = f32(0.3 / mean((i) => dirOf(Gb[i]!, sb(i)), CO));
    const { w, b } = applyUpdates(c, L, lr, lrB, qas, 4711);
    // weights
    const N = w.length;
    // QAS: compare in real units (the int8 step times s vs the float step -lr*G); without
    // QAS the rule is defined in integer units (step -lr*G*s), so compare there
    const realScale = (i: number) => (qas ? s(i) : 1);
    const meanInt = mean((i) => (w[i]! - L.wq[i]!) * realScale(i), N);
    const meanFloat = mean((i) => -lr * dirOf(G[i]!, s(i)) * realScale(i), N);
    let sumSq = 0;
    for (let i = 0; i < N; i++) sumSq += realScale(i) ** 2;
    const bound = hoeffding(sumSq) / N + 1e-5 * Math.abs(meanFloat);
    expect(Math.abs(meanInt - meanFloat), `weights: mean int8 step ${meanInt} vs mean float step ${meanFloat}`).toBeLessThanOrEqual(bound);
    expect(Math.abs(meanFloat)).toBeGreaterThan(5 * bound);
    const maxStep = Math.max(...Array.from(w, (v, i) => Math.abs(v - L.wq[i]!)));
    expect(maxStep).toBeLessThanOrEqual(1); // all steps were sub-unit
    // bias: 128 channels only, so a weaker but still valid check of the same kind
    const realB = (i: number) => (qas ? sb(i) : 1);
    const meanIntB = mean((i) => (b[i]! - L.bq[i]!) * realB(i), CO);
    const meanFloatB = mean((i) => -lrB * dirOf(Gb[i]!, sb(i)) * realB(i), CO);
    let sumSqB = 0;
    for (let i = 0; i < CO; i++) sumSqB += realB(i) ** 2;
    expect(Math.abs(meanIntB - meanFloatB)).toBeLessThanOrEqual(hoeffding(sumSqB) / CO + 1e-5 * Math.abs(meanFloatB));
  });

  it('bias: mean over many channels matches the float step (scale wScale*sx)', () => {
    const rng = new Rng(8200);
    const CO = 8192;
    const P = 3;
    const gy = rng.f32s(P * CO, 0.05, 1);
    const wScale = rng.f32s(CO, 0.002, 0.03);
    const sx = f32(0.02);
    const bq = rng.int32s(CO, -5000, 5000);
    // TF: G_b = d/db sum(gy * (z + b)) over the P positions
    const Gb = tf.tidy(
      () =>
        tf
          .grad((bb: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.zeros([P, CO]), bb), tf.tensor2d(gy, [P, CO]))))(tf.tensor1d(new Float32Array(CO)))
          .dataSync() as Float32Array,
    );
    const sb = (i: number) => f32(wScale[i]! * sx);
    let m = 0;
    for (let i = 0; i < CO; i++) m += Gb[i]! / sb(i);
    const lr = f32(0.35 / (m / CO));
    const k = simd;
    k.reset();
    const pGy = k.f32(gy);
    const pB = k.i32(bq);
    const pS = k.f32(wScale);
    const pR = k.rng(99);
    k.k.biasUpdateAllS32({ gy: pGy, P, CO, bias: pB, wScale: pS, sx, vel: 0 }, lr, 0, true, pR);
    const b = k.readI32(pB, CO);
    let meanInt = 0;
    let meanFloat = 0;
    let sumSq = 0;
    for (let i = 0; i < CO; i++) {
      const d = (-lr * Gb[i]!) / sb(i);
      const step = b[i]! - bq[i]!;
      expect(Math.abs(step - d)).toBeLessThan(1 + 1e-4);
      meanInt += step * sb(i);
      meanFloat += d * sb(i);
      sumSq += sb(i) ** 2;
    }
    const bound = hoeffding(sumSq) / CO + 1e-5 * Math.abs(meanFloat / CO);
    expect(Math.abs(meanInt / CO - meanFloat / CO)).toBeLessThanOrEqual(bound);
    expect(Math.abs(meanFloat / CO)).toBeGreaterThan(5 * bound);
  });

  it('momentum: v = mu*v + g~ is stored and used as the step direction', () => {
    const c: ConvCase = { H: 5, W: 5, C: 4, CO: 3, KH: 3, KW: 3, stride: 1, pad: 1, depthwise: false };
    const L = makeLayer(new Rng(8300), c);
    L.wq.set(new Rng(8301).int8s(L.wq.length, -100, 100));
    const k = simd;
    const mu = f32(0.9);
    k.reset();
    const pGy = k.f32(L.gy);
    const pX = k.i8(L.xq);
    const pW = k.i8(L.wq);
    const pS = k.f32(L.wScale);
    const pV = k.f32(new Float32Array(L.wq.length));
    const pR = k.rng(5);
    const call = (lr: number) =>
      k.k.conv2dWeightUpdateS8(
        {
          gy: pGy,
          OH: L.OH,
          OW: L.OW,
          CO: c.CO,
          x: pX,
          H: c.H,
          W: c.W,
          XC: c.C,
          zx: L.zx,
          sx: L.sx,
          w: pW,
          wScale: pS,
          vel: pV,
          KH: c.KH,
          KW: c.KW,
          stride: c.stride,
          pad: c.pad,
          depthwise: false,
          K: c.C,
        },
        lr,
        mu,
        true,
        pR,
      );
    call(0);
    const g1 = k.readF32(pV, L.wq.length); // = g~ (v was 0): G/s, checked against TF
    const { G, S } = tfParamGrads(c, L);
    const per = c.KH * c.KW * c.C;
    const bound = 2 * gamma(L.OH * L.OW + 6);
    g1.forEach((g, i) => {
      const s = L.wScale[Math.floor(i / per)]!;
      expect(Math.abs(g - G[i]! / s)).toBeLessThanOrEqual((bound * S[i]!) / s);
    });
    call(0);
    const v2 = k.readF32(pV, L.wq.length);
    expect(Array.from(v2)).toEqual(Array.from(g1, (g) => f32(f32(mu * g) + g)));
    let maxV = 0;
    for (const v of v2) maxV = Math.max(maxV, Math.abs(v));
    const lr = f32(3 / (mu * maxV + maxV));
    call(lr);
    const v3 = k.readF32(pV, L.wq.length);
    const w = k.readI8(pW, L.wq.length);
    for (let i = 0; i < w.length; i++) {
      expect(v3[i]).toBe(f32(f32(mu * v2[i]!) + g1[i]!));
      expect(Math.abs(w[i]! - L.wq[i]! - -lr * v3[i]!)).toBeLessThan(1 + 1e-4);
    }
  });

  it('updated weights stay in [-127, 127]; the int32 bias saturates; a NaN gradient keeps the value', () => {
    const k = simd;
    k.reset();
    const C = 6;
    const w0 = Int8Array.from([120, -120, 127, -127, 0, 5]);
    const pW = k.i8(w0);
    const pX = k.i8(Int8Array.from([1, 1, 1, 1, 1, 1]));
    const pGy = k.f32([-1]); // G = -1 per weight: the step is +lr units
    const pS = k.f32([1]);
    const pR = k.rng(3);
    k.k.conv2dWeightUpdateS8(
      { gy: pGy, OH: 1, OW: 1, CO: 1, x: pX, H: 1, W: 1, XC: C, zx: 0, sx: 1, w: pW, wScale: pS, vel: 0, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false, K: C },
      50,
      0,
      true,
      pR,
    );
    expect(Array.from(k.readI8(pW, C))).toEqual([127, -70, 127, -77, 50, 55]);
    k.writeF32(pGy, [1]); // now steps of -300 units
    k.k.conv2dWeightUpdateS8(
      { gy: pGy, OH: 1, OW: 1, CO: 1, x: pX, H: 1, W: 1, XC: C, zx: 0, sx: 1, w: pW, wScale: pS, vel: 0, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false, K: C },
      300,
      0,
      true,
      pR,
    );
    expect(Array.from(k.readI8(pW, C))).toEqual([-127, -127, -127, -127, -127, -127]);
    k.writeF32(pGy, [NaN]);
    k.writeI8(pW, w0);
    k.k.conv2dWeightUpdateS8(
      { gy: pGy, OH: 1, OW: 1, CO: 1, x: pX, H: 1, W: 1, XC: C, zx: 0, sx: 1, w: pW, wScale: pS, vel: 0, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false, K: C },
      0.1,
      0,
      true,
      pR,
    );
    expect(Array.from(k.readI8(pW, C))).toEqual(Array.from(w0));
    // bias
    const pB = k.i32([2147483000, -2147483000, 0]);
    const pGb = k.f32([-1, 1, NaN]);
    const pSb = k.f32([1, 1, 1]);
    k.k.biasUpdateAllS32({ gy: pGb, P: 1, CO: 3, bias: pB, wScale: pSb, sx: 1, vel: 0 }, 1e6, 0, true, pR);
    expect(Array.from(k.readI32(pB, 3))).toEqual([2147483647, -2147483648, 0]);
  });
});

// ---------------------------------------------------------------------------------------

describe('stochastic rounding is unbiased', () => {
  /**
   * A step of d units (d = -lr with G = g~ = 1: x - zx = 1, sx = 1, wScale = 1, gy = 1)
   * applied to N weights: each moves by floor(d) + 1 with probability frac(d), else by
   * floor(d). The count K of the larger move is Binomial(N, frac(d)); Hoeffding:
   * P(|K - N p| >= t) <= 2 exp(-2 t^2 / N), so t = sqrt(N ln(2/1e-6) / 2) (false failure
   * rate 1e-6, ~6 standard deviations at p = 1/4). N = 65536: t = 689, i.e. about 4% of
   * N p at p = 1/4; floor, ceil or round-to-nearest would be off by N p or N(1-p).
   */
  const N_IN = 256;
  const N_OUT = 256;
  const N = N_IN * N_OUT;
  function weightSteps(lr: number, gy: number, seed: number) {
    const k = simd;
    k.reset();
    const w0 = new Rng(seed).int8s(N, -100, 100);
    const pW = k.i8(w0);
    const pX = k.i8(new Int8Array(N_IN).fill(1)); // zx = 0
    const pGy = k.f32(new Float32Array(N_OUT).fill(gy));
    const pS = k.f32(new Float32Array(N_OUT).fill(1));
    const pR = k.rng(seed);
    k.k.conv2dWeightUpdateS8(
      { gy: pGy, OH: 1, OW: 1, CO: N_OUT, x: pX, H: 1, W: 1, XC: N_IN, zx: 0, sx: 1, w: pW, wScale: pS, vel: 0, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false, K: N_IN },
      lr,
      0,
      true,
      pR,
    );
    const w = k.readI8(pW, N);
    return Array.from(w, (v, i) => v - w0[i]!);
  }
  const t = (n: number) => Math.sqrt((n * Math.log(2 / 1e-6)) / 2);
  it.each([
    [0.25, 1, -1, 0.25],
    [0.25, -1, 1, 0.25],
    [0.75, 1, -1, 0.75],
    [0.5, -1, 1, 0.5],
    [1.25, 1, -2, 0.25],
    [0.1, -1, 1, f32(0.1)],
    [2.9, -1, 3, f32(2.9) - 2],
  ] as const)('int8 weights: |step| %f (gy %i): moves by %i with probability %f', (lr, gy, big, p) => {
    const steps = weightSteps(lr, gy, Math.round(lr * 1000) + (gy > 0 ? 1 : 2));
    const small = big > 0 ? big - 1 : big + 1;
    const K = steps.filter((s) => s === big).length;
    const other = steps.filter((s) => s !== big && s !== small).length;
    expect(other, 'steps other than floor(d) or floor(d)+1').toBe(0);
    expect(Math.abs(K - N * p), `K = ${K}, N p = ${N * p}`).toBeLessThanOrEqual(t(N));
  });

  it('int32 bias: a step of 0.25 units moves 1/4 of the biases', () => {
    const k = simd;
    const CO = 65536;
    k.reset();
    const b0 = new Rng(1).int32s(CO, -100000, 100000);
    const pB = k.i32(b0);
    const pGy = k.f32(new Float32Array(CO).fill(1));
    const pS = k.f32(new Float32Array(CO).fill(1));
    const pR = k.rng(77);
    k.k.biasUpdateAllS32({ gy: pGy, P: 1, CO, bias: pB, wScale: pS, sx: 1, vel: 0 }, 0.25, 0, true, pR);
    const b = k.readI32(pB, CO);
    let K = 0;
    for (let i = 0; i < CO; i++) {
      const s = b[i]! - b0[i]!;
      expect(s === 0 || s === -1).toBe(true);
      if (s === -1) K++;
    }
    expect(Math.abs(K - CO / 4)).toBeLessThanOrEqual(t(CO));
  });

  it('the random stream is reproducible: same seed same bytes, another seed other bytes', () => {
    const a = weightSteps(0.5, 1, 10);
    const b = weightSteps(0.5, 1, 10);
    expect(a).toEqual(b);
    const k = simd;
    k.reset();
    const p0 = k.rng(0);
    expect(new Uint32Array(k.memory.buffer, p0, 1)[0]).not.toBe(0); // zero would be a fixed point
    const s1 = k.rng(1);
    const s2 = k.rng(2);
    expect(k.readBytes(s1, 4)).not.toEqual(k.readBytes(s2, 4));
  });

  /**
   * Regression (stepInt8 once evaluated w - lr*dir + u in float32): near |w| in
   * [2^e, 2^(e+1)) float32 has spacing 2^(e-23), so w + u with u within half a spacing of
   * 1 rounded up to w + 1 and floor() moved the weight even when lr*dir == 0 (a small
   * upward bias), and fractional steps were only resolved to that spacing, not to the
   * 2^-24 of u. The xorshift state is set so that the next u is chosen exactly; one
   * weight per call, so it is the one that draws it. Expected values are
   * floor(w - lr*G + u), exact in binary (all terms dyadic). Fused and stored-gradient
   * paths, both builds.
   */
  function stepWithU(k: KernelModule, path: 'fused' | 'stored', w: number, G: number, lr: number, u24: number): number {
    k.reset();
    const pW = k.i8([w]);
    const pX = k.i8([1]); // G = gy * (x - zx) * sx = gy
    const pGy = k.f32([G]);
    const pS = k.f32([1]);
    const pR = k.alloc(4);
    new Uint32Array(k.memory.buffer, pR, 1)[0] = xorshiftPrev(((u24 << 8) | 0xff) >>> 0); // next u = u24 / 2^24
    if (path === 'fused')
      k.k.conv2dWeightUpdateS8(
        { gy: pGy, OH: 1, OW: 1, CO: 1, x: pX, H: 1, W: 1, XC: 1, zx: 0, sx: 1, w: pW, wScale: pS, vel: 0, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false, K: 1 },
        lr,
        0,
        true,
        pR,
      );
    else k.k.applyWeightUpdateS8({ grad: pGy, GK: 1, CO: 1, KH: 1, KW: 1, depthwise: false, w: pW, wScale: pS, vel: 0, K: 1 }, lr, 0, true, pR);
    return k.readI8(pW, 1)[0]!;
  }
  const U_MAX = 0xffffff; // u = 1 - 2^-24
  it.each([
    ['simd', 'fused'],
    ['simd', 'stored'],
    ['scalar', 'fused'],
    ['scalar', 'stored'],
  ] as const)('regression: lr = 0 with u = 1 - 2^-24 leaves w unchanged; sub-spacing steps are resolved (%s, %s)', (b, path) => {
    const k = mod(b);
    const ws = [100, -100, 64, 5, 127, -127, 0, 1, -1];
    expect(ws.map((w) => stepWithU(k, path, w, 1, 0, U_MAX))).toEqual(ws);
    // The step is summed with u apart from w, in f32 (single-precision MCU FPUs), so it is
    // resolved to u's own resolution, 2^-24, whatever |w| is:
    // w + 2^-23 + (1 - 2^-24) = w + 1 + 2^-24: moves; w + 2^-24 + (1 - 2^-24) = w + 1: moves.
    expect(stepWithU(k, path, 100, -1, 2 ** -23, U_MAX)).toBe(101);
    expect(stepWithU(k, path, 100, -1, 2 ** -24, U_MAX)).toBe(101);
    // and a step far below w's own f32 spacing (2^-17 at |w| = 100) still counts with u = 0.5:
    expect(stepWithU(k, path, 100, -1, 0.5 + 2 ** -20, 2 ** 23 - 8)).toBe(101); // u = 0.5 - 2^-21
    // u = 0: w - 2^-23 floors to w - 1 (float32 rounded w - 2^-23 back to w for |w| >= 64)
    expect(stepWithU(k, path, -100, 1, 2 ** -23, 0)).toBe(-101);
    expect(stepWithU(k, path, 100, 1, 2 ** -23, 0)).toBe(99);
    expect(stepWithU(k, path, 100, 0, 1, 0)).toBe(100);
  });
});

/** State s such that xorshift32(s) == target (each xorshift step is invertible). */
function xorshiftPrev(target: number): number {
  let x = target >>> 0;
  // undo x ^= x << 5
  let y = x;
  for (let sft = 5; sft < 32; sft += 5) y ^= x << sft;
  x = y >>> 0;
  // undo x ^= x >>> 17
  x = (x ^ (x >>> 17)) >>> 0;
  // undo x ^= x << 13
  x = (x ^ (x << 13) ^ (x << 26)) >>> 0;
  return x;
}

describe('harness', () => {
  it('xorshiftPrev inverts the kernel generator', () => {
    const xs = (x: number) => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    for (const t of [1, 0xffffffff, 0x12345678, 0x80000000]) expect(xs(xorshiftPrev(t))).toBe(t);
  });

  it('decodes AssemblyScript strings (UTF-16, byte length before the pointer)', () => {
    const mem = new WebAssembly.Memory({ initial: 1 });
    const text = 'index out of range: ümlaut ✓';
    const ptr = 64;
    new DataView(mem.buffer).setUint32(ptr - 4, text.length * 2, true);
    const u16 = new Uint16Array(mem.buffer, ptr, text.length);
    for (let i = 0; i < text.length; i++) u16[i] = text.charCodeAt(i);
    expect(decodeAsString(mem, ptr)).toBe(text);
    expect(decodeAsString(mem, 0)).toBe('null');
  });

  it('an abort in AssemblyScript code becomes a thrown KernelAbort with the decoded message; optional parameters are rejected', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinytrain-abort-'));
    try {
      const entry = join(dir, 'boom.ts');
      writeFileSync(
        entry,
        [
          'export function boom(x: i32): i32 {',
          '  assert(x > 0, "x must be positive, got " + x.toString());',
          '  return x * 2;',
          '}',
          'export function opt(a: i32, b: i32 = 5): i32 { return a + b; }',
        ].join('\n'),
      );
      const { exports } = await instantiateAs(await WebAssembly.compile(await compileAs(entry, false)));
      const boom = exports.boom as (x: number) => number;
      expect(boom(4)).toBe(8);
      let caught: unknown;
      try {
        boom(-3);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(KernelAbort);
      const err = caught as KernelAbort;
      expect(err.message).toContain('x must be positive, got -3');
      expect(err.file).toContain('boom.ts');
      expect(err.line).toBe(2);
      // optional parameters make a varargs export that traps without the argument count,
      // even with every argument passed: such a module is rejected, the kernels have none
      const opt = exports.opt as (a: number, b: number) => number;
      expect(() => opt(1, 2)).toThrow(WebAssembly.RuntimeError);
      expect(() => assertNoOptionalParameters(exports, 'boom.ts')).toThrow(/optional parameters/);
      for (const k of [simd, scalar]) expect(() => assertNoOptionalParameters(k.exports, 'kernels')).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('allocator: 16-byte aligned, within memory, reset reuses', () => {
    const k = simd;
    k.reset();
    const a = k.alloc(3);
    const b = k.alloc(17);
    const c = k.alloc(1);
    for (const p of [a, b, c]) expect(p % 16).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 3);
    expect(c).toBeGreaterThanOrEqual(b + 17);
    expect(a).toBeGreaterThanOrEqual(k.heapBase);
    k.reset();
    expect(k.alloc(1)).toBe(a);
    expect(() => k.alloc(k.capacity)).toThrow(/exhausted/);
  });
});
