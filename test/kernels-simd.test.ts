/**
 * The SIMD kernels equal their scalar twins bit for bit (assembly/kernels/conv2d*.ts): the
 * same call with the same memory contents in the SIMD and the scalar module leaves the
 * same bytes in every buffer (outputs, updated weights, momentum, random state) and writes
 * nothing outside them. Shapes are random (H, W, C, CO, kernel, stride, pad, depthwise,
 * split, ring buffers) and include the specialised fast paths' tails: channel counts that
 * are not multiples of 4/8/16, odd pixel counts, full int8 ranges (zero point and weights
 * at -128, the i16 products' worst case).
 *
 * What this cannot see: a bug in the scalar loops a SIMD path runs for its tails (the
 * same code in both builds, so both agree on the wrong bytes). kernels-reference.test.ts
 * checks each build on its own against the plain reference kernels for that.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type ConvCase, type KernelExports, KernelModule, Rng, loadKernels, outDim } from './support/kernel-module.js';

let simd: KernelModule;
let scalar: KernelModule;

beforeAll(async () => {
  [simd, scalar] = await Promise.all([loadKernels({ simd: true }), loadKernels({ simd: false })]);
}, 180_000);

// ---------------------------------------------------------------------------------------
// harness: the same buffers in both modules, the call, then every buffer compared

const GUARD = 16;
const SENTINEL = 0xa5;

type Init = { i8: ArrayLike<number> } | { i32: ArrayLike<number> } | { f32: ArrayLike<number> } | { zero: number } | { rngSeed: number };

type Ptrs<K extends string> = Record<K, number>;

function place(k: KernelModule, init: Init): { p: number; bytes: number } {
  const bytes = 'i8' in init ? init.i8.length : 'i32' in init ? init.i32.length * 4 : 'f32' in init ? init.f32.length * 4 : 'zero' in init ? init.zero : 4;
  const base = k.allocFilled(bytes + 2 * GUARD, SENTINEL);
  const p = base + GUARD;
  if ('i8' in init) k.writeI8(p, init.i8);
  else if ('i32' in init) k.writeI32(p, init.i32);
  else if ('f32' in init) k.writeF32(p, init.f32);
  else if ('zero' in init) new Uint8Array(k.memory.buffer, p, bytes).fill(0);
  else k.k.rngSeed(p, init.rngSeed);
  return { p, bytes };
}

/** Runs `call` in both modules on identical buffers; expects identical bytes in all of them and intact guards. */
function sameInBoth<K extends string>(what: string, bufs: Record<K, Init>, call: (k: KernelExports, p: Ptrs<K>) => void): void {
  const results = [simd, scalar].map((k) => {
    k.reset();
    const placed = Object.fromEntries(Object.entries(bufs).map(([name, init]) => [name, place(k, init as Init)])) as Record<K, { p: number; bytes: number }>;
    const ptrs = Object.fromEntries(Object.entries(placed).map(([n, v]) => [n, (v as { p: number }).p])) as Ptrs<K>;
    call(k.k as KernelExports, ptrs);
    const out: Record<string, Uint8Array> = {};
    for (const [name, v] of Object.entries(placed) as Array<[string, { p: number; bytes: number }]>) {
      out[name] = k.readBytes(v.p, v.bytes);
      const guards = [...k.readBytes(v.p - GUARD, GUARD), ...k.readBytes(v.p + v.bytes, GUARD)];
      expect(
        guards.every((g) => g === SENTINEL),
        `${what}: ${k.simd ? 'simd' : 'scalar'} wrote outside ${name}`,
      ).toBe(true);
    }
    return out;
  });
  const [a, b] = results as [Record<string, Uint8Array>, Record<string, Uint8Array>];
  for (const name of Object.keys(a)) {
    const x = a[name]!;
    const y = b[name]!;
    const i = x.findIndex((v, j) => v !== y[j]);
    if (i >= 0) expect.fail(`${what}: buffer ${name} differs first at byte ${i} (simd ${x[i]}, scalar ${y[i]})`);
  }
}

/** float32 gradients: uniform in [-1, 1), with exact zeros (+0 and -0) the kernels skip. */
function grads(rng: Rng, n: number): Float32Array {
  const a = rng.f32s(n, -1, 1, 0.12);
  for (let i = 0; i < n; i++) if (a[i] === 0 && rng.next() < 0.5) a[i] = -0;
  return a;
}

/**
 * Output gradients of P pixels x CO channels where about a fifth of the pixels are all
 * zero (as behind a ReLU mask): the only case where skipping a zero term and adding it
 * differ (a -0 in gx stays -0 only if nothing, not even +0, is added to it).
 */
function gradsZeroPixels(rng: Rng, P: number, CO: number): Float32Array {
  const a = grads(rng, P * CO);
  for (let p = 0; p < P; p++) if (rng.next() < 0.2) a.fill(rng.next() < 0.5 ? 0 : -0, p * CO, (p + 1) * CO);
  return a;
}

const int8Full = (rng: Rng, n: number): Int8Array => rng.int8s(n, -128, 127);
const scalesOf = (rng: Rng, n: number): Float32Array => Float32Array.from({ length: n }, () => rng.uniform(0.002, 0.03));

interface Shape extends ConvCase {
  split: number;
}

const label = (s: Shape): string =>
  `${s.depthwise ? 'dw' : 'conv'} ${s.H}x${s.W}x${s.C}->${s.CO} k${s.KH}x${s.KW} s${s.stride}x${s.strideW ?? s.stride} p${s.pad}x${s.padW ?? s.pad} split=${s.split}`;

/**
 * Random shapes, weighted towards the fast paths: pointwise (1x1, pad 0), depthwise 3x3
 * and dense kxk; channel counts up to 40 so 16-, 8- and 4-channel blocks and their tails
 * all occur.
 */
function shapes(seed: number, count: number): Shape[] {
  const rng = new Rng(seed);
  const out: Shape[] = [];
  while (out.length < count) {
    const kind = rng.pick(['pointwise', 'pointwise', 'dw3', 'dw3', 'dense', 'dwAny'] as const);
    const depthwise = kind === 'dw3' || kind === 'dwAny';
    const KH = kind === 'pointwise' ? 1 : kind === 'dw3' ? 3 : rng.pick([1, 2, 3, 5]);
    const KW = kind === 'pointwise' ? 1 : kind === 'dw3' ? 3 : rng.next() < 0.6 ? KH : rng.pick([1, 3]);
    const stride = rng.pick([1, 1, 2]);
    const pad = kind === 'pointwise' ? 0 : rng.pick([0, 1, 1, 2]);
    // per-axis geometry one time in three: the columns' stride and leading pad drawn on their own
    const perAxis = rng.next() < 0.33;
    const strideW = perAxis ? rng.pick([1, 2, 3]) : stride;
    const padW = perAxis && kind !== 'pointwise' ? rng.pick([0, 1, 2]) : pad;
    const H = rng.int(1, 9);
    const W = rng.int(1, 9);
    const C = rng.int(1, 40);
    const CO = depthwise ? C : rng.int(1, 13);
    if (outDim(H, KH, stride, pad) < 1 || outDim(W, KW, strideW, padW) < 1) continue;
    const split = rng.next() < 0.4 && C > 1 ? rng.int(1, C - 1) : 0;
    out.push({ H, W, C, CO, KH, KW, stride, pad, strideW, padW, depthwise, split });
  }
  // exact channel multiples and the MobileNetV2-like FC (one pixel, long rows)
  out.push(
    { H: 4, W: 4, C: 16, CO: 8, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false, split: 0 },
    { H: 3, W: 5, C: 32, CO: 32, KH: 3, KW: 3, stride: 1, pad: 1, depthwise: true, split: 0 },
    { H: 1, W: 1, C: 1280, CO: 10, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false, split: 0 },
    { H: 1, W: 1, C: 300, CO: 7, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false, split: 123 },
    { H: 9, W: 9, C: 3, CO: 16, KH: 3, KW: 3, stride: 2, pad: 1, depthwise: false, split: 0 },
    // DS-CNN's first conv (10x4 stride 2, top != left) and depthwise 3x3 at strides [2, 1] / [1, 2] with channel tails
    { H: 49, W: 10, C: 1, CO: 12, KH: 10, KW: 4, stride: 2, pad: 4, strideW: 2, padW: 1, depthwise: false, split: 0 },
    { H: 9, W: 8, C: 21, CO: 21, KH: 3, KW: 3, stride: 2, pad: 1, strideW: 1, padW: 0, depthwise: true, split: 0 },
    { H: 7, W: 9, C: 13, CO: 13, KH: 3, KW: 3, stride: 1, pad: 0, strideW: 2, padW: 1, depthwise: true, split: 5 },
  );
  return out;
}

/** Weights (and the frozen rest w2) of a shape, full int8 range. */
function weightsOf(rng: Rng, s: Shape): { w: Int8Array; w2: Int8Array } {
  const taps = s.KH * s.KW;
  if (s.depthwise) {
    const first = s.split || s.C;
    return { w: int8Full(rng, first * taps), w2: int8Full(rng, Math.max(s.C - first, 1) * taps) };
  }
  const first = s.split || s.C;
  return { w: int8Full(rng, s.CO * taps * first), w2: int8Full(rng, s.CO * taps * Math.max(s.C - first, 1)) };
}

// ---------------------------------------------------------------------------------------

describe('int8 forward: SIMD == scalar', () => {
  it.each(shapes(601, 140).map((s) => [label(s), s] as const))('%s', (what, s) => {
    const rng = new Rng(s.H * 1000 + s.C * 31 + s.CO);
    const OH = outDim(s.H, s.KH, s.stride, s.pad);
    const OW = outDim(s.W, s.KW, s.strideW ?? s.stride, s.padW ?? s.pad);
    const { w, w2 } = weightsOf(rng, s);
    const zx = rng.pick([-128, 127, rng.int(-128, 127)]);
    const lo = rng.pick([-128, rng.int(-128, 0)]);
    const hi = rng.pick([127, rng.int(lo, 127)]);
    const common = {
      w: { i8: w },
      w2: { i8: w2 },
      bias: { i32: rng.int32s(s.CO, -20000, 20000) },
      mult: { i32: rng.int32s(s.CO, 1 << 29, 2 ** 31 - 1) },
      shift: { i32: rng.int32s(s.CO, 24, 40) },
    };
    // whole tensors
    sameInBoth(what, { ...common, x: { i8: int8Full(rng, s.H * s.W * s.C) }, y: { zero: OH * OW * s.CO } }, (k, p) =>
      k.conv2dForwardS8({
        x: p.x,
        H: s.H,
        W: s.W,
        C: s.C,
        zx,
        w: p.w,
        bias: p.bias,
        mult: p.mult,
        shift: p.shift,
        y: p.y,
        OH,
        OW,
        CO: s.CO,
        zy: 3,
        lo,
        hi,
        KH: s.KH,
        KW: s.KW,
        stride: s.stride,
        pad: s.pad,
        strideW: s.strideW,
        padW: s.padW,
        depthwise: s.depthwise,
        w2: p.w2,
        split: s.split,
      }),
    );
    // a row range between ring buffers
    const inRing = rng.next() < 0.5 ? 0 : rng.int(Math.min(s.KH, s.H), s.H);
    const outRing = rng.next() < 0.5 ? 0 : rng.int(1, OH);
    const ohBegin = rng.int(0, OH - 1);
    const ohEnd = rng.int(ohBegin + 1, OH);
    sameInBoth(
      `${what} rows [${ohBegin}, ${ohEnd}) rings ${inRing}/${outRing}`,
      { ...common, x: { i8: int8Full(rng, (inRing || s.H) * s.W * s.C) }, y: { zero: (outRing || OH) * OW * s.CO } },
      (k, p) =>
        k.conv2dForwardRowsS8(
          {
            x: p.x,
            H: s.H,
            W: s.W,
            C: s.C,
            zx,
            w: p.w,
            bias: p.bias,
            mult: p.mult,
            shift: p.shift,
            y: p.y,
            OH,
            OW,
            CO: s.CO,
            zy: -7,
            lo,
            hi,
            KH: s.KH,
            KW: s.KW,
            stride: s.stride,
            pad: s.pad,
            strideW: s.strideW,
            padW: s.padW,
            depthwise: s.depthwise,
            w2: p.w2,
            split: s.split,
            inRing,
            outRing,
          },
          ohBegin,
          ohEnd,
        ),
    );
  });
});

describe('requantisation extremes (vector rule for shifts >= 32): SIMD == scalar', () => {
  const rng = new Rng(607);
  const cases = Array.from({ length: 40 }, (_, i) => ({
    H: rng.int(1, 6),
    W: rng.int(2, 6),
    C: rng.int(1, 24),
    CO: rng.int(1, 13),
    depthwise: i % 2 === 1,
    shifts: rng.pick([[32], [31, 32], [32, 33, 47, 62], [40], [62], [1, 31, 32]]),
  }));
  it.each(cases.map((c) => [`${c.depthwise ? 'dw 3x3' : '1x1'} ${c.H}x${c.W}x${c.C} shifts ${c.shifts.join('/')}`, c] as const))('%s', (what, c) => {
    const CO = c.depthwise ? c.C : c.CO;
    const K = c.depthwise ? 3 : 1;
    const pad = c.depthwise ? 1 : 0;
    const nw = c.depthwise ? c.C * 9 : CO * c.C;
    const zx = rng.int(-128, 127);
    const zy = rng.int(-128, 127);
    sameInBoth(
      what,
      {
        x: { i8: int8Full(rng, c.H * c.W * c.C) },
        w: { i8: int8Full(rng, nw) },
        w2: { i8: [0] },
        // biases anywhere in int32, so accumulators reach (and wrap at) +-2^31
        bias: { i32: Int32Array.from({ length: CO }, () => rng.u32() | 0) },
        mult: { i32: Int32Array.from({ length: CO }, () => rng.pick([2 ** 30, 2 ** 31 - 1, rng.int(2 ** 30, 2 ** 31 - 1)])) },
        shift: { i32: Int32Array.from({ length: CO }, () => rng.pick(c.shifts)) },
        y: { zero: c.H * c.W * CO },
      },
      (k, p) =>
        k.conv2dForwardS8({
          x: p.x,
          H: c.H,
          W: c.W,
          C: c.C,
          zx,
          w: p.w,
          bias: p.bias,
          mult: p.mult,
          shift: p.shift,
          y: p.y,
          OH: c.H,
          OW: c.W,
          CO,
          zy,
          lo: -128,
          hi: 127,
          KH: K,
          KW: K,
          stride: 1,
          pad,
          depthwise: c.depthwise,
          w2: p.w2,
          split: 0,
        }),
    );
  });
});

describe('float32 input gradient: SIMD == scalar', () => {
  it.each(shapes(602, 120).map((s) => [label(s), s] as const))('%s', (what, s) => {
    const rng = new Rng(s.W * 1000 + s.C * 17 + s.CO);
    const OH = outDim(s.H, s.KH, s.stride, s.pad);
    const OW = outDim(s.W, s.KW, s.strideW ?? s.stride, s.padW ?? s.pad);
    const { w, w2 } = weightsOf(rng, s);
    for (const accumulate of [false, true]) {
      sameInBoth(
        `${what} accumulate=${accumulate}`,
        {
          gy: { f32: gradsZeroPixels(rng, OH * OW, s.CO) },
          w: { i8: w },
          w2: { i8: w2 },
          wScale: { f32: scalesOf(rng, s.CO) },
          gx: { f32: grads(rng, s.H * s.W * s.C) },
        },
        (k, p) =>
          k.conv2dBackwardInputF32({
            gy: p.gy,
            OH,
            OW,
            CO: s.CO,
            w: p.w,
            wScale: p.wScale,
            gx: p.gx,
            H: s.H,
            W: s.W,
            C: s.C,
            KH: s.KH,
            KW: s.KW,
            stride: s.stride,
            pad: s.pad,
            strideW: s.strideW,
            padW: s.padW,
            depthwise: s.depthwise,
            accumulate,
            w2: p.w2,
            split: s.split,
          }),
      );
    }
  });
});

describe('depthwise input gradient in place: SIMD == scalar', () => {
  const rng = new Rng(603);
  const cases = Array.from({ length: 40 }, (_, i) => {
    const K = i < 30 ? 3 : rng.pick([1, 5]);
    const C = i < 6 ? [1, 3, 4, 8, 16, 37][i]! : rng.int(1, 40);
    return { H: rng.int(1, 9), W: rng.int(1, 9), C, K, split: rng.next() < 0.4 && C > 1 ? rng.int(1, C - 1) : 0 };
  });
  it.each(cases.map((c) => [`${c.H}x${c.W}x${c.C} k${c.K} split=${c.split}`, c] as const))('%s', (what, c) => {
    const pad = (c.K - 1) / 2;
    const first = c.split || c.C;
    const taps = c.K * c.K;
    sameInBoth(
      what,
      {
        g: { f32: gradsZeroPixels(rng, c.H * c.W, c.C) },
        w: { i8: int8Full(rng, first * taps) },
        w2: { i8: int8Full(rng, Math.max(c.C - first, 1) * taps) },
        wScale: { f32: scalesOf(rng, c.C) },
        scratch: { zero: (c.K - pad) * c.W * c.C * 4 },
      },
      (k, p) =>
        k.depthwiseBackwardInputInPlaceF32({ g: p.g, H: c.H, W: c.W, C: c.C, w: p.w, wScale: p.wScale, KH: c.K, KW: c.K, pad, w2: p.w2, split: c.split, scratch: p.scratch }),
    );
  });
});

describe('weight gradient and fused update: SIMD == scalar', () => {
  it.each(shapes(604, 100).map((s) => [label(s), s] as const))('%s', (what, s) => {
    const rng = new Rng(s.H * 7 + s.W * 1000 + s.C * 13 + s.CO);
    const OH = outDim(s.H, s.KH, s.stride, s.pad);
    const OW = outDim(s.W, s.KW, s.strideW ?? s.stride, s.padW ?? s.pad);
    // trained slice of K input channels (depthwise: channels), x saved with XC >= K channels
    const K = s.split || s.C;
    const XC = rng.next() < 0.5 ? K : rng.int(K, s.C);
    const nw = s.depthwise ? K * s.KH * s.KW : s.CO * s.KH * s.KW * K;
    const zx = rng.pick([-128, 127, rng.int(-128, 127)]);
    const sx = Math.fround(rng.uniform(0.004, 0.06));
    const x = { i8: int8Full(rng, s.H * s.W * XC) };
    const gy = { f32: grads(rng, OH * OW * s.CO) };
    sameInBoth(`${what} grad K=${K} XC=${XC}`, { gy, x, out: { zero: nw * 4 } }, (k, p) =>
      k.conv2dWeightGradF32({
        gy: p.gy,
        OH,
        OW,
        CO: s.CO,
        x: p.x,
        H: s.H,
        W: s.W,
        XC,
        zx,
        sx,
        KH: s.KH,
        KW: s.KW,
        stride: s.stride,
        pad: s.pad,
        strideW: s.strideW,
        padW: s.padW,
        depthwise: s.depthwise,
        K,
        out: p.out,
      }),
    );
    for (const [momentum, qas, stochastic] of [
      [false, true, true],
      [true, true, true],
      [false, false, false],
    ] as const) {
      const lr = Math.fround(rng.uniform(0.001, 0.5));
      sameInBoth(
        `${what} update K=${K} XC=${XC} momentum=${momentum} qas=${qas} stochastic=${stochastic}`,
        {
          gy,
          x,
          w: { i8: int8Full(rng, nw) },
          wScale: { f32: scalesOf(rng, s.CO) },
          vel: momentum ? { f32: grads(rng, nw) } : { zero: 4 },
          rng: { rngSeed: rng.u32() },
        },
        (k, p) =>
          k.conv2dWeightUpdateS8(
            {
              gy: p.gy,
              OH,
              OW,
              CO: s.CO,
              x: p.x,
              H: s.H,
              W: s.W,
              XC,
              zx,
              sx,
              w: p.w,
              wScale: p.wScale,
              vel: momentum ? p.vel : 0,
              KH: s.KH,
              KW: s.KW,
              stride: s.stride,
              pad: s.pad,
              strideW: s.strideW,
              padW: s.padW,
              depthwise: s.depthwise,
              K,
            },
            lr,
            momentum ? 0.9 : 0,
            qas,
            stochastic ? p.rng : 0,
          ),
      );
    }
  });
});

describe('bias gradient and fused update: SIMD == scalar', () => {
  const rng = new Rng(605);
  const cases = Array.from({ length: 30 }, (_, i) => ({ P: rng.int(1, 70), CO: i < 8 ? i + 1 : rng.int(1, 40) }));
  it.each(cases.map((c) => [`P=${c.P} CO=${c.CO}`, c] as const))('%s', (what, c) => {
    const gy = { f32: grads(rng, c.P * c.CO) };
    sameInBoth(`${what} grad`, { gy, out: { zero: c.CO * 4 } }, (k, p) => k.biasGradF32({ gy: p.gy, P: c.P, CO: c.CO, out: p.out }));
    for (const momentum of [false, true]) {
      sameInBoth(
        `${what} update momentum=${momentum}`,
        {
          gy,
          bias: { i32: rng.int32s(c.CO, -5000, 5000) },
          wScale: { f32: scalesOf(rng, c.CO) },
          vel: momentum ? { f32: grads(rng, c.CO) } : { zero: 4 },
          rng: { rngSeed: rng.u32() },
        },
        (k, p) => k.biasUpdateAllS32({ gy: p.gy, P: c.P, CO: c.CO, bias: p.bias, wScale: p.wScale, sx: 0.02, vel: momentum ? p.vel : 0 }, 0.1, momentum ? 0.9 : 0, true, p.rng),
      );
    }
  });
});

describe('GAP head backward: SIMD == scalar', () => {
  const rng = new Rng(606);
  const cases = Array.from({ length: 30 }, (_, i) => {
    const CI = i < 6 ? [1, 4, 15, 16, 17, 64][i]! : rng.int(1, 70);
    return { P: rng.int(1, 20), CO: rng.int(1, 40), CI, split: rng.next() < 0.4 && CI > 1 ? rng.int(1, CI - 1) : 0 };
  });
  it.each(cases.map((c) => [`P=${c.P} CO=${c.CO} CI=${c.CI} split=${c.split}`, c] as const))('%s', (what, c) => {
    const first = c.split || c.CI;
    for (const [bits, gxMode, bgrad] of [
      [true, 'fresh', true],
      [false, 'accumulate', false],
      [true, 'none', true],
    ] as const) {
      sameInBoth(
        `${what} bits=${bits} gx=${gxMode} bgrad=${bgrad}`,
        {
          gpool: { f32: rng.next() < 0.2 ? new Float32Array(c.CO) : grads(rng, c.CO) },
          bits: { i8: int8Full(rng, (c.P * c.CO + 7) >> 3) },
          w: { i8: int8Full(rng, c.CO * first) },
          w2: { i8: int8Full(rng, c.CO * Math.max(c.CI - first, 1)) },
          wScale: { f32: scalesOf(rng, c.CO) },
          gx: { f32: grads(rng, c.P * c.CI) },
          bgrad: { zero: c.CO * 4 },
          scratch: { zero: c.CO * 4 },
        },
        (k, p) =>
          k.gapHeadBackwardF32({
            gpool: p.gpool,
            P: c.P,
            CO: c.CO,
            bits: bits ? p.bits : 0,
            w: p.w,
            wScale: p.wScale,
            CI: c.CI,
            w2: p.w2,
            split: c.split,
            gx: gxMode === 'none' ? 0 : p.gx,
            accumulate: gxMode === 'accumulate',
            bgrad: bgrad ? p.bgrad : 0,
            scratch: p.scratch,
          }),
      );
    }
  });
});
