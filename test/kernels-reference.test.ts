/**
 * Every shipped kernel against its plain reference (assembly/kernels/reference), in the
 * scalar build AND the SIMD build, each on its own: kernels-simd.test.ts compares the two
 * builds with each other, which cannot see a bug in the scalar loops the SIMD paths run for
 * their channel and pixel tails (the same code is in both builds). Here the reference is
 * the independent check of those tails.
 *
 * One call = the same buffers (the same addresses, so the same record) run through the
 * kernel, saved, refilled, run through the reference: every buffer (outputs, updated
 * weights, momentum, the rounding rng's state, scratch excepted) must come out byte for
 * byte the same, the result and the count of non-finite gradients the same, nothing
 * written outside the buffers. Exact
 * for floats too: the references sum in the shipped kernels' order (said in each file).
 *
 * Shapes: channel counts 1..17 and around the SIMD widths (4, 8, 16 +- 1, up to 33), odd
 * and even widths, stride 1 and 2, pads 0..2, dense kxk / pointwise / fully connected /
 * depthwise 3x3 and other windows, split weights (trained slice + frozen rest), ring
 * buffers, requantisation shifts on both sides of the SIMD rule's n >= 32, pruned 1x1
 * layers (unstructured and pairs, u8 and u16 indices).
 *
 * Checked by mutation (issue 12): an error of one in the depthwise forward's scalar loop
 * for channels past the last block of 8, a position dropped from the bias gradient for
 * channels past the last block of 4, and a scaled term in the depthwise input gradient's
 * scalar tail each pass kernels-simd.test.ts (both builds agree on the wrong bytes) and
 * fail here in both builds; an error of one in the SIMD dense forward's own channel tail
 * fails here in the SIMD build.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNzList, nzFormat, prunedScratchBytes, type PruneStructure } from '../compiler/pruning/nzlist.js';
import { type ConvCase, type KernelModule, type ReferenceCalls, Rng, loadKernels, outDim } from './support/kernel-module.js';

const builds = new Map<boolean, KernelModule>();

beforeAll(async () => {
  for (const m of await Promise.all([loadKernels({ simd: false }), loadKernels({ simd: true })])) builds.set(m.simd, m);
}, 180_000);

const buildName = (m: KernelModule): string => (m.simd ? 'simd' : 'scalar');

// ---------------------------------------------------------------------------------------
// harness

const GUARD = 16;
const SENTINEL = 0xa5;

type Init = { i8: ArrayLike<number> } | { u8: ArrayLike<number> } | { i32: ArrayLike<number> } | { f32: ArrayLike<number> } | { zero: number } | { rngSeed: number };
/** A buffer the kernel may use as it likes (scratch): placed, not compared. */
type Scratch = { scratch: number };
type Buf = Init | Scratch;

function byteLength(init: Buf): number {
  if ('i8' in init) return init.i8.length;
  if ('u8' in init) return init.u8.length;
  if ('i32' in init) return init.i32.length * 4;
  if ('f32' in init) return init.f32.length * 4;
  if ('zero' in init) return init.zero;
  if ('scratch' in init) return init.scratch;
  return 4;
}

function fill(m: KernelModule, p: number, init: Buf): void {
  if ('i8' in init) m.writeI8(p, init.i8);
  else if ('u8' in init) new Uint8Array(m.memory.buffer, p, init.u8.length).set(init.u8);
  else if ('i32' in init) m.writeI32(p, init.i32);
  else if ('f32' in init) m.writeF32(p, init.f32);
  else if ('zero' in init || 'scratch' in init) new Uint8Array(m.memory.buffer, p, byteLength(init)).fill(0);
  else m.k.rngSeed(p, init.rngSeed);
}

type Calls = ReferenceCalls;

/**
 * Runs `call` with the kernels of build m, then on the same buffers refilled with the
 * references; expects the same bytes in every non-scratch buffer, the same result, and
 * intact guards around every buffer.
 */
function againstReference<K extends string>(m: KernelModule, what: string, bufs: Record<K, Buf>, call: (k: Calls, p: Record<K, number>) => unknown): void {
  m.reset();
  const names = Object.keys(bufs) as K[];
  const placed = names.map((name) => {
    const bytes = byteLength(bufs[name]);
    const p = m.allocFilled(bytes + 2 * GUARD, SENTINEL) + GUARD;
    return { name, p, bytes };
  });
  const ptrs = Object.fromEntries(placed.map((b) => [b.name, b.p])) as Record<K, number>;
  const run = (k: Calls): { result: unknown; nonFinite: number; out: Map<K, Uint8Array> } => {
    for (const b of placed) fill(m, b.p, bufs[b.name]);
    k.resetNonFiniteGradients();
    const result = call(k, ptrs);
    const nonFinite = k.nonFiniteGradientCount();
    const out = new Map<K, Uint8Array>();
    for (const b of placed) {
      const guards = [...m.readBytes(b.p - GUARD, GUARD), ...m.readBytes(b.p + b.bytes, GUARD)];
      if (!guards.every((g) => g === SENTINEL)) expect.fail(`${what} [${buildName(m)}]: ${k === m.ref ? 'the reference' : 'the kernel'} wrote outside ${b.name}`);
      if (!('scratch' in bufs[b.name])) out.set(b.name, m.readBytes(b.p, b.bytes));
    }
    return { result, nonFinite, out };
  };
  const shipped = run(m.k);
  const ref = run(m.ref);
  if (!Object.is(shipped.result, ref.result)) expect.fail(`${what} [${buildName(m)}]: returned ${String(shipped.result)}, the reference ${String(ref.result)}`);
  if (shipped.nonFinite !== ref.nonFinite) expect.fail(`${what} [${buildName(m)}]: counted ${shipped.nonFinite} non-finite gradients, the reference ${ref.nonFinite}`);
  for (const [name, got] of shipped.out) {
    const want = ref.out.get(name)!;
    const i = got.findIndex((v, j) => v !== want[j]);
    if (i >= 0) expect.fail(`${what} [${buildName(m)}]: ${name} differs from the reference first at byte ${i} (kernel ${got[i]}, reference ${want[i]})`);
  }
}

/** The module of one build (each suite below runs once per build, so a failure names its build). */
function inBuild(simd: boolean, fn: (m: KernelModule) => void): void {
  fn(builds.get(simd)!);
}

// ---------------------------------------------------------------------------------------
// data

/** Channel counts: every count to 17 and the SIMD widths' neighbours (4, 8, 16 +- 1, 24, 32 +- 1). */
const CHANNELS = [...Array.from({ length: 17 }, (_, i) => i + 1), 23, 24, 25, 31, 32, 33];

/** Gradients in [-1, 1) with exact zeros (+0 and -0), which the kernels skip, and a few all-zero pixels (as behind a ReLU mask). */
function grads(rng: Rng, P: number, C: number): Float32Array {
  const a = rng.f32s(P * C, -1, 1, 0.12);
  for (let i = 0; i < a.length; i++) if (a[i] === 0 && rng.next() < 0.5) a[i] = -0;
  for (let p = 0; p < P; p++) if (rng.next() < 0.15) a.fill(rng.next() < 0.5 ? 0 : -0, p * C, (p + 1) * C);
  return a;
}
const scales = (rng: Rng, n: number): Float32Array => Float32Array.from({ length: n }, () => rng.uniform(0.002, 0.03));
/** int8 over the full range, -128 included (the i16 products' worst case in the SIMD paths). */
const int8Full = (rng: Rng, n: number): Int8Array => rng.int8s(n, -128, 127);

/**
 * Requantisation tables for CO channels: multipliers in [2^30, 2^31), shifts mostly where
 * outputs spread over int8 (n 36..46, sometimes 32..35 where the second rounding is by 1-4 bits: the SIMD vector rule), some below 32 (the lane-by-
 * lane rule the SIMD path falls back to for a block with any such channel).
 */
function requantTables(rng: Rng, CO: number): { mult: Int32Array; shift: Int32Array } {
  const lowShifts = rng.next() < 0.3;
  return {
    mult: rng.int32s(CO, 1 << 30, 0x7fffffff),
    shift: Int32Array.from({ length: CO }, () => (lowShifts && rng.next() < 0.4 ? rng.int(20, 31) : rng.next() < 0.2 ? rng.int(32, 35) : rng.int(36, 46))),
  };
}

interface Shape extends ConvCase {
  /** Input channels (depthwise: channels) whose weights are the trained slice at w; 0: all at w. */
  split: number;
}

const label = (s: Shape): string =>
  `${s.depthwise ? 'dw' : 'conv'} ${s.H}x${s.W}x${s.C}->${s.CO} k${s.KH}x${s.KW} s${s.stride}${s.strideW !== undefined ? `x${s.strideW}` : ''} p${s.pad}${s.padW !== undefined ? `x${s.padW}` : ''}${s.split ? ` split ${s.split}` : ''}`;

/**
 * For every channel count: pointwise, depthwise 3x3, dense kxk, depthwise with another
 * window and fully connected, with random spatial size (odd and even), stride, pad and split.
 */
function shapes(seed: number): Shape[] {
  const rng = new Rng(seed);
  const out: Shape[] = [];
  for (const C of CHANNELS) {
    for (const kind of ['pointwise', 'dw3', 'dense', 'dwAny', 'fc'] as const) {
      for (;;) {
        const depthwise = kind === 'dw3' || kind === 'dwAny';
        const KH = kind === 'pointwise' || kind === 'fc' ? 1 : kind === 'dw3' ? 3 : rng.pick([1, 2, 3, 5]);
        const KW = kind === 'pointwise' || kind === 'fc' ? 1 : kind === 'dw3' ? 3 : rng.next() < 0.6 ? KH : rng.pick([1, 3]);
        const stride = kind === 'fc' ? 1 : rng.pick([1, 1, 2]);
        const pad = kind === 'pointwise' || kind === 'fc' ? 0 : rng.pick([0, 1, 1, 2]);
        const H = kind === 'fc' ? 1 : rng.int(1, 7);
        const W = kind === 'fc' ? 1 : rng.int(1, 9);
        const CO = depthwise ? C : rng.pick(CHANNELS);
        if (outDim(H, KH, stride, pad) < 1 || outDim(W, KW, stride, pad) < 1) continue;
        const split = C > 1 && rng.next() < 0.35 ? rng.int(1, C - 1) : 0;
        out.push({ H, W, C, CO, KH, KW, stride, pad, depthwise, split });
        break;
      }
    }
  }
  // per-axis geometry (strides and leading pads of their own for the columns) for dense kxk and
  // depthwise 3x3, the SIMD build's fast paths, at every channel count (their tails)
  for (const C of CHANNELS) {
    for (const depthwise of [false, true]) {
      for (;;) {
        const KH = depthwise ? 3 : rng.pick([2, 3, 5, 10]);
        const KW = depthwise ? 3 : rng.pick([1, 3, 4]);
        const [stride, strideW] = rng.pick([
          [2, 1],
          [1, 2],
          [2, 3],
          [2, 2],
        ] as const);
        const [pad, padW] = rng.pick([
          [1, 0],
          [0, 1],
          [2, 1],
          [0, 0],
        ] as const);
        const H = rng.int(1, 12);
        const W = rng.int(1, 9);
        const CO = depthwise ? C : rng.pick(CHANNELS);
        if (outDim(H, KH, stride, pad) < 1 || outDim(W, KW, strideW, padW) < 1) continue;
        const split = C > 1 && rng.next() < 0.35 ? rng.int(1, C - 1) : 0;
        out.push({ H, W, C, CO, KH, KW, stride, pad, strideW, padW, depthwise, split });
        break;
      }
    }
  }
  return out;
}

/** A layer's data for shape s: int8 input and weights (split into w and w2 as the shape says), tables, gradients. */
function layer(rng: Rng, s: Shape) {
  const OH = outDim(s.H, s.KH, s.stride, s.pad);
  const OW = outDim(s.W, s.KW, s.strideW ?? s.stride, s.padW ?? s.pad);
  const taps = s.KH * s.KW;
  const cin = s.depthwise ? 1 : s.C;
  const first = s.split || s.C;
  // dense: w [CO, KH, KW, first], w2 [CO, KH, KW, C - first]; depthwise: w [first, KH, KW, 1], w2 the rest
  const wLen = s.depthwise ? first * taps : s.CO * taps * first;
  const w2Len = s.depthwise ? (s.C - first) * taps : s.CO * taps * (s.C - first);
  return {
    OH,
    OW,
    cin,
    x: int8Full(rng, s.H * s.W * s.C),
    zx: rng.pick([-128, rng.int(-40, 40)]),
    w: int8Full(rng, wLen),
    w2: int8Full(rng, Math.max(w2Len, 1)),
    bias: rng.int32s(s.CO, -30000, 30000),
    ...requantTables(rng, s.CO),
    wScale: scales(rng, s.CO),
    gy: grads(rng, OH * OW, s.CO),
    sx: rng.uniform(0.004, 0.06),
  };
}

/**
 * The same layer with small values (x within 2 of its zero point, weights and bias small)
 * and the multiplier 1/2 (m = 2^31 - 1, n = 32: the SIMD vector rule): one unit of
 * accumulator moves the output, so an error of one in any term shows (with the usual
 * shifts it mostly rounds away).
 */
function fineLayer(rng: Rng, s: Shape): ReturnType<typeof layer> {
  const L = layer(rng, s);
  const zx = rng.int(-20, 20);
  return {
    ...L,
    zx,
    x: Int8Array.from(L.x, () => zx + rng.int(-2, 2)),
    w: Int8Array.from(L.w, () => rng.int(-2, 2)),
    w2: Int8Array.from(L.w2, () => rng.int(-2, 2)),
    bias: rng.int32s(s.CO, -20, 20),
    mult: new Int32Array(s.CO).fill(0x7fffffff),
    shift: new Int32Array(s.CO).fill(32),
  };
}

const SHAPES = shapes(0x5eed12);

/** The suites of one build: the scalar build's loops, and the SIMD build's vector paths with their tails. */
function suites(simd: boolean): void {
  const build = simd ? 'SIMD build' : 'scalar build';
  // ---------------------------------------------------------------------------------------
  // conv2d family

  describe(`${build}: conv2d family against the references`, () => {
    it('covers every channel count of CHANNELS with each kind of layer', () => {
      for (const C of CHANNELS) expect(SHAPES.filter((s) => s.C === C && s.strideW === undefined).length).toBe(5);
      expect(SHAPES.some((s) => s.split > 0 && s.depthwise) && SHAPES.some((s) => s.split > 0 && !s.depthwise)).toBe(true);
      expect(SHAPES.some((s) => s.stride === 2 && s.depthwise && s.KH === 3)).toBe(true);
    });

    it('forward, whole output and rows through ring buffers', () => {
      const rng = new Rng(1);
      inBuild(simd, (m) => {
        for (const [s, fine] of SHAPES.flatMap((s) => [[s, false] as const, [s, true] as const])) {
          const L = fine ? fineLayer(rng, s) : layer(rng, s);
          const [lo, hi] = rng.pick([
            [-128, 127],
            [rng.int(-128, -100), rng.int(20, 127)],
          ]);
          const zy = rng.int(-20, 20);
          const common = {
            H: s.H,
            W: s.W,
            C: s.C,
            zx: L.zx,
            OH: L.OH,
            OW: L.OW,
            CO: s.CO,
            zy,
            lo,
            hi,
            KH: s.KH,
            KW: s.KW,
            stride: s.stride,
            pad: s.pad,
            strideW: s.strideW,
            padW: s.padW,
            depthwise: s.depthwise,
            split: s.split,
          };
          const bufs = { x: { i8: L.x }, w: { i8: L.w }, w2: { i8: L.w2 }, bias: { i32: L.bias }, mult: { i32: L.mult }, shift: { i32: L.shift }, y: { zero: L.OH * L.OW * s.CO } };
          againstReference(m, `forward ${fine ? '(fine) ' : ''}${label(s)}`, bufs, (k, p) => k.conv2dForwardS8({ ...common, ...p, w2: s.split ? p.w2 : 0 }));
          // rows [b, e) through rings: the input ring holds the rows those outputs read, the output ring e - b rows
          const b = rng.int(0, L.OH - 1);
          const e = rng.int(b + 1, L.OH);
          const outRing = rng.next() < 0.5 ? 0 : rng.int(1, e - b);
          const inRing = rng.next() < 0.5 ? 0 : rng.int(1, s.H);
          const ring = { ...bufs, x: { i8: L.x.subarray(0, (inRing || s.H) * s.W * s.C) }, y: { zero: (outRing || L.OH) * L.OW * s.CO } };
          againstReference(m, `forward rows ${b}..${e} rings ${inRing}/${outRing} ${label(s)}`, ring, (k, p) =>
            k.conv2dForwardRowsS8({ ...common, ...p, w2: s.split ? p.w2 : 0, inRing, outRing }, b, e),
          );
        }
      });
    });

    it('input gradient, overwritten and accumulated', () => {
      const rng = new Rng(2);
      inBuild(simd, (m) => {
        for (const s of SHAPES) {
          const L = layer(rng, s);
          const accumulate = rng.next() < 0.5;
          const gx0 = accumulate ? grads(rng, s.H * s.W, s.C) : rng.f32s(s.H * s.W * s.C, -9, 9);
          againstReference(
            m,
            `input gradient ${accumulate ? '(accumulate) ' : ''}${label(s)}`,
            { gy: { f32: L.gy }, w: { i8: L.w }, w2: { i8: L.w2 }, wScale: { f32: L.wScale }, gx: { f32: gx0 } },
            (k, p) =>
              k.conv2dBackwardInputF32({
                ...p,
                w2: s.split ? p.w2 : 0,
                CO: s.CO,
                OH: L.OH,
                OW: L.OW,
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
                split: s.split,
              }),
          );
        }
      });
    });

    it('depthwise input gradient in place equals the input-gradient reference (stride 1, same size)', () => {
      const rng = new Rng(3);
      let cases = 0;
      inBuild(simd, (m) => {
        for (const C of CHANNELS) {
          for (const K of [3, 3, 1, 5]) {
            const s: Shape = {
              H: rng.int(1, 7),
              W: rng.int(1, 9),
              C,
              CO: C,
              KH: K,
              KW: K,
              stride: 1,
              pad: (K - 1) / 2,
              depthwise: true,
              split: C > 1 && rng.next() < 0.35 ? rng.int(1, C - 1) : 0,
            };
            const L = layer(rng, s);
            const R = s.KH - s.pad;
            const geometry = { H: s.H, W: s.W, C, KH: K, KW: K, pad: s.pad, split: s.split };
            const bufs = { g: { f32: L.gy }, w: { i8: L.w }, w2: { i8: L.w2 }, wScale: { f32: L.wScale }, gx: { zero: s.H * s.W * C * 4 }, scratch: { scratch: R * s.W * C * 4 } };
            // the kernel's result lands in g, the reference's (gx from the same g) is copied into g
            againstReference(m, `in place ${label(s)}`, bufs, (k, p) => {
              const w2 = s.split ? p.w2 : 0;
              if (k === m.k) return m.k.depthwiseBackwardInputInPlaceF32({ ...geometry, g: p.g, w: p.w, wScale: p.wScale, w2, scratch: p.scratch });
              k.conv2dBackwardInputF32({ ...geometry, wScale: p.wScale, CO: C, gy: p.g, OH: s.H, OW: s.W, w: p.w, gx: p.gx, stride: 1, depthwise: true, accumulate: false, w2 });
              new Uint8Array(m.memory.buffer, p.g, s.H * s.W * C * 4).set(m.readBytes(p.gx, s.H * s.W * C * 4));
              new Uint8Array(m.memory.buffer, p.gx, s.H * s.W * C * 4).fill(0);
            });
            cases++;
          }
        }
      });
      expect(cases).toBe(CHANNELS.length * 4);
    });

    it('weight gradient and the fused weight update (momentum or not, QAS or not, stochastic or nearest rounding)', () => {
      const rng = new Rng(4);
      inBuild(simd, (m) => {
        for (const s of SHAPES) {
          const L = layer(rng, s);
          // trained channels K <= C (the slice [CO, KH, KW, K], depthwise [K, KH, KW, 1]); x holds all C
          const K = s.split || s.C;
          const sliceLen = s.depthwise ? K * s.KH * s.KW : s.CO * s.KH * s.KW * K;
          const coEnd = s.depthwise ? K : s.CO;
          const geometry = {
            OH: L.OH,
            OW: L.OW,
            CO: s.CO,
            H: s.H,
            W: s.W,
            XC: s.C,
            zx: L.zx,
            sx: L.sx,
            KH: s.KH,
            KW: s.KW,
            stride: s.stride,
            pad: s.pad,
            strideW: s.strideW,
            padW: s.padW,
            depthwise: s.depthwise,
            K,
          };
          againstReference(m, `weight gradient ${label(s)}`, { gy: { f32: L.gy }, x: { i8: L.x }, out: { zero: sliceLen * 4 } }, (k, p) =>
            k.conv2dWeightGradF32({ ...geometry, gy: p.gy, x: p.x, out: p.out }),
          );
          const momentum = rng.next() < 0.5;
          const qas = rng.next() < 0.5;
          const stochastic = rng.next() < 0.7;
          const lr = qas ? rng.uniform(1e-4, 1e-2) : rng.uniform(20, 400);
          // sometimes an infinite output gradient: the weights it reaches get non-finite gradients (zero steps, counted)
          const gy = rng.next() < 0.15 ? Float32Array.from(L.gy, (v, i) => (i === 0 ? Infinity : v)) : L.gy;
          const bufs = {
            gy: { f32: gy },
            x: { i8: L.x },
            w: { i8: rng.int8s(sliceLen, -127, 127) },
            wScale: { f32: scales(rng, coEnd) },
            vel: { f32: rng.f32s(sliceLen, -0.5, 0.5) },
            rng: { rngSeed: rng.u32() },
          };
          againstReference(m, `fused weight update ${label(s)} momentum ${momentum} qas ${qas} stochastic ${stochastic}`, bufs, (k, p) =>
            k.conv2dWeightUpdateS8({ ...geometry, gy: p.gy, x: p.x, w: p.w, wScale: p.wScale, vel: momentum ? p.vel : 0 }, lr, 0.9, qas, stochastic ? p.rng : 0),
          );
        }
      });
    });

    it('stored weight and bias gradients applied; bias gradient and the fused bias update', () => {
      const rng = new Rng(5);
      inBuild(simd, (m) => {
        for (const s of SHAPES) {
          const K = s.split || s.C;
          const GK = s.depthwise ? 1 : rng.int(K, s.C);
          const taps = s.KH * s.KW;
          const coEnd = s.depthwise ? K : s.CO;
          const sliceLen = coEnd * taps * (s.depthwise ? 1 : K);
          const momentum = rng.next() < 0.5;
          const qas = rng.next() < 0.5;
          const seeded = rng.next() < 0.7;
          const lr = qas ? rng.uniform(1e-4, 1e-2) : rng.uniform(20, 400);
          const grad = rng.f32s(coEnd * taps * GK, -2, 2, 0.1);
          grad[0] = rng.pick([Infinity, NaN, grad[0]!]); // a non-finite gradient is a zero step
          againstReference(
            m,
            `applied weight gradient GK ${GK} ${label(s)}`,
            {
              grad: { f32: grad },
              w: { i8: rng.int8s(sliceLen, -127, 127) },
              wScale: { f32: scales(rng, coEnd) },
              vel: { f32: rng.f32s(sliceLen, -1, 1) },
              rng: { rngSeed: rng.u32() },
            },
            (k, p) =>
              k.applyWeightUpdateS8(
                { grad: p.grad, GK, CO: s.CO, KH: s.KH, KW: s.KW, depthwise: s.depthwise, w: p.w, wScale: p.wScale, vel: momentum ? p.vel : 0, K },
                lr,
                0.9,
                qas,
                seeded ? p.rng : 0,
              ),
          );
          const P = rng.int(1, 40);
          const CO = s.CO;
          const gy = grads(rng, P, CO);
          const bias = rng.int32s(CO, -3000, 3000);
          bias[0] = rng.pick([2147483647, -2147483648, bias[0]!]); // saturation
          const sx = rng.uniform(0.004, 0.06);
          const blr = qas ? rng.uniform(1e-6, 1e-4) : rng.uniform(1e5, 1e7);
          const params = { bias: { i32: bias }, wScale: { f32: scales(rng, CO) }, vel: { f32: rng.f32s(CO, -1, 1) }, rng: { rngSeed: rng.u32() } };
          againstReference(m, `bias gradient P ${P} CO ${CO}`, { gy: { f32: gy }, out: { zero: CO * 4 } }, (k, p) => k.biasGradF32({ gy: p.gy, P, CO, out: p.out }));
          againstReference(m, `fused bias update P ${P} CO ${CO}`, { gy: { f32: gy }, ...params }, (k, p) =>
            k.biasUpdateAllS32({ gy: p.gy, P, CO, bias: p.bias, wScale: p.wScale, sx, vel: momentum ? p.vel : 0 }, blr, 0.9, qas, seeded ? p.rng : 0),
          );
          againstReference(m, `applied bias gradient CO ${CO}`, { grad: { f32: rng.f32s(CO, -50, 50) }, ...params }, (k, p) =>
            k.applyBiasUpdateS32({ grad: p.grad, CO, bias: p.bias, wScale: p.wScale, sx, vel: momentum ? p.vel : 0 }, blr, 0.9, qas, seeded ? p.rng : 0),
          );
        }
      });
    });

    it('fused backward of a frozen 1x1 head and the global average pool', () => {
      const rng = new Rng(6);
      inBuild(simd, (m) => {
        for (const CI of CHANNELS) {
          const CO = rng.pick(CHANNELS);
          const P = rng.int(1, 30);
          const split = CI > 1 && rng.next() < 0.35 ? rng.int(1, CI - 1) : 0;
          const first = split || CI;
          const withBits = rng.next() < 0.6;
          const withGx = rng.next() < 0.85;
          const withBgrad = rng.next() < 0.6;
          const accumulate = rng.next() < 0.5;
          const bufs = {
            wScale: { f32: scales(rng, CO) },
            gpool: { f32: grads(rng, 1, CO) },
            bits: { u8: rng.int8s(Math.ceil((P * CO) / 8)).map((v) => v & 0xff) },
            w: { i8: int8Full(rng, CO * first) },
            w2: { i8: int8Full(rng, Math.max(CO * (CI - first), 1)) },
            gx: { f32: grads(rng, P, CI) },
            bgrad: { f32: rng.f32s(CO, -1, 1) },
            scratch: { scratch: CO * 4 },
          };
          againstReference(m, `gap head P ${P} CI ${CI} CO ${CO} split ${split} bits ${withBits} gx ${withGx} bgrad ${withBgrad} acc ${accumulate}`, bufs, (k, p) =>
            k.gapHeadBackwardF32({
              ...p,
              CO,
              P,
              CI,
              split,
              accumulate,
              w2: split ? p.w2 : 0,
              bits: withBits ? p.bits : 0,
              gx: withGx ? p.gx : 0,
              bgrad: withBgrad ? p.bgrad : 0,
            }),
          );
        }
      });
    });
  });

  // ---------------------------------------------------------------------------------------
  // pruned 1x1 layers

  describe(`${build}: pruned 1x1 kernels against the dense references on the decoded weights`, () => {
    /** int8 weights [CO, CI] with about `density` of them (or of the channel pairs) non-zero. */
    function pruned(rng: Rng, CO: number, CI: number, structure: PruneStructure, density: number): Int8Array {
      const w = rng.int8s(CO * CI, -127, 127); // symmetric: the lists refuse -128
      for (let co = 0; co < CO; co++)
        for (let c = 0; c < CI; c += structure === 'pairs' ? 2 : 1) {
          if (rng.next() < density) continue;
          w[co * CI + c] = 0;
          if (structure === 'pairs' && c + 1 < CI) w[co * CI + c + 1] = 0;
        }
      return w;
    }

    const cases = (seed: number) => {
      const rng = new Rng(seed);
      const out: Array<{ CI: number; CO: number; P: number; structure: PruneStructure; density: number }> = [];
      for (const CI of [...CHANNELS, 300]) {
        for (const structure of ['unstructured', 'pairs'] as const) {
          out.push({ CI, CO: rng.pick(CHANNELS), P: rng.pick([1, 3, 7, 8, 16, 17, 33]), structure, density: rng.pick([0, 0.2, 0.5, 1]) });
        }
      }
      return out;
    };

    it('forward (whole and rows through rings) and input gradient, u8 and u16 indices', () => {
      const rng = new Rng(7);
      const all = cases(8);
      expect(all.some((c) => (nzFormat(c.CI, c.structure) & 2) === 0)).toBe(true); // some u16 lists
      inBuild(simd, (m) => {
        for (const { CI, CO, P, structure, density } of all) {
          const what = `${structure} ${P}x${CI}->${CO} density ${density}`;
          const nz = encodeNzList(pruned(rng, CO, CI, structure, density), CO, CI, structure);
          const format = nzFormat(CI, structure);
          const { mult, shift } = requantTables(rng, CO);
          const zx = rng.pick([-128, rng.int(-40, 40)]);
          const out = { zy: rng.int(-10, 10), lo: rng.pick([-128, 0]), hi: 127 };
          const bufs = {
            x: { i8: int8Full(rng, P * CI) },
            nz: { u8: nz },
            bias: { i32: rng.int32s(CO, -30000, 30000) },
            mult: { i32: mult },
            shift: { i32: shift },
            y: { zero: P * CO },
            scratch: { scratch: prunedScratchBytes(CI) },
          };
          for (const tiled of [false, true]) {
            againstReference(m, `sparse forward ${what} scratch ${tiled}`, bufs, (k, p) =>
              k.sparse1x1ForwardS8({ ...p, ...out, P, CI, zx, format, CO, scratch: tiled ? p.scratch : 0 }),
            );
          }
          // rows of W pixels: P = H * W; input ring of all H rows or of 2, output ring of 1 or none
          const W = rng.pick([1, 2, 3, 5, 8, 9, 16, 17]);
          const H = rng.int(1, 4);
          const inRing = rng.pick([0, 2]);
          const outRing = rng.pick([0, 1]);
          const rows = { ...bufs, x: { i8: int8Full(rng, (inRing || H) * W * CI) }, y: { zero: (outRing || H) * W * CO } };
          const row = rng.int(0, H - 1);
          againstReference(m, `sparse forward row ${row} of ${H}x${W} rings ${inRing}/${outRing} ${what}`, rows, (k, p) =>
            k.sparse1x1ForwardRowS8({ ...p, ...out, W, CI, zx, format, CO, inRing, outRing }, row),
          );
          const accumulate = rng.next() < 0.5;
          const grad = {
            wScale: { f32: scales(rng, CO) },
            nz: { u8: nz },
            gy: { f32: grads(rng, P, CO) },
            gx: { f32: grads(rng, P, CI) },
            scratch: { scratch: prunedScratchBytes(CI) },
          };
          for (const tiled of [false, true]) {
            againstReference(m, `sparse input gradient ${what} acc ${accumulate} scratch ${tiled}`, grad, (k, p) =>
              k.sparse1x1BackwardInputF32({ ...p, format, CO, CI, P, accumulate, scratch: tiled ? p.scratch : 0 }),
            );
          }
        }
      });
    });

    it('pruned head backward', () => {
      const rng = new Rng(9);
      inBuild(simd, (m) => {
        for (const { CI, CO, P, structure, density } of cases(10)) {
          const nz = encodeNzList(pruned(rng, CO, CI, structure, density), CO, CI, structure);
          const withBits = rng.next() < 0.6;
          const withGx = rng.next() < 0.85;
          const withBgrad = rng.next() < 0.6;
          const accumulate = rng.next() < 0.5;
          const bufs = {
            nz: { u8: nz },
            wScale: { f32: scales(rng, CO) },
            gpool: { f32: grads(rng, 1, CO) },
            bits: { u8: rng.int8s(Math.ceil((P * CO) / 8)).map((v) => v & 0xff) },
            gx: { f32: grads(rng, P, CI) },
            bgrad: { f32: rng.f32s(CO, -1, 1) },
            scratch: { scratch: CO * 4 },
          };
          againstReference(m, `sparse gap head ${structure} P ${P} CI ${CI} CO ${CO} bits ${withBits} gx ${withGx} bgrad ${withBgrad} acc ${accumulate}`, bufs, (k, p) =>
            k.sparseGapHeadBackwardF32({
              ...p,
              format: nzFormat(CI, structure),
              CO,
              CI,
              P,
              accumulate,
              bits: withBits ? p.bits : 0,
              gx: withGx ? p.gx : 0,
              bgrad: withBgrad ? p.bgrad : 0,
            }),
          );
        }
      });
    });
  });

  // ---------------------------------------------------------------------------------------
  // pools, element-wise, loss

  describe(`${build}: pools, element-wise kernels and the loss against the references`, () => {
    it('average pool forward and backward (windows, strides per axis, per-side padding, by valid taps or the whole window, global)', () => {
      const rng = new Rng(11);
      inBuild(simd, (m) => {
        for (const C of CHANNELS) {
          for (const global of [false, true]) {
            const H = rng.int(1, 7);
            const W = rng.int(1, 9);
            const PH = global ? H : rng.int(1, H);
            const PW = global ? W : rng.int(1, W);
            // Strides drawn per axis: [SH, SW] with SH != SW in about half the cases.
            const strideH = global ? 1 : rng.pick([1, 2, 3]);
            const strideW = global ? 1 : rng.pick([1, 2, 3]);
            // Each side less than the window (the shape rule's bound), half the cases unpadded.
            const padded = !global && rng.next() < 0.5;
            const side = (k: number) => (padded ? rng.int(0, k - 1) : 0);
            const [padH, padW, padB, padR] = [side(PH), side(PW), side(PH), side(PW)];
            const OH = Math.floor((H + padH + padB - PH) / strideH) + 1;
            const OW = Math.floor((W + padW + padR - PW) / strideW) + 1;
            const byValidTaps = padded && rng.next() < 0.5;
            const what = `avgpool ${H}x${W}x${C} window ${PH}x${PW} s${strideH}x${strideW} pads ${[padH, padW, padB, padR]}${byValidTaps ? ' by valid taps' : ''}`;
            const n = rng.int(31, 40);
            const mq = rng.int(1 << 30, 0x7fffffff);
            const [zx, zy] = [rng.int(-128, 127), rng.int(-10, 10)];
            const table = Array.from({ length: PH * PW }, () => [rng.int(1 << 30, 0x7fffffff), rng.int(31, 40)]).flat();
            const bufs = { x: { i8: int8Full(rng, H * W * C) }, y: { zero: OH * OW * C }, counts: { i32: table } };
            // TFLite's integer mean (one quantisation in and out) a third of the time, by the window or by its inputs
            const mean = rng.next() < 0.33 ? (byValidTaps ? 2 : 1) : 0;
            againstReference(m, `${what} forward${mean ? ` mean ${mean}` : ''}`, bufs, (k, p) =>
              k.avgpoolForwardS8({ x: p.x, H, W, C, zx, y: p.y, OH, OW, zy, PH, PW, strideH, strideW, m: mq, n, padH, padW, counts: byValidTaps ? p.counts : 0, mean }),
            );
            const accumulate = rng.next() < 0.5;
            againstReference(m, `${what} backward`, { gy: { f32: grads(rng, OH * OW, C) }, gx: { f32: grads(rng, H * W, C) } }, (k, p) =>
              k.avgpoolBackwardF32({ gy: p.gy, OH, OW, gx: p.gx, H, W, C, PH, PW, strideH, strideW, accumulate, padH, padW, byValidTaps }),
            );
          }
        }
      });
    });

    it('add, clamp and its backward, the mask, gradient copy/sum, saved channels, argmax', () => {
      const rng = new Rng(12);
      inBuild(simd, (m) => {
        for (let count = 1; count <= 40; count++) {
          const lo = rng.pick([-128, rng.int(-128, 0)]);
          const hi = rng.pick([127, rng.int(lo + 1, 127)]);
          const [za, zb, zy] = [rng.int(-128, 127), rng.int(-128, 127), rng.int(-20, 20)];
          // input shifts >= 32 (TFLite's input multipliers are <= 1/2), the output's on both sides of 31
          const [ma, mb, my] = [rng.int(1 << 30, 0x7fffffff), rng.int(1 << 30, 0x7fffffff), rng.int(1 << 30, 0x7fffffff)];
          const [na, nb, ny] = [rng.int(32, 36), rng.int(32, 36), rng.int(28, 52)];
          againstReference(m, `add ${count}`, { a: { i8: int8Full(rng, count) }, b: { i8: int8Full(rng, count) }, y: { zero: count } }, (k, p) =>
            k.addS8({ a: p.a, za, ma, na, b: p.b, zb, mb, nb, my, ny, y: p.y, zy, lo, hi, count }),
          );
          const y = int8Full(rng, count);
          againstReference(m, `clamp ${count}`, { x: { i8: y }, y: { zero: count } }, (k, p) => k.clampS8({ x: p.x, y: p.y, count, lo, hi }));
          againstReference(m, `clamp backward ${count}`, { g: { f32: grads(rng, 1, count) }, y: { i8: y } }, (k, p) => k.clampBackwardF32({ g: p.g, y: p.y, count, lo, hi }));
          againstReference(m, `mask ${count}`, { y: { i8: y }, bits: { zero: Math.ceil(count / 8) } }, (k, p) => k.saveMaskBits({ y: p.y, count, lo, hi, bits: p.bits }));
          const bits = rng.int8s(Math.ceil(count / 8)).map((v) => v & 0xff);
          againstReference(m, `masked clamp backward ${count}`, { g: { f32: grads(rng, 1, count) }, bits: { u8: bits } }, (k, p) =>
            k.clampBackwardBitsF32({ g: p.g, bits: p.bits, count }),
          );
          const accumulate = rng.next() < 0.5;
          againstReference(m, `grad into ${count}`, { src: { f32: grads(rng, 1, count) }, dst: { f32: grads(rng, 1, count) } }, (k, p) =>
            k.gradInto({ src: p.src, dst: p.dst, count, accumulate }),
          );
          const C = rng.pick(CHANNELS);
          const K = rng.int(1, C);
          againstReference(m, `saved channels ${count}x${C} K ${K}`, { x: { i8: int8Full(rng, count * C) }, out: { zero: count * K } }, (k, p) =>
            k.saveChannelsS8({ x: p.x, P: count, C, K, out: p.out }),
          );
          const logits = rng.next() < 0.3 ? new Int8Array(count).fill(rng.int(-128, 127)) : int8Full(rng, count); // ties: the first wins
          againstReference(m, `argmax ${count}`, { x: { i8: logits } }, (k, p) => k.argmaxS8(p.x, count));
        }
      });
    });

    it('softmax cross-entropy: loss and gradient', () => {
      const rng = new Rng(13);
      inBuild(simd, (m) => {
        for (let count = 1; count <= 40; count++) {
          const scale = rng.pick([rng.uniform(0.01, 0.3), 5]); // 5: saturated probabilities (the 1e-30 floor)
          const zp = rng.int(-128, 127);
          const labelIndex = rng.int(0, count - 1);
          againstReference(m, `loss ${count} classes scale ${scale}`, { logits: { i8: int8Full(rng, count) }, grad: { zero: count * 4 } }, (k, p) =>
            k.softmaxCrossEntropyS8({ logits: p.logits, count, scale, zp, grad: p.grad }, labelIndex),
          );
        }
      });
    });
  });
}

suites(false);
suites(true);
