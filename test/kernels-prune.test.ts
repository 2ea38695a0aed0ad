/**
 * Fine-grained sparse kernels for pruned frozen 1x1 layers (assembly/kernels/sparse.ts)
 * against the dense kernels on the same (pruned) weights, bit for bit:
 *  - forward int8: sparse1x1ForwardS8 == conv2dForwardS8 (1x1 over a 1 x P image);
 *  - input gradient f32: sparse1x1BackwardInputF32 == conv2dBackwardInputF32, compared as
 *    raw bits (so +0 and -0 differ: the kernels keep the dense kernel's zero signs, also
 *    when accumulating onto a gradient holding -0), except that any NaN equals any NaN
 *    (WASM leaves NaN payloads to the engine; NaNs appear where the dense kernel computes
 *    inf * 0 for a non-finite upstream gradient);
 *  - unstructured and pair lists; SIMD with scratch (tiles), SIMD without scratch and the
 *    scalar build all give the same bits.
 * Shapes: pixel counts around the tile sizes (16 forward, 4 backward), channel counts that
 * are not multiples of the SIMD width, all-zero output channels, 0% and 100% sparsity.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { quantizeMultiplier } from '../compiler/quantize/fixedpoint.js';
import { encodeNzList, sparseScratchBytes, type SparseStructure } from '../compiler/sparse/nzlist.js';
import { type KernelModule, Rng, loadKernels } from './support/kernel-module.js';

let simd: KernelModule;
let scalar: KernelModule;

beforeAll(async () => {
  [simd, scalar] = await Promise.all([loadKernels({ simd: true }), loadKernels({ simd: false })]);
}, 180_000);

interface Case { P: number; CI: number; CO: number; sparsity: number; structure: SparseStructure; seed: number }

/** Random int8 weights [CO, CI] in [-127, 127] with a fraction `sparsity` zeroed (pairs: whole pairs), some rows all zero. */
function prunedWeights(rng: Rng, c: Case): Int8Array {
  const w = rng.int8s(c.CO * c.CI, -127, 127);
  for (let co = 0; co < c.CO; co++) {
    const dead = c.sparsity > 0 && rng.next() < 0.15;
    for (let ci = 0; ci < c.CI; ci++) {
      const unit = c.structure === 'pairs' ? ci >> 1 : ci;
      // one draw per unit (pair members share it)
      if (c.structure === 'pairs' && ci % 2 === 1) { w[co * c.CI + ci] = w[co * c.CI + ci - 1] === 0 ? 0 : w[co * c.CI + ci]!; continue; }
      void unit;
      if (dead || rng.next() < c.sparsity) w[co * c.CI + ci] = 0;
    }
  }
  if (c.sparsity >= 1) w.fill(0);
  return w;
}

function cases(): Case[] {
  const rng = new Rng(4242);
  const out: Case[] = [];
  const Ps = [1, 3, 4, 5, 15, 16, 17, 33, 40];
  for (const structure of ['unstructured', 'pairs'] as const) {
    for (const sparsity of [0, 0.5, 0.7, 0.9, 1]) {
      for (let i = 0; i < 4; i++) {
        out.push({ P: rng.pick(Ps), CI: rng.int(1, 45), CO: rng.int(1, 20), sparsity, structure, seed: rng.u32() });
      }
    }
  }
  out.push({ P: 49, CI: 96, CO: 24, sparsity: 0.9, structure: 'unstructured', seed: 7 });
  out.push({ P: 49, CI: 96, CO: 24, sparsity: 0.7, structure: 'pairs', seed: 8 });
  return out;
}

const label = (c: Case): string => `${c.structure} P${c.P} ${c.CI}->${c.CO} @${c.sparsity}`;

/** Forward on one module; returns outputs of dense, sparse (scratch) and sparse (no scratch). */
function forwardAll(k: KernelModule, c: Case, w: Int8Array) {
  const rng = new Rng(c.seed);
  k.reset();
  const x = k.i8(rng.int8s(c.P * c.CI));
  const zx = rng.int(-40, 40);
  const bias = k.i32(rng.int32s(c.CO, -6000, 6000));
  const mult = k.i32(Int32Array.from({ length: c.CO }, () => quantizeMultiplier(rng.uniform(1e-4, 3e-2)).m));
  // Shifts below and above 32: the SIMD requantisation has a path for each.
  const shift = k.i32(Int32Array.from({ length: c.CO }, () => (rng.next() < 0.5 ? rng.int(8, 31) : rng.int(32, 45))));
  const zy = rng.int(-20, 20);
  const lo = rng.next() < 0.5 ? zy : -128;
  const pw = k.i8(w);
  const nz = k.i8(new Int8Array(encodeNzList(w, c.CO, c.CI, c.structure).buffer));
  const scratch = k.allocFilled(sparseScratchBytes(c.CI), 0x5a);
  const n = c.P * c.CO;
  const yd = k.allocFilled(n + 32, 0x77);
  k.k.conv2dForwardS8(x, 1, c.P, c.CI, zx, pw, bias, mult, shift, yd, 1, c.P, c.CO, zy, lo, 127, 1, 1, 1, 0, false, 0, 0);
  const pairs = c.structure === 'pairs';
  const ys = k.allocFilled(n + 32, 0x77);
  k.k.sparse1x1ForwardS8(x, c.P, c.CI, zx, nz, pairs, bias, mult, shift, ys, c.CO, zy, lo, 127, scratch);
  const y0 = k.allocFilled(n + 32, 0x77);
  k.k.sparse1x1ForwardS8(x, c.P, c.CI, zx, nz, pairs, bias, mult, shift, y0, c.CO, zy, lo, 127, 0);
  return { dense: k.readBytes(yd, n + 32), tiled: k.readBytes(ys, n + 32), direct: k.readBytes(y0, n + 32) };
}

/** Raw bits, with every NaN mapped to one pattern. */
function bits(f: Float32Array): Uint32Array {
  const u = new Uint32Array(f.buffer.slice(0));
  for (let i = 0; i < f.length; i++) if (Number.isNaN(f[i])) u[i] = 0x7fc00000;
  return u;
}

interface GradOpts { accumulate: boolean; nonFinite: boolean }

function backwardAll(k: KernelModule, c: Case, w: Int8Array, o: GradOpts) {
  const rng = new Rng(c.seed ^ 0x9e37);
  k.reset();
  const gyData = rng.f32s(c.P * c.CO, -1, 1, 0.2);
  // Negative zeros upstream too: g = -0 * scale must be skipped like +0.
  for (let i = 0; i < gyData.length; i++) if (gyData[i] === 0 && rng.next() < 0.5) gyData[i] = -0;
  if (o.nonFinite) { gyData[rng.int(0, gyData.length - 1)] = Infinity; gyData[rng.int(0, gyData.length - 1)] = NaN; }
  const gy = k.f32(gyData);
  const wScale = k.f32(Float32Array.from({ length: c.CO }, () => rng.uniform(0.002, 0.03)));
  const init = rng.f32s(c.P * c.CI, -0.5, 0.5, 0.3);
  // The incoming gradient has -0s (the case where skipping g * 0 could flip a sign).
  for (let i = 0; i < init.length; i++) if (init[i] === 0 && rng.next() < 0.7) init[i] = -0;
  const pw = k.i8(w);
  const nz = k.i8(new Int8Array(encodeNzList(w, c.CO, c.CI, c.structure).buffer));
  const scratch = k.allocFilled(sparseScratchBytes(c.CI), 0x5a);
  const n = c.P * c.CI;
  const run = (f: (gx: number) => void): Float32Array => {
    const gx = k.alloc(4 * n + 64);
    k.writeF32(gx, o.accumulate ? init : new Float32Array(n).fill(123));
    k.writeF32(gx + 4 * n, new Float32Array(16).fill(-7));
    f(gx);
    return k.readF32(gx, n + 16);
  };
  const pairs = c.structure === 'pairs';
  const dense = run((gx) => k.k.conv2dBackwardInputF32(gy, 1, c.P, c.CO, pw, wScale, gx, 1, c.P, c.CI, 1, 1, 1, 0, false, o.accumulate, 0, 0));
  const tiled = run((gx) => k.k.sparse1x1BackwardInputF32(gy, c.P, c.CO, nz, pairs, wScale, gx, c.CI, o.accumulate, scratch));
  const direct = run((gx) => k.k.sparse1x1BackwardInputF32(gy, c.P, c.CO, nz, pairs, wScale, gx, c.CI, o.accumulate, 0));
  return { dense: bits(dense), tiled: bits(tiled), direct: bits(direct) };
}

describe('sparse 1x1 forward == dense forward on the pruned weights', () => {
  for (const c of cases()) {
    it(label(c), () => {
      const w = prunedWeights(new Rng(c.seed), c);
      const s = forwardAll(simd, c, w);
      const q = forwardAll(scalar, c, w);
      expect(s.tiled).toEqual(s.dense);
      expect(s.direct).toEqual(s.dense);
      expect(q.tiled).toEqual(q.dense);
      expect(q.direct).toEqual(q.dense);
      expect(s.dense).toEqual(q.dense);
    });
  }
});

describe('sparse 1x1 input gradient == dense input gradient, bit for bit', () => {
  for (const c of cases()) {
    for (const o of [{ accumulate: false, nonFinite: false }, { accumulate: true, nonFinite: false }, { accumulate: true, nonFinite: true }]) {
      it(`${label(c)}${o.accumulate ? ' accumulate' : ''}${o.nonFinite ? ' non-finite' : ''}`, () => {
        const w = prunedWeights(new Rng(c.seed), c);
        const s = backwardAll(simd, c, w, o);
        const q = backwardAll(scalar, c, w, o);
        expect(s.tiled).toEqual(s.dense);
        expect(s.direct).toEqual(s.dense);
        expect(q.tiled).toEqual(q.dense);
        expect(q.direct).toEqual(q.dense);
        expect(s.dense).toEqual(q.dense);
      });
    }
  }
});
