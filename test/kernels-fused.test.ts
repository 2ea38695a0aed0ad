/**
 * The fused / in-place backward kernels, checked bit for bit against the unfused kernel
 * sequence they replace, on the SIMD and the scalar build (all float operations are the
 * same ones in the same order, so the comparisons are exact, byte for byte):
 *  - depthwiseBackwardInputInPlaceF32(g, ...): stride-1 same-size depthwise conv input
 *    gradient computed in place (g: output gradient in, input gradient out; scratch of
 *    (KH - pad) * W * C floats) == conv2dBackwardInputF32(depthwise, accumulate = false)
 *    on a copy, with split weight storage (channels [0, split) at w as [split,KH,KW,1],
 *    the rest at w2) too;
 *  - gapHeadBackwardF32(gpool, ...): backward of "frozen 1x1 conv head -> global average
 *    pool" == avgpoolBackwardF32 (global) + clampBackwardBitsF32 (if bits != 0) +
 *    conv2dBackwardInputF32 (1x1, accumulate or not, split weights) + biasGradF32, with
 *    gx = 0 and / or bgrad = 0 meaning "not wanted".
 * Gradients contain exact zeros and negative zeros. Every buffer a kernel may write sits
 * between sentinel guards, and the whole linear memory outside those buffers is compared
 * before / after each fused call (with the low memory a null gx / bgrad would point at
 * poisoned first), so a stray write anywhere shows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type ConvCase, type KernelExports, KernelModule, Rng, channelSlice, loadKernels } from './support/kernel-module.js';

let simd: KernelModule;
let scalar: KernelModule;

beforeAll(async () => {
  [simd, scalar] = await Promise.all([loadKernels({ simd: true }), loadKernels({ simd: false })]);
  for (const k of [simd, scalar]) {
    for (const name of ['depthwiseBackwardInputInPlaceF32', 'gapHeadBackwardF32']) {
      if (typeof (k.k as unknown as Record<string, unknown>)[name] !== 'function') throw new Error(`kernel module lacks export ${name}`);
    }
  }
}, 180_000);

const builds = [['simd'], ['scalar']] as const;
type Build = (typeof builds)[number][0];
const mod = (b: Build) => (b === 'simd' ? simd : scalar);
const fk = (k: KernelModule) => k.k as KernelExports;

// ---------------------------------------------------------------------------------------
// helpers

const GUARD = 32;
const SENTINEL = 0xa5;

/** A buffer of `bytes` bytes (prefilled with `fill`) between two sentinel guards. */
function guarded(k: KernelModule, bytes: number, fill = SENTINEL): { p: number; bytes: number; intact: () => boolean } {
  const base = k.allocFilled(bytes + 2 * GUARD, SENTINEL);
  const p = base + GUARD;
  new Uint8Array(k.memory.buffer, p, bytes).fill(fill);
  const intact = () => [...k.readBytes(base, GUARD), ...k.readBytes(p + bytes, GUARD)].every((v) => v === SENTINEL);
  return { p, bytes, intact };
}

/** Byte-wise equality with the position of the first difference (as a float index) in the message. */
function expectSameBytes(what: string, got: Uint8Array, want: Uint8Array): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const i = got.findIndex((v, j) => v !== want[j]);
  if (i >= 0) {
    const at = i & ~3;
    const g = new DataView(got.buffer, got.byteOffset + at, 4).getFloat32(0, true);
    const w = new DataView(want.buffer, want.byteOffset + at, 4).getFloat32(0, true);
    expect.fail(`${what}: first difference at float ${at / 4}: got ${Object.is(g, -0) ? '-0' : g}, want ${Object.is(w, -0) ? '-0' : w}`);
  }
}

const bytesOf = (a: Float32Array | Int32Array | Int8Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * A copy of the whole linear memory (4 MB), into one buffer per module that each call
 * overwrites: a fresh ArrayBuffer per fused call (thousands of them) was a fifth of this
 * file's CPU, and its garbage another tenth. Each snapshot is compared before the next.
 */
const snapshots = new WeakMap<KernelModule, Uint8Array>();
function snapshot(k: KernelModule): Uint8Array {
  const now = new Uint8Array(k.memory.buffer);
  let copy = snapshots.get(k);
  if (copy?.length !== now.length) snapshots.set(k, (copy = new Uint8Array(now.length)));
  copy.set(now);
  return copy;
}

/** Linear memory equals `before` everywhere outside the given [ptr, ptr + bytes) ranges. */
function expectWritesOnlyIn(k: KernelModule, before: Uint8Array, allowed: Array<{ p: number; bytes: number }>, what: string): void {
  const now = new Uint8Array(k.memory.buffer);
  expect(now.length, `${what}: memory size`).toBe(before.length);
  const ranges = [...allowed].sort((a, b) => a.p - b.p);
  let from = 0;
  const check = (a: number, e: number) => {
    if (e <= a) return;
    if (Buffer.from(now.buffer, a, e - a).equals(Buffer.from(before.buffer, before.byteOffset + a, e - a))) return;
    let i = a;
    while (now[i] === before[i]) i++;
    expect.fail(`${what}: wrote outside its output buffers, at byte ${i} (allowed: ${ranges.map((r) => `[${r.p}, ${r.p + r.bytes})`).join(' ')})`);
  };
  for (const r of ranges) {
    check(from, r.p);
    from = Math.max(from, r.p + r.bytes);
  }
  check(from, now.length);
}

/**
 * Runs `fn` with memory [0, heapBase) (static data and the bytes a null gx / bgrad
 * pointer would address) overwritten with a pattern, so even a zero fill there shows;
 * restores it afterwards. The fused kernels read no static data.
 */
function withPoisonedLowMemory(k: KernelModule, fn: () => void): void {
  const saved = k.readBytes(0, k.heapBase);
  const low = new Uint8Array(k.memory.buffer, 0, k.heapBase);
  for (let i = 0; i < low.length; i++) low[i] = ((i * 37 + 11) & 0xff) | 1;
  try {
    fn();
  } finally {
    new Uint8Array(k.memory.buffer, 0, k.heapBase).set(saved);
  }
}

/** float32 gradient values: mixed magnitudes, a fraction of +0 and of -0. */
function gradient(rng: Rng, n: number, zeros: number, negZeros: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    if (r < zeros) a[i] = 0;
    else if (r < zeros + negZeros) a[i] = -0;
    else a[i] = rng.uniform(-1, 1) * 10 ** rng.uniform(-2, 2);
  }
  return a;
}

/** int8 weights in [-127, 127] with some exact zeros; positive per-channel scales. */
function weights(rng: Rng, n: number): Int8Array {
  const w = rng.int8s(n, -127, 127);
  for (let i = 0; i < n; i++) if (rng.next() < 0.05) w[i] = 0;
  return w;
}
const scales = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.uniform(0.002, 0.03));

/** Split points for C channels: 0 (unsplit), both ends, around the SIMD width, the middle, one random. */
function splitPoints(C: number, rng: Rng): number[] {
  const ks = [0, 1, C - 1, C, 7, 8, 9, 16, 17, Math.floor(C / 2), rng.int(1, C)];
  return [...new Set(ks)].filter((k) => k >= 0 && k <= C).sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------

interface DwCase {
  H: number;
  W: number;
  C: number;
  K: number;
}
const dwLabel = (c: DwCase) => `${c.H}x${c.W}x${c.C} k${c.K}`;

/** Random stride-1 same-size depthwise shapes (K = 1, 3, 5) and the edge cases. */
function dwCases(): DwCase[] {
  const rng = new Rng(1001);
  const out: DwCase[] = [];
  for (let i = 0; i < 36; i++) out.push({ H: rng.int(1, 12), W: rng.int(1, 12), C: rng.int(1, 40), K: [1, 3, 5][i % 3]! });
  out.push(
    // KH = 3 on larger images
    { H: 32, W: 32, C: 8, K: 3 },
    { H: 28, W: 17, C: 24, K: 3 },
    { H: 56, W: 56, C: 3, K: 3 },
    { H: 14, W: 40, C: 33, K: 3 },
    { H: 24, W: 24, C: 16, K: 5 },
    // 1x1, one row, one column, fewer rows / columns than the kernel reaches
    { H: 1, W: 1, C: 1, K: 1 },
    { H: 1, W: 1, C: 9, K: 3 },
    { H: 1, W: 1, C: 17, K: 5 },
    { H: 1, W: 13, C: 5, K: 3 },
    { H: 13, W: 1, C: 5, K: 3 },
    { H: 1, W: 9, C: 4, K: 5 },
    { H: 9, W: 1, C: 4, K: 5 },
    { H: 2, W: 2, C: 7, K: 5 },
    { H: 2, W: 3, C: 8, K: 3 },
    { H: 3, W: 2, C: 6, K: 5 },
  );
  return out;
}

describe.each(builds)('depthwiseBackwardInputInPlaceF32 == conv2dBackwardInputF32 on a copy, bit for bit (%s build)', (b) => {
  function check(dc: DwCase, seed: number): void {
    const k = mod(b);
    const rng = new Rng(seed);
    const { H, W, C, K } = dc;
    const pad = (K - 1) >> 1;
    const c: ConvCase = { H, W, C, CO: C, KH: K, KW: K, stride: 1, pad, depthwise: true };
    const n = H * W * C;
    const wq = weights(rng, C * K * K);
    const wScale = scales(rng, C);
    // an all-zero gradient, mostly zeros, and the usual mix
    const grads = [gradient(rng, n, 0.1, 0.05), gradient(rng, n, 0.6, 0.2), new Float32Array(n)];
    if (n > 1) grads[2]![rng.int(0, n - 1)] = -0;
    const scratchFloats = (K - pad) * W * C;
    let unsplitRef: Uint8Array | undefined;
    for (const [gi, gy] of grads.entries()) {
      for (const split of splitPoints(C, rng)) {
        const what = `${dwLabel(dc)} grad ${gi} split ${split}`;
        k.reset();
        const pS = k.f32(wScale);
        // split = 0: everything at w, and w2 holds bytes that would change the result if read
        const pW = k.i8(split === 0 ? wq : channelSlice(c, wq, 0, split));
        const pW2 = k.i8(split === 0 ? rng.int8s(wq.length, -127, 127) : channelSlice(c, wq, split, C));
        // reference: the plain kernel on a copy (gx prefilled with NaN: accumulate = false must overwrite)
        const pGy = k.f32(gy);
        const gxRef = guarded(k, n * 4, 0xff);
        fk(k).conv2dBackwardInputF32({
          gy: pGy,
          OH: H,
          OW: W,
          CO: C,
          w: pW,
          wScale: pS,
          gx: gxRef.p,
          H,
          W,
          C,
          KH: K,
          KW: K,
          stride: 1,
          pad,
          depthwise: true,
          accumulate: false,
          w2: pW2,
          split,
        });
        expect(gxRef.intact(), `${what}: reference wrote outside gx`).toBe(true);
        const ref = k.readBytes(gxRef.p, n * 4);
        // fused, in place; scratch starts as NaNs so reading a slot before it is written shows
        const g = guarded(k, n * 4);
        k.writeF32(g.p, gy);
        const scratch = guarded(k, scratchFloats * 4, 0xff);
        const before = snapshot(k);
        fk(k).depthwiseBackwardInputInPlaceF32({ g: g.p, H, W, C, w: pW, wScale: pS, KH: K, KW: K, pad, w2: pW2, split, scratch: scratch.p });
        expect(g.intact(), `${what}: wrote outside g`).toBe(true);
        expect(scratch.intact(), `${what}: wrote outside scratch ((KH - pad) * W * C floats)`).toBe(true);
        expectWritesOnlyIn(k, before, [g, scratch], what);
        expectSameBytes(`${what}: input gradient`, k.readBytes(g.p, n * 4), ref);
        // split storage gives the unsplit result (property of the plain kernel: a cross-check of the fixture)
        if (split === 0) unsplitRef = ref;
        else expectSameBytes(`${what}: split reference == unsplit reference`, ref, unsplitRef!);
      }
      if (gi === 0 && n >= 4) {
        // the test is not vacuous: the mixed gradient gives a non-trivial input gradient
        const out = new Float32Array(unsplitRef!.slice().buffer);
        expect(
          out.some((v) => v !== 0),
          `${dwLabel(dc)}: some non-zero input gradient`,
        ).toBe(true);
      }
    }
  }

  it.each(dwCases().map((c, i) => [dwLabel(c), c, 1100 + i] as const))('%s', (_n, c, seed) => check(c, seed));

  it('a gradient with NaN rows of stale data below / above the image is not read: H x W views of a taller buffer', () => {
    // g is the middle of a larger tensor whose other rows are NaN: the kernel must
    // neither read nor write them (only H rows of W*C floats starting at g)
    const k = mod(b);
    const rng = new Rng(1200);
    for (const K of [1, 3, 5]) {
      const H = rng.int(3, 9);
      const W = rng.int(2, 9);
      const C = rng.int(1, 20);
      const pad = (K - 1) >> 1;
      const n = H * W * C;
      const row = W * C * 4;
      const wq = weights(rng, C * K * K);
      const wScale = scales(rng, C);
      const gy = gradient(rng, n, 0.1, 0.05);
      k.reset();
      const pS = k.f32(wScale);
      const pW = k.i8(wq);
      const pGy = k.f32(gy);
      const pRef = k.alloc(n * 4);
      fk(k).conv2dBackwardInputF32({
        gy: pGy,
        OH: H,
        OW: W,
        CO: C,
        w: pW,
        wScale: pS,
        gx: pRef,
        H,
        W,
        C,
        KH: K,
        KW: K,
        stride: 1,
        pad,
        depthwise: true,
        accumulate: false,
        w2: 0,
        split: 0,
      });
      const big = k.allocFilled(n * 4 + 4 * row, 0xff);
      const pG = big + 2 * row;
      k.writeF32(pG, gy);
      const scratch = { p: k.allocFilled((K - pad) * row, 0xff), bytes: (K - pad) * row };
      const before = snapshot(k);
      fk(k).depthwiseBackwardInputInPlaceF32({ g: pG, H, W, C, w: pW, wScale: pS, KH: K, KW: K, pad, w2: 0, split: 0, scratch: scratch.p });
      expectWritesOnlyIn(k, before, [{ p: pG, bytes: n * 4 }, scratch], `K ${K}`);
      expectSameBytes(`${H}x${W}x${C} k${K}`, k.readBytes(pG, n * 4), k.readBytes(pRef, n * 4));
    }
  });
});

// ---------------------------------------------------------------------------------------

interface GapCase {
  H: number;
  W: number;
  CO: number;
  CI: number;
}
const gapLabel = (c: GapCase) => `P=${c.H * c.W} (${c.H}x${c.W}) CO=${c.CO} CI=${c.CI}`;

function gapCases(): GapCase[] {
  const rng = new Rng(2001);
  const spatial: Array<[number, number]> = [
    [1, 1],
    [2, 2],
    [4, 4],
    [7, 7],
    [1, 4],
    [2, 8],
    [4, 1],
    [7, 7],
  ];
  const out: GapCase[] = [];
  const sizes = [1, 2, 7, 8, 9, 16, 17, 33, 63, 64];
  for (let i = 0; i < 24; i++) {
    const [H, W] = spatial[i % spatial.length]!;
    const CO = i < 8 ? sizes[(i * 3) % sizes.length]! : rng.int(1, 64);
    const CI = i < 8 ? sizes[(i * 7 + 2) % sizes.length]! : rng.int(1, 64);
    out.push({ H, W, CO, CI });
  }
  out.push({ H: 7, W: 7, CO: 64, CI: 64 }, { H: 1, W: 1, CO: 1, CI: 1 }, { H: 4, W: 4, CO: 1, CI: 64 }, { H: 4, W: 4, CO: 64, CI: 1 });
  return out;
}

describe.each(builds)('gapHeadBackwardF32 == avgpool + clamp bits + 1x1 conv input grad + bias grad, bit for bit (%s build)', (b) => {
  function check(gc: GapCase, seed: number): void {
    const k = mod(b);
    const rng = new Rng(seed);
    const { H, W, CO, CI } = gc;
    const P = H * W;
    const c: ConvCase = { H, W, C: CI, CO, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false };
    const wq = weights(rng, CO * CI);
    const wScale = scales(rng, CO);
    const gpool = gradient(rng, CO, 0.1, 0.1);
    const prev = gradient(rng, P * CI, 0.1, 0.05); // gx contents when accumulating
    // the head's clamped int8 output (ReLU or ReLU6), as the forward leaves it
    const zy = rng.int(-100, 20);
    const hi = rng.next() < 0.5 ? 128 : zy + rng.int(10, 100);
    const yq = Int8Array.from(rng.int8s(P * CO), (v) => Math.min(Math.max(v, zy), Math.min(hi, 127)));
    const splits = [...new Set([0, CI, rng.int(1, CI), Math.min(CI, 8)])];
    for (const useBits of [false, true])
      for (const gxMode of ['none', 'fresh', 'accumulate'] as const)
        for (const wantBias of [true, false]) {
          for (const split of splits) {
            const what = `${gapLabel(gc)} bits=${useBits} gx=${gxMode} bgrad=${wantBias} split=${split}`;
            const accumulate = gxMode === 'accumulate';
            k.reset();
            const pS = k.f32(wScale);
            const pW = k.i8(split === 0 ? wq : channelSlice(c, wq, 0, split));
            const pW2 = k.i8(split === 0 ? rng.int8s(wq.length, -127, 127) : channelSlice(c, wq, split, CI));
            const pGpool = k.f32(gpool);
            const pY = k.i8(yq);
            let pBits = 0;
            if (useBits) {
              pBits = k.allocFilled((P * CO + 7) >> 3, 0xff);
              fk(k).saveMaskBits({ y: pY, count: P * CO, lo: zy, hi, bits: pBits });
            }
            // reference: the unfused sequence through a whole [H, W, CO] head gradient
            const gyHead = guarded(k, P * CO * 4, 0xff);
            fk(k).avgpoolBackwardF32({
              gy: pGpool,
              OH: 1,
              OW: 1,
              gx: gyHead.p,
              H,
              W,
              C: CO,
              PH: H,
              PW: W,
              strideH: 1,
              strideW: 1,
              accumulate: false,
              padH: 0,
              padW: 0,
              byValidTaps: false,
            });
            if (useBits) fk(k).clampBackwardBitsF32({ g: gyHead.p, bits: pBits, count: P * CO });
            const gxRef = guarded(k, P * CI * 4, 0xff);
            if (accumulate) k.writeF32(gxRef.p, prev);
            fk(k).conv2dBackwardInputF32({
              gy: gyHead.p,
              OH: H,
              OW: W,
              CO,
              w: pW,
              wScale: pS,
              gx: gxRef.p,
              H,
              W,
              C: CI,
              KH: 1,
              KW: 1,
              stride: 1,
              pad: 0,
              depthwise: false,
              accumulate,
              w2: pW2,
              split,
            });
            const bRef = guarded(k, CO * 4, 0xff);
            fk(k).biasGradF32({ gy: gyHead.p, P, CO, out: bRef.p });
            expect(gyHead.intact() && gxRef.intact() && bRef.intact(), `${what}: reference wrote outside its buffers`).toBe(true);
            // fused: gx NaN unless accumulating (must be overwritten), bgrad NaN (must be overwritten), scratch NaN
            const gx = guarded(k, P * CI * 4, 0xff);
            if (accumulate) k.writeF32(gx.p, prev);
            const bgrad = guarded(k, CO * 4, 0xff);
            const scratch = guarded(k, CO * 4, 0xff);
            const pGx = gxMode === 'none' ? 0 : gx.p;
            const pBg = wantBias ? bgrad.p : 0;
            withPoisonedLowMemory(k, () => {
              const before = snapshot(k);
              fk(k).gapHeadBackwardF32({ gpool: pGpool, P, CO, bits: pBits, w: pW, wScale: pS, CI, w2: pW2, split, gx: pGx, accumulate, bgrad: pBg, scratch: scratch.p });
              const allowed = [scratch, ...(pGx ? [gx] : []), ...(pBg ? [bgrad] : [])];
              expectWritesOnlyIn(k, before, allowed, what);
            });
            for (const buf of [gx, bgrad, scratch]) expect(buf.intact(), `${what}: wrote outside gx / bgrad / scratch`).toBe(true);
            if (gxMode !== 'none') expectSameBytes(`${what}: input gradient`, k.readBytes(gx.p, P * CI * 4), k.readBytes(gxRef.p, P * CI * 4));
            if (wantBias) expectSameBytes(`${what}: bias gradient`, k.readBytes(bgrad.p, CO * 4), k.readBytes(bRef.p, CO * 4));
          }
        }
    // the test is not vacuous: with the mask both outcomes occur in bigger tensors, and the gradients are non-trivial
    if (P * CO >= 16) {
      const pass = Array.from(yq).filter((v) => v > zy && v < hi).length;
      expect(pass, `${gapLabel(gc)}: mask passes some`).toBeGreaterThan(0);
      expect(pass, `${gapLabel(gc)}: mask zeroes some`).toBeLessThan(P * CO);
    }
  }

  it.each(gapCases().map((c, i) => [gapLabel(c), c, 2100 + i] as const))('%s', (_n, c, seed) => check(c, seed));

  it('a mask that zeroes everything, and a zero pool gradient: gx (+)= nothing, bgrad = +0', () => {
    const k = mod(b);
    const rng = new Rng(2200);
    for (const [H, W, CO, CI] of [
      [4, 4, 9, 17],
      [1, 1, 8, 8],
      [7, 7, 3, 5],
    ] as const) {
      const P = H * W;
      const wq = weights(rng, CO * CI);
      const wScale = scales(rng, CO);
      const prev = gradient(rng, P * CI, 0.1, 0.05);
      for (const mode of ['mask', 'zero'] as const)
        for (const accumulate of [false, true]) {
          const what = `${P}x${CO}->${CI} ${mode} accumulate=${accumulate}`;
          k.reset();
          const pS = k.f32(wScale);
          const pW = k.i8(wq);
          const gpool = mode === 'zero' ? Float32Array.from({ length: CO }, (_, i) => (i % 2 ? -0 : 0)) : gradient(rng, CO, 0, 0);
          const pGpool = k.f32(gpool);
          const pBits = mode === 'mask' ? k.allocFilled((P * CO + 7) >> 3, 0) : 0;
          const gx = guarded(k, P * CI * 4, 0xff);
          if (accumulate) k.writeF32(gx.p, prev);
          const bgrad = guarded(k, CO * 4, 0xff);
          const scratch = guarded(k, CO * 4, 0xff);
          fk(k).gapHeadBackwardF32({ gpool: pGpool, P, CO, bits: pBits, w: pW, wScale: pS, CI, w2: 0, split: 0, gx: gx.p, accumulate, bgrad: bgrad.p, scratch: scratch.p });
          expect(gx.intact() && bgrad.intact() && scratch.intact(), what).toBe(true);
          expectSameBytes(`${what}: gx`, k.readBytes(gx.p, P * CI * 4), bytesOf(accumulate ? prev : new Float32Array(P * CI)));
          expectSameBytes(`${what}: bgrad`, k.readBytes(bgrad.p, CO * 4), bytesOf(new Float32Array(CO)));
        }
    }
  });
});

// ---------------------------------------------------------------------------------------

describe('SIMD and scalar builds agree on the fused kernels', () => {
  it('depthwise in place and GAP head backward', () => {
    const rng = new Rng(3000);
    for (let t = 0; t < 10; t++) {
      const K = rng.pick([1, 3, 5]);
      const H = rng.int(1, 10);
      const W = rng.int(1, 10);
      const C = rng.int(1, 30);
      const pad = (K - 1) >> 1;
      const c: ConvCase = { H, W, C, CO: C, KH: K, KW: K, stride: 1, pad, depthwise: true };
      const split = rng.int(0, C);
      const wq = weights(rng, C * K * K);
      const wS = scales(rng, C);
      const gy = gradient(rng, H * W * C, 0.1, 0.05);
      const P = rng.pick([1, 4, 16, 49]);
      const CO = rng.int(1, 64);
      const CI = rng.int(1, 64);
      const ch: ConvCase = { H: P, W: 1, C: CI, CO, KH: 1, KW: 1, stride: 1, pad: 0, depthwise: false };
      const hsplit = rng.int(0, CI);
      const hw = weights(rng, CO * CI);
      const hS = scales(rng, CO);
      const gpool = gradient(rng, CO, 0.1, 0.1);
      const yq = rng.int8s(P * CO);
      const prev = gradient(rng, P * CI, 0, 0);
      const outs = [simd, scalar].map((k) => {
        k.reset();
        const pW = k.i8(split ? channelSlice(c, wq, 0, split) : wq);
        const pW2 = split ? k.i8(channelSlice(c, wq, split, C)) : 0;
        const pS = k.f32(wS);
        const pG = k.f32(gy);
        const pScr = k.alloc((K - pad) * W * C * 4);
        fk(k).depthwiseBackwardInputInPlaceF32({ g: pG, H, W, C, w: pW, wScale: pS, KH: K, KW: K, pad, w2: pW2, split, scratch: pScr });
        const pHW = k.i8(hsplit ? channelSlice(ch, hw, 0, hsplit) : hw);
        const pHW2 = hsplit ? k.i8(channelSlice(ch, hw, hsplit, CI)) : 0;
        const pHS = k.f32(hS);
        const pGp = k.f32(gpool);
        const pY = k.i8(yq);
        const pBits = k.alloc((P * CO + 7) >> 3);
        fk(k).saveMaskBits({ y: pY, count: P * CO, lo: 0, hi: 128, bits: pBits });
        const pGx = k.f32(prev);
        const pBg = k.alloc(CO * 4);
        const pHs = k.alloc(CO * 4);
        fk(k).gapHeadBackwardF32({ gpool: pGp, P, CO, bits: pBits, w: pHW, wScale: pHS, CI, w2: pHW2, split: hsplit, gx: pGx, accumulate: true, bgrad: pBg, scratch: pHs });
        return [k.readBytes(pG, H * W * C * 4), k.readBytes(pGx, P * CI * 4), k.readBytes(pBg, CO * 4)];
      });
      const [a, s] = outs as [Uint8Array[], Uint8Array[]];
      a.forEach((buf, j) => expectSameBytes(`case ${t} output ${j}`, buf, s[j]!));
    }
  });
});
