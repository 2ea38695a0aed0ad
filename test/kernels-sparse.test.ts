/**
 * Kernels behind sparse update and memory savings, checked for exact agreement with the
 * plain kernels they replace (everything here is integer or the same float operations in
 * the same order, so the comparisons are bit for bit, on the SIMD and the scalar build):
 *  - split weight storage: conv2dForwardS8 / conv2dBackwardInputF32 with the input
 *    channels [0, k) at w and [k, C) at w2 (depthwise: channels) == the unsplit kernel on
 *    the joined weights;
 *  - stored gradients: conv2dWeightGradF32 + applyWeightUpdateS8 == conv2dWeightUpdateS8
 *    (weights, velocity, rng state), also with the gradient stored for GK > K channels
 *    and computed from saved input channels; biasGradF32 + applyBiasUpdateS32 ==
 *    biasUpdateAllS32;
 *  - conv2dForwardRowsS8 computing output rows one at a time through input and output
 *    ring buffers (also a chain of two convs streaming through one ring) == the
 *    whole-tensor kernel;
 *  - saveChannelsS8 against a JS slice; saveMaskBits + clampBackwardBitsF32 ==
 *    clampBackwardF32 (ReLU: hi = 128; ReLU6: hi = the quantised 6).
 * Output buffers sit between sentinel guards: a kernel must not write outside them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { quantizeMultiplier } from '../compiler/quantize/fixedpoint.js';
import { type ConvCase, KernelModule, Rng, channelSlice, convLabel, f32, loadKernels, makeLayer, outDim, randomConvCases } from './support/kernel-module.js';

let simd: KernelModule;
let scalar: KernelModule;

beforeAll(async () => {
  [simd, scalar] = await Promise.all([loadKernels({ simd: true }), loadKernels({ simd: false })]);
}, 180_000);

const builds = [['simd'], ['scalar']] as const;
type Build = (typeof builds)[number][0];
const mod = (b: Build) => (b === 'simd' ? simd : scalar);

// ---------------------------------------------------------------------------------------
// helpers

const GUARD = 32;
const SENTINEL = 0xa5;

/** A buffer of `bytes` bytes (prefilled with `fill`) between two sentinel guards. */
function guarded(k: KernelModule, bytes: number, fill = SENTINEL): { p: number; intact: () => boolean } {
  const base = k.allocFilled(bytes + 2 * GUARD, SENTINEL);
  const p = base + GUARD;
  new Uint8Array(k.memory.buffer, p, bytes).fill(fill);
  const intact = () => [...k.readBytes(base, GUARD), ...k.readBytes(p + bytes, GUARD)].every((v) => v === SENTINEL);
  return { p, intact };
}

/** Byte-wise equality with the position of the first difference in the message. */
function expectSameBytes(what: string, got: Uint8Array, want: Uint8Array): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const i = got.findIndex((v, j) => v !== want[j]);
  expect(i, `${what}: first differing byte`).toBe(-1);
}

const bytesOf = (a: Float32Array | Int32Array | Int8Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Split points to try for C channels: the ends, around multiples of 8 (SIMD body/tail of the dot product), one random. */
function splitPoints(C: number, rng: Rng): number[] {
  const ks = [1, C - 1, C, 7, 8, 9, 16, 17, Math.floor(C / 2), rng.int(1, C)];
  return [...new Set(ks)].filter((k) => k >= 1 && k <= C).sort((a, b) => a - b);
}

/** Per-channel requantisation tables and an output zero point, as the runtime has them. */
function requantTables(rng: Rng, CO: number) {
  const mult = Int32Array.from({ length: CO }, () => quantizeMultiplier(rng.uniform(1e-4, 2e-2)).m);
  const shift = Int32Array.from({ length: CO }, () => rng.int(10, 24));
  const zy = rng.int(-20, 20);
  return { mult, shift, zy };
}

/** Dense layers are 1x1 convs over a 1x1 image with C = input length. */
const denseCase = (C: number, CO: number): ConvCase => ({ H: 1, W: 1, C, CO, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false });
const denseLabel = (c: ConvCase) => `dense ${c.C}->${c.CO}`;

const CONV_CASES = randomConvCases(901, 14, false, 40);
const DW_CASES = randomConvCases(902, 10, true, 40);
const DENSE_CASES = [
  [1, 3],
  [7, 5],
  [8, 10],
  [9, 2],
  [17, 4],
  [33, 10],
  [64, 8],
  [100, 10],
  [257, 3],
].map(([C, CO]) => denseCase(C!, CO!));
const ALL_CASES: Array<[string, ConvCase]> = [
  ...CONV_CASES.map((c) => [convLabel(c), c] as [string, ConvCase]),
  ...DW_CASES.map((c) => [convLabel(c), c] as [string, ConvCase]),
  ...DENSE_CASES.map((c) => [denseLabel(c), c] as [string, ConvCase]),
];

// ---------------------------------------------------------------------------------------

describe.each(builds)('split weight storage == unsplit kernel on the joined weights (%s build)', (b) => {
  function forward(k: KernelModule, c: ConvCase, seed: number): void {
    const rng = new Rng(seed);
    const L = makeLayer(rng, c);
    const { mult, shift, zy } = requantTables(rng, c.CO);
    const relu = rng.next() < 0.5;
    const n = L.OH * L.OW * c.CO;
    const run = (w: ArrayLike<number>, w2: ArrayLike<number> | 'garbage' | null, split: number): Uint8Array => {
      k.reset();
      const pX = k.i8(L.xq);
      const pB = k.i32(L.bq);
      const pM = k.i32(mult);
      const pS = k.i32(shift);
      const pW = k.i8(w);
      // split = 0 must not read w2: give it bytes that would change the result
      const pW2 = w2 === null ? 0 : k.i8(w2 === 'garbage' ? rng.int8s(L.wq.length) : w2);
      const y = guarded(k, n, 0x55);
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
        y: y.p,
        OH: L.OH,
        OW: L.OW,
        CO: c.CO,
        zy,
        lo: relu ? zy : -128,
        hi: 127,
        KH: c.KH,
        KW: c.KW,
        stride: c.stride,
        pad: c.pad,
        depthwise: c.depthwise,
        w2: pW2,
        split,
      });
      expect(y.intact(), 'forward wrote outside y').toBe(true);
      return k.readBytes(y.p, n);
    };
    const ref = run(L.wq, null, 0);
    expectSameBytes('split = 0 with garbage at w2', run(L.wq, 'garbage', 0), ref);
    for (const split of splitPoints(c.C, rng)) {
      const got = run(channelSlice(c, L.wq, 0, split), channelSlice(c, L.wq, split, c.C), split);
      expectSameBytes(`forward split = ${split}`, got, ref);
    }
  }

  function backward(k: KernelModule, c: ConvCase, seed: number): void {
    const rng = new Rng(seed);
    const L = makeLayer(rng, c);
    const n = c.H * c.W * c.C;
    const prev = rng.f32s(n, -2, 2);
    const run = (w: ArrayLike<number>, w2: ArrayLike<number> | 'garbage' | null, split: number, accumulate: boolean): Uint8Array => {
      k.reset();
      const pGy = k.f32(L.gy);
      const pS = k.f32(L.wScale);
      const pW = k.i8(w);
      const pW2 = w2 === null ? 0 : k.i8(w2 === 'garbage' ? rng.int8s(L.wq.length) : w2);
      const gx = guarded(k, n * 4);
      k.writeF32(gx.p, accumulate ? prev : new Float32Array(n).fill(NaN));
      k.k.conv2dBackwardInputF32({
        gy: pGy,
        OH: L.OH,
        OW: L.OW,
        CO: c.CO,
        w: pW,
        wScale: pS,
        gx: gx.p,
        H: c.H,
        W: c.W,
        C: c.C,
        KH: c.KH,
        KW: c.KW,
        stride: c.stride,
        pad: c.pad,
        depthwise: c.depthwise,
        accumulate,
        w2: pW2,
        split,
      });
      expect(gx.intact(), 'backward wrote outside gx').toBe(true);
      return k.readBytes(gx.p, n * 4);
    };
    for (const accumulate of [false, true]) {
      const ref = run(L.wq, null, 0, accumulate);
      expectSameBytes('split = 0 with garbage at w2', run(L.wq, 'garbage', 0, accumulate), ref);
      for (const split of splitPoints(c.C, rng)) {
        const got = run(channelSlice(c, L.wq, 0, split), channelSlice(c, L.wq, split, c.C), split, accumulate);
        expectSameBytes(`backward split = ${split} accumulate = ${accumulate}`, got, ref);
      }
    }
  }

  it.each(ALL_CASES.map(([n, c], i) => [n, c, 100 + i] as const))('forward %s', (_n, c, seed) => forward(mod(b), c, seed));
  it.each(ALL_CASES.map(([n, c], i) => [n, c, 200 + i] as const))('backward input %s', (_n, c, seed) => backward(mod(b), c, seed));
});

// ---------------------------------------------------------------------------------------

describe.each(builds)('stored gradients + apply == fused update, bit for bit (%s build)', (b) => {
  /**
   * Two update steps with the same gradient (the second continues the random stream and
   * the velocity): fused conv2dWeightUpdateS8 over x with all C channels vs
   * conv2dWeightGradF32 into a buffer for GK >= K channels (from x itself or from the GK
   * saved channels) + applyWeightUpdateS8 to the slice of the first K.
   */
  function weights(k: KernelModule, c: ConvCase, seed: number): void {
    const rng = new Rng(seed);
    const L = makeLayer(rng, c);
    const P = c.H * c.W;
    const Ks = [...new Set([1, c.C, rng.int(1, c.C)])];
    for (const K of Ks) {
      const GKs = [...new Set([K, rng.int(K, c.C), c.C])];
      const wK = Int8Array.from(channelSlice(c, L.wq, 0, K));
      const n = wK.length;
      const vel0 = rng.f32s(n, -20, 20);
      for (const GK of GKs) {
        // the gradient layout for GK channels, sliced like weights of a layer with C = GK
        const cG: ConvCase = { ...c, C: GK, CO: c.depthwise ? GK : c.CO };
        const nG = channelSlice(c, L.wq, 0, GK).length;
        for (const qas of [true, false])
          for (const mom of ['none', 'mu0', 'mu0.9'] as const)
            for (const saved of [false, true]) {
              const what = `${convLabel(c)} K=${K} GK=${GK} qas=${qas} ${mom} saved=${saved}`;
              const mu = mom === 'mu0.9' ? f32(0.9) : 0;
              const lr = f32(qas ? rng.uniform(0.005, 0.3) : rng.uniform(50, 3000));
              const seedR = rng.int(1, 1e9);
              k.reset();
              const pGy = k.f32(L.gy);
              const pX = k.i8(L.xq);
              const pS = k.f32(L.wScale);
              // fused
              const w1 = guarded(k, n);
              k.writeI8(w1.p, wK);
              const v1 = guarded(k, n * 4);
              k.writeF32(v1.p, vel0);
              const r1 = k.rng(seedR);
              // stored
              const w2 = guarded(k, n);
              k.writeI8(w2.p, wK);
              const v2 = guarded(k, n * 4);
              k.writeF32(v2.p, vel0);
              const r2 = k.rng(seedR);
              const g = guarded(k, nG * 4, 0xff); // NaN until written
              const gK = guarded(k, n * 4, 0xff);
              let pXg = pX;
              let XCg = c.C;
              if (saved) {
                const xs = guarded(k, P * GK);
                k.k.saveChannelsS8({ x: pX, P, C: c.C, K: GK, out: xs.p });
                expect(xs.intact()).toBe(true);
                pXg = xs.p;
                XCg = GK;
              }
              for (let step = 0; step < 2; step++) {
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
                    w: w1.p,
                    wScale: pS,
                    vel: mom === 'none' ? 0 : v1.p,
                    KH: c.KH,
                    KW: c.KW,
                    stride: c.stride,
                    pad: c.pad,
                    depthwise: c.depthwise,
                    K,
                  },
                  lr,
                  mu,
                  qas,
                  r1,
                );
                k.k.conv2dWeightGradF32({
                  gy: pGy,
                  OH: L.OH,
                  OW: L.OW,
                  CO: c.CO,
                  x: pXg,
                  H: c.H,
                  W: c.W,
                  XC: XCg,
                  zx: L.zx,
                  sx: L.sx,
                  KH: c.KH,
                  KW: c.KW,
                  stride: c.stride,
                  pad: c.pad,
                  depthwise: c.depthwise,
                  K: GK,
                  out: g.p,
                });
                k.k.applyWeightUpdateS8(
                  { grad: g.p, GK, CO: c.CO, KH: c.KH, KW: c.KW, depthwise: c.depthwise, w: w2.p, wScale: pS, vel: mom === 'none' ? 0 : v2.p, K },
                  lr,
                  mu,
                  qas,
                  r2,
                );
              }
              // the stored gradient's first K channels are the gradient computed for K channels
              k.k.conv2dWeightGradF32({
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
                KH: c.KH,
                KW: c.KW,
                stride: c.stride,
                pad: c.pad,
                depthwise: c.depthwise,
                K,
                out: gK.p,
              });
              for (const buf of [w1, v1, w2, v2, g, gK]) expect(buf.intact(), `${what}: write outside a buffer`).toBe(true);
              const gAll = k.readF32(g.p, nG);
              expect(gAll.every(Number.isFinite), `${what}: gradient buffer fully written`).toBe(true);
              expectSameBytes(`${what}: gradient slice`, bytesOf(Float32Array.from(channelSlice(cG, gAll, 0, K))), k.readBytes(gK.p, n * 4));
              expectSameBytes(`${what}: weights`, k.readBytes(w2.p, n), k.readBytes(w1.p, n));
              expectSameBytes(`${what}: velocity`, k.readBytes(v2.p, n * 4), k.readBytes(v1.p, n * 4));
              expectSameBytes(`${what}: rng state`, k.readBytes(r2, 4), k.readBytes(r1, 4));
              // the update did something: weights moved and the stream advanced by 2 draws per weight
              expect(Array.from(k.readI8(w1.p, n)), `${what}: weights must move`).not.toEqual(Array.from(wK));
              const rRef = k.rng(seedR);
              const xs32 = new Uint32Array(k.memory.buffer, rRef, 1);
              for (let i = 0; i < 2 * n; i++) {
                let x = xs32[0]!;
                x ^= x << 13;
                x >>>= 0;
                x ^= x >>> 17;
                x ^= x << 5;
                xs32[0] = x >>> 0;
              }
              expectSameBytes(`${what}: one draw per weight and step`, k.readBytes(r1, 4), k.readBytes(rRef, 4));
            }
      }
    }
  }

  function bias(k: KernelModule, c: ConvCase, seed: number): void {
    const rng = new Rng(seed);
    const L = makeLayer(rng, c);
    const P = L.OH * L.OW;
    const vel0 = rng.f32s(c.CO, -20, 20);
    for (const qas of [true, false])
      for (const mom of ['none', 'mu0', 'mu0.9'] as const) {
        const what = `${convLabel(c)} bias qas=${qas} ${mom}`;
        const mu = mom === 'mu0.9' ? f32(0.9) : 0;
        const lr = f32(qas ? rng.uniform(0.005, 0.3) : rng.uniform(1e5, 1e7));
        const seedR = rng.int(1, 1e9);
        k.reset();
        const pGy = k.f32(L.gy);
        const pS = k.f32(L.wScale);
        const b1 = guarded(k, c.CO * 4);
        k.writeI32(b1.p, L.bq);
        const v1 = guarded(k, c.CO * 4);
        k.writeF32(v1.p, vel0);
        const b2 = guarded(k, c.CO * 4);
        k.writeI32(b2.p, L.bq);
        const v2 = guarded(k, c.CO * 4);
        k.writeF32(v2.p, vel0);
        const g = guarded(k, c.CO * 4, 0xff);
        const r1 = k.rng(seedR);
        const r2 = k.rng(seedR);
        for (let step = 0; step < 2; step++) {
          k.k.biasUpdateAllS32({ gy: pGy, P, CO: c.CO, bias: b1.p, wScale: pS, sx: L.sx, vel: mom === 'none' ? 0 : v1.p }, lr, mu, qas, r1);
          k.k.biasGradF32({ gy: pGy, P, CO: c.CO, out: g.p });
          k.k.applyBiasUpdateS32({ grad: g.p, CO: c.CO, bias: b2.p, wScale: pS, sx: L.sx, vel: mom === 'none' ? 0 : v2.p }, lr, mu, qas, r2);
        }
        for (const buf of [b1, v1, b2, v2, g]) expect(buf.intact(), `${what}: write outside a buffer`).toBe(true);
        expect(Array.from(k.readF32(g.p, c.CO)).every(Number.isFinite), `${what}: gradient written`).toBe(true);
        expectSameBytes(`${what}: bias`, k.readBytes(b2.p, c.CO * 4), k.readBytes(b1.p, c.CO * 4));
        expectSameBytes(`${what}: velocity`, k.readBytes(v2.p, c.CO * 4), k.readBytes(v1.p, c.CO * 4));
        expectSameBytes(`${what}: rng state`, k.readBytes(r2, 4), k.readBytes(r1, 4));
        expect(Array.from(k.readI32(b1.p, c.CO)), `${what}: bias must move`).not.toEqual(Array.from(L.bq));
      }
  }

  const cases = [...CONV_CASES.slice(0, 8), ...DW_CASES.slice(0, 6), ...DENSE_CASES.slice(0, 5)];
  it.each(cases.map((c, i) => [c.H === 1 && c.W === 1 && c.KH === 1 ? denseLabel(c) : convLabel(c), c, 300 + i] as const))('weights %s', (_n, c, seed) => weights(mod(b), c, seed));
  it.each(cases.map((c, i) => [c.H === 1 && c.W === 1 && c.KH === 1 ? denseLabel(c) : convLabel(c), c, 400 + i] as const))('bias %s', (_n, c, seed) => bias(mod(b), c, seed));
});

// ---------------------------------------------------------------------------------------

describe.each(builds)('conv2dForwardRowsS8: rows one by one through ring buffers == whole tensor (%s build)', (b) => {
  interface Conv {
    c: ConvCase;
    OH: number;
    OW: number;
    zx: number;
    zy: number;
    lo: number;
    w: Int8Array;
    bias: Int32Array;
    mult: Int32Array;
    shift: Int32Array;
    split: number;
  }
  /** A conv with random weights and requantisation; optionally split weight storage. */
  function makeConv(rng: Rng, c: ConvCase, zx: number): Conv {
    const L = makeLayer(rng, c);
    const { mult, shift, zy } = requantTables(rng, c.CO);
    const split = rng.next() < 0.5 ? 0 : rng.int(1, c.C);
    return { c, OH: L.OH, OW: L.OW, zx, zy, lo: rng.next() < 0.5 ? zy : -128, w: L.wq, bias: L.bq, mult, shift, split };
  }
  /** Writes a conv's parameters into the module; returns a call of rows [b, e). */
  function place(k: KernelModule, v: Conv) {
    const c = v.c;
    const pW = k.i8(v.split ? channelSlice(c, v.w, 0, v.split) : v.w);
    const pW2 = v.split ? k.i8(channelSlice(c, v.w, v.split, c.C)) : 0;
    const pB = k.i32(v.bias);
    const pM = k.i32(v.mult);
    const pS = k.i32(v.shift);
    return (x: number, y: number, ohBegin: number, ohEnd: number, inRing: number, outRing: number) =>
      k.k.conv2dForwardRowsS8(
        {
          x,
          H: c.H,
          W: c.W,
          C: c.C,
          zx: v.zx,
          w: pW,
          bias: pB,
          mult: pM,
          shift: pS,
          y,
          OH: v.OH,
          OW: v.OW,
          CO: c.CO,
          zy: v.zy,
          lo: v.lo,
          hi: 127,
          KH: c.KH,
          KW: c.KW,
          stride: c.stride,
          pad: c.pad,
          depthwise: c.depthwise,
          w2: pW2,
          split: v.split,
          inRing,
          outRing,
        },
        ohBegin,
        ohEnd,
      );
  }
  /** The whole-tensor result of the plain kernel (unsplit weights). */
  function whole(k: KernelModule, v: Conv, x: Int8Array): Int8Array {
    const c = v.c;
    k.reset();
    const pX = k.i8(x);
    const pW = k.i8(v.w);
    const pB = k.i32(v.bias);
    const pM = k.i32(v.mult);
    const pS = k.i32(v.shift);
    const pY = k.alloc(v.OH * v.OW * c.CO);
    k.k.conv2dForwardS8({
      x: pX,
      H: c.H,
      W: c.W,
      C: c.C,
      zx: v.zx,
      w: pW,
      bias: pB,
      mult: pM,
      shift: pS,
      y: pY,
      OH: v.OH,
      OW: v.OW,
      CO: c.CO,
      zy: v.zy,
      lo: v.lo,
      hi: 127,
      KH: c.KH,
      KW: c.KW,
      stride: c.stride,
      pad: c.pad,
      depthwise: c.depthwise,
      w2: 0,
      split: 0,
    });
    return k.readI8(pY, v.OH * v.OW * c.CO);
  }
  /** Input rows [lo, hi] (clipped to the image) output row oh reads. */
  const rowsNeeded = (c: ConvCase, oh: number): [number, number] => [Math.max(0, oh * c.stride - c.pad), Math.min(c.H - 1, oh * c.stride - c.pad + c.KH - 1)];

  /** Row chunks [b, e) over the whole tensors: rows outside the chunk stay untouched. */
  function chunks(k: KernelModule, v: Conv, x: Int8Array, ref: Int8Array, rng: Rng): void {
    const c = v.c;
    const rowBytes = v.OW * c.CO;
    k.reset();
    const run = place(k, v);
    const pX = k.i8(x);
    const y = guarded(k, v.OH * rowBytes);
    let begin = 0;
    while (begin < v.OH) {
      const end = Math.min(v.OH, begin + rng.int(1, 3));
      run(pX, y.p, begin, end, 0, 0);
      const got = k.readI8(y.p, v.OH * rowBytes);
      expectSameBytes(`rows [0, ${end})`, bytesOf(got.subarray(0, end * rowBytes)), bytesOf(ref.subarray(0, end * rowBytes)));
      expect(
        Array.from(got.subarray(end * rowBytes)).every((q) => (q & 0xff) === SENTINEL),
        `rows from ${end} untouched`,
      ).toBe(true);
      begin = end;
    }
    expect(y.intact()).toBe(true);
  }

  /**
   * Input ring of inRing >= KH rows filled by a producer (lazy: only the rows the next
   * output row needs; eager: as far ahead as the ring allows without overwriting a row
   * still needed), output ring of outRing rows read by a consumer right after each row.
   * Ring slots start as random bytes, so reading a stale slot shows.
   */
  function rings(k: KernelModule, v: Conv, x: Int8Array, ref: Int8Array, inRing: number, outRing: number, eager: boolean, rng: Rng): void {
    const c = v.c;
    const inRow = c.W * c.C;
    const outRow = v.OW * c.CO;
    k.reset();
    const run = place(k, v);
    const xr = guarded(k, inRing * inRow);
    k.writeI8(xr.p, rng.int8s(inRing * inRow));
    const yr = guarded(k, outRing * outRow);
    k.writeI8(yr.p, rng.int8s(outRing * outRow));
    let produced = -1; // highest input row written
    for (let oh = 0; oh < v.OH; oh++) {
      const [need0, need1] = rowsNeeded(c, oh);
      const upTo = eager ? Math.min(c.H - 1, need0 + inRing - 1) : need1;
      for (let r = produced + 1; r <= upTo; r++) k.writeI8(xr.p + (r % inRing) * inRow, x.subarray(r * inRow, (r + 1) * inRow));
      produced = Math.max(produced, upTo);
      run(xr.p, yr.p, oh, oh + 1, inRing, outRing);
      const got = k.readBytes(yr.p + (oh % outRing) * outRow, outRow);
      expectSameBytes(`${convLabel(c)} row ${oh} (inRing ${inRing}, outRing ${outRing}, ${eager ? 'eager' : 'lazy'})`, got, bytesOf(ref.subarray(oh * outRow, (oh + 1) * outRow)));
    }
    expect(xr.intact() && yr.intact(), 'writes outside the rings').toBe(true);
  }

  function single(c: ConvCase, seed: number): void {
    const k = mod(b);
    const rng = new Rng(seed);
    const x = rng.int8s(c.H * c.W * c.C);
    const v = makeConv(rng, c, rng.int(-20, 20));
    const ref = whole(k, v, x);
    chunks(k, v, x, ref, rng);
    for (const inRing of [...new Set([c.KH, c.KH + 1, c.H])]) {
      for (const outRing of [1, 2, 3]) for (const eager of [false, true]) rings(k, v, x, ref, inRing, outRing, eager, rng);
    }
  }

  /**
   * conv A writes its output rows into a ring of R >= KH_B rows that conv B reads as its
   * input ring; B writes into an output ring. A's rows are produced lazily, just before B
   * needs them (then producing A row r overwrites row r - R, which B no longer needs).
   */
  function chain(seed: number): void {
    const k = mod(b);
    const rng = new Rng(seed);
    let cA: ConvCase;
    let cB: ConvCase;
    for (;;) {
      const H = rng.int(4, 14);
      const W = rng.int(3, 9);
      const C = rng.int(1, 20);
      const kA = rng.pick([1, 3, 5]);
      const sA = rng.pick([1, 2]);
      cA = { H, W, C, CO: rng.int(1, 24), KH: kA, KW: rng.pick([kA, 3]), stride: sA, pad: rng.int(0, 2), depthwise: false };
      const OHA = outDim(H, cA.KH, sA, cA.pad);
      const OWA = outDim(W, cA.KW, sA, cA.pad);
      if (OHA < 1 || OWA < 1) continue;
      const dw = rng.next() < 0.5;
      const kB = rng.pick([1, 3, 5]);
      cB = { H: OHA, W: OWA, C: cA.CO, CO: dw ? cA.CO : rng.int(1, 20), KH: kB, KW: kB, stride: rng.pick([1, 2]), pad: rng.int(0, 2), depthwise: dw };
      if (outDim(OHA, kB, cB.stride, cB.pad) >= 1 && outDim(OWA, kB, cB.stride, cB.pad) >= 1) break;
    }
    const x = rng.int8s(cA.H * cA.W * cA.C);
    const A = makeConv(rng, cA, rng.int(-20, 20));
    const B = makeConv(rng, cB, A.zy);
    const mid = whole(k, A, x);
    const ref = whole(k, B, mid);
    for (const R of [...new Set([cB.KH, cB.KH + 1])]) {
      const outRing = rng.int(1, 3);
      k.reset();
      const runA = place(k, A);
      const runB = place(k, B);
      const pX = k.i8(x);
      const ring = guarded(k, R * A.OW * cA.CO);
      k.writeI8(ring.p, rng.int8s(R * A.OW * cA.CO));
      const yr = guarded(k, outRing * B.OW * cB.CO);
      let produced = -1;
      for (let oh = 0; oh < B.OH; oh++) {
        const [, need1] = rowsNeeded(cB, oh);
        if (need1 > produced) {
          runA(pX, ring.p, produced + 1, need1 + 1, 0, R);
          produced = need1;
        }
        runB(ring.p, yr.p, oh, oh + 1, R, outRing);
        const outRow = B.OW * cB.CO;
        expectSameBytes(
          `chain ${convLabel(cA)} => ${convLabel(cB)} ring ${R}, row ${oh}`,
          k.readBytes(yr.p + (oh % outRing) * outRow, outRow),
          bytesOf(ref.subarray(oh * outRow, (oh + 1) * outRow)),
        );
      }
      expect(ring.intact() && yr.intact(), 'writes outside the rings').toBe(true);
    }
  }

  const cases = [
    ...randomConvCases(911, 10, false, 24),
    ...randomConvCases(912, 6, true, 24),
    { H: 12, W: 6, C: 5, CO: 7, KH: 5, KW: 3, stride: 2, pad: 2, depthwise: false },
    { H: 9, W: 9, C: 16, CO: 16, KH: 3, KW: 3, stride: 1, pad: 1, depthwise: true },
  ];
  it.each(cases.map((c, i) => [convLabel(c), c, 500 + i] as const))('%s', (_n, c, seed) => single(c, seed));
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('chain of two convs streaming through one ring (case %i)', (s) => chain(600 + s));
});

// ---------------------------------------------------------------------------------------

describe.each(builds)('saved input channels and 1-bit clamp masks (%s build)', (b) => {
  it('saveChannelsS8 keeps the first K of C channels at every position', () => {
    const k = mod(b);
    const rng = new Rng(700);
    for (let t = 0; t < 30; t++) {
      const P = rng.int(1, 60);
      const C = rng.int(1, 40);
      const K = t % 3 === 0 ? C : t % 3 === 1 ? 1 : rng.int(1, C);
      const x = rng.int8s(P * C);
      k.reset();
      const pX = k.i8(x);
      const out = guarded(k, P * K);
      k.k.saveChannelsS8({ x: pX, P, C, K, out: out.p });
      const want = new Int8Array(P * K);
      for (let p = 0; p < P; p++) for (let ch = 0; ch < K; ch++) want[p * K + ch] = x[p * C + ch]!;
      expectSameBytes(`P=${P} C=${C} K=${K}`, k.readBytes(out.p, P * K), bytesOf(want));
      expect(out.intact(), 'wrote outside the output').toBe(true);
      expectSameBytes('input unchanged', k.readBytes(pX, P * C), bytesOf(x));
    }
  });

  /**
   * y is a clamped int8 output (as the forward writes it), g an upstream gradient with
   * zeros, -0, NaN and infinities (the mask must pass or zero them exactly like the
   * byte-mask kernel). bits must be 1 exactly where lo < y < hi, LSB first per byte;
   * bytes past ceil(count/8) are not written.
   */
  function checkMask(k: KernelModule, y: Int8Array, lo: number, hi: number, rng: Rng, what: string): void {
    const count = y.length;
    const nb = (count + 7) >> 3;
    const g = rng.f32s(count, -1, 1, 0.1);
    for (let i = 0; i < count; i++) {
      const r = rng.next();
      if (r < 0.02) g[i] = NaN;
      else if (r < 0.04) g[i] = -0;
      else if (r < 0.05) g[i] = rng.next() < 0.5 ? Infinity : -Infinity;
    }
    k.reset();
    const pY = k.i8(y);
    const bits = guarded(k, nb, 0xff ^ SENTINEL); // stale bits that must be overwritten
    const g1 = k.f32(g);
    const g2 = k.f32(g);
    k.k.saveMaskBits({ y: pY, count, lo, hi, bits: bits.p });
    const want = new Uint8Array(nb);
    for (let i = 0; i < count; i++) if (y[i]! > lo && y[i]! < hi) want[i >> 3]! |= 1 << (i & 7);
    expectSameBytes(`${what}: mask bits`, k.readBytes(bits.p, nb), want);
    expect(bits.intact(), `${what}: saveMaskBits wrote past ceil(count/8) bytes`).toBe(true);
    k.k.clampBackwardF32({ g: g1, y: pY, count, lo, hi });
    k.k.clampBackwardBitsF32({ g: g2, bits: bits.p, count });
    expectSameBytes(`${what}: masked gradient`, k.readBytes(g2, count * 4), k.readBytes(g1, count * 4));
    expect(bits.intact()).toBe(true);
    // both sides of the mask occur
    const passed = Array.from(want).reduce((a, v) => a + popcount(v), 0);
    expect(passed, `${what}: some pass`).toBeGreaterThan(0);
    expect(passed, `${what}: some are zeroed`).toBeLessThan(count);
  }
  const popcount = (v: number) => {
    let n = 0;
    for (; v; v >>= 1) n += v & 1;
    return n;
  };

  it.each([['relu'], ['relu6']] as const)('%s on every int8 value, lo and the top exactly', (kind) => {
    const k = mod(b);
    const rng = new Rng(kind === 'relu' ? 710 : 711);
    for (const zy of [-128, -100, -3, 0, 17, 100]) {
      const hi = kind === 'relu6' ? Math.min(zy + 96, 127) : 128; // q6 = zy + 6/sy
      const y = Int8Array.from({ length: 256 }, (_, i) => Math.min(Math.max(i - 128, zy), Math.min(hi, 127)));
      checkMask(k, y, zy, hi, rng, `${kind} zy ${zy}`);
    }
  });

  it.each([['relu'], ['relu6']] as const)('%s, counts 1..70 and random lengths (partial last byte)', (kind) => {
    const k = mod(b);
    const rng = new Rng(kind === 'relu' ? 720 : 721);
    const counts = [...Array.from({ length: 70 }, (_, i) => i + 1), 255, 256, 257, 1000, 4099];
    for (const count of counts) {
      const zy = rng.int(-128, 60);
      const steps = rng.int(10, 127 - zy); // ReLU6 top q6 = zy + steps, i.e. sy = 6/steps
      const hi = kind === 'relu6' ? zy + steps : 128;
      const z = rng.int8s(count);
      // make both sides (and for ReLU6 the top) likely even in tiny tensors
      if (count >= 2) {
        z[0] = zy + 1;
        z[1] = zy;
      }
      const y = Int8Array.from(z, (v) => Math.min(Math.max(v, zy), Math.min(hi, 127)));
      if (count < 2) {
        // a single element: check both outcomes
        checkMaskSingle(k, zy, hi, rng);
        continue;
      }
      checkMask(k, y, zy, hi, rng, `${kind} count ${count}`);
    }
  });

  function checkMaskSingle(k: KernelModule, lo: number, hi: number, rng: Rng): void {
    for (const v of [lo, lo + 1]) {
      k.reset();
      const pY = k.i8([v]);
      const bits = guarded(k, 1, 0xff);
      const g = f32(rng.uniform(0.5, 1));
      const g1 = k.f32([g]);
      const g2 = k.f32([g]);
      k.k.saveMaskBits({ y: pY, count: 1, lo, hi, bits: bits.p });
      expect(k.readBytes(bits.p, 1)[0]).toBe(v > lo && v < hi ? 1 : 0);
      k.k.clampBackwardF32({ g: g1, y: pY, count: 1, lo, hi });
      k.k.clampBackwardBitsF32({ g: g2, bits: bits.p, count: 1 });
      expectSameBytes(`single element ${v}`, k.readBytes(g2, 4), k.readBytes(g1, 4));
      expect(bits.intact()).toBe(true);
    }
  }
});

// ---------------------------------------------------------------------------------------

describe('SIMD and scalar builds agree on the new kernels', () => {
  it('split forward/backward, rows through rings, stored-gradient updates, saved channels, mask bits', () => {
    const rng = new Rng(800);
    for (let t = 0; t < 12; t++) {
      const c = rng.pick([...CONV_CASES, ...DW_CASES, ...DENSE_CASES]);
      const L = makeLayer(new Rng(810 + t), c);
      const { mult, shift, zy } = requantTables(new Rng(820 + t), c.CO);
      const split = rng.int(0, c.C);
      const K = rng.int(1, c.C);
      const GK = rng.int(K, c.C);
      const inRing = c.KH + rng.int(0, 2);
      const n = L.OH * L.OW * c.CO;
      const nx = c.H * c.W * c.C;
      const nK = channelSlice(c, L.wq, 0, K).length;
      const nG = channelSlice(c, L.wq, 0, GK).length;
      const lr = f32(rng.uniform(0.01, 0.3));
      const outs = [simd, scalar].map((k) => {
        k.reset();
        const pX = k.i8(L.xq);
        const pB = k.i32(L.bq);
        const pM = k.i32(mult);
        const pSh = k.i32(shift);
        const pW = k.i8(split ? channelSlice(c, L.wq, 0, split) : L.wq);
        const pW2 = split ? k.i8(channelSlice(c, L.wq, split, c.C)) : 0;
        const pS = k.f32(L.wScale);
        const pGy = k.f32(L.gy);
        const pY = k.alloc(n);
        const pYr = k.alloc(n);
        const pGx = k.alloc(nx * 4);
        const pXr = k.alloc(inRing * c.W * c.C);
        const pXs = k.alloc(c.H * c.W * GK);
        const pG = k.alloc(nG * 4);
        const pWK = k.i8(channelSlice(c, L.wq, 0, K));
        const pV = k.f32(new Float32Array(nK));
        const pR = k.rng(t);
        const pBits = k.alloc((n + 7) >> 3);
        const pGm = k.f32(L.gy);
        k.k.conv2dForwardS8({
          x: pX,
          H: c.H,
          W: c.W,
          C: c.C,
          zx: L.zx,
          w: pW,
          bias: pB,
          mult: pM,
          shift: pSh,
          y: pY,
          OH: L.OH,
          OW: L.OW,
          CO: c.CO,
          zy,
          lo: zy,
          hi: 127,
          KH: c.KH,
          KW: c.KW,
          stride: c.stride,
          pad: c.pad,
          depthwise: c.depthwise,
          w2: pW2,
          split,
        });
        for (let oh = 0; oh < L.OH; oh++) {
          for (let r = Math.max(0, oh * c.stride - c.pad); r <= Math.min(c.H - 1, oh * c.stride - c.pad + c.KH - 1); r++) {
            k.writeI8(pXr + (r % inRing) * c.W * c.C, L.xq.subarray(r * c.W * c.C, (r + 1) * c.W * c.C));
          }
          k.k.conv2dForwardRowsS8(
            {
              x: pXr,
              H: c.H,
              W: c.W,
              C: c.C,
              zx: L.zx,
              w: pW,
              bias: pB,
              mult: pM,
              shift: pSh,
              y: pYr,
              OH: L.OH,
              OW: L.OW,
              CO: c.CO,
              zy,
              lo: zy,
              hi: 127,
              KH: c.KH,
              KW: c.KW,
              stride: c.stride,
              pad: c.pad,
              depthwise: c.depthwise,
              w2: pW2,
              split,
              inRing,
              outRing: 0,
            },
            oh,
            oh + 1,
          );
        }
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
          accumulate: false,
          w2: pW2,
          split,
        });
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
        k.k.applyWeightUpdateS8({ grad: pG, GK, CO: c.CO, KH: c.KH, KW: c.KW, depthwise: c.depthwise, w: pWK, wScale: pS, vel: pV, K }, lr, 0.9, true, pR);
        k.k.saveMaskBits({ y: pY, count: n, lo: zy, hi: 128, bits: pBits });
        k.k.clampBackwardBitsF32({ g: pGm, bits: pBits, count: n });
        return [
          k.readBytes(pY, n),
          k.readBytes(pYr, n),
          k.readBytes(pGx, nx * 4),
          k.readBytes(pXs, c.H * c.W * GK),
          k.readBytes(pG, nG * 4),
          k.readBytes(pWK, nK),
          k.readBytes(pV, nK * 4),
          k.readBytes(pR, 4),
          k.readBytes(pBits, (n + 7) >> 3),
          k.readBytes(pGm, n * 4),
        ];
      });
      const [a, s] = outs as [Uint8Array[], Uint8Array[]];
      a.forEach((buf, j) => expectSameBytes(`case ${t} ${convLabel(c)} output ${j}`, buf, s[j]!));
      expectSameBytes(`case ${t}: rows == whole`, a[1]!, a[0]!);
    }
  });
});
