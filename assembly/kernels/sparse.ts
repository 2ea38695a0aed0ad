// Pointwise (1x1, stride 1, no padding) kernels for pruned frozen weights: forward int8
// and float32 input gradient, reading compile-time non-zero lists instead of the dense
// [CO, CI] matrix. Dense layers use them too (a 1x1 conv over a 1x1 image).
//
// Non-zero list ("nz" blob, read-only: Flash on an MCU), per output channel co:
//   i32 offs[CO + 1]   entries of channel co are [offs[co], offs[co + 1])
//   idx[nnz]           unstructured: input channel; pairs: pair j = channels 2j, 2j+1;
//                      u8 when every index fits, else u16
//   i8  val[nnz * B]   B = 1 (unstructured) or 2 (pairs: the weights of 2j and 2j+1)
// `format`: bit 0 = pairs, bit 1 = u8 indices (u16 otherwise).
//
// Exactness. Integer sums are exact modulo 2^32, so the SIMD forward (which adds the
// zero point back as -zx * sum(w)) gives the same int32 accumulator as the dense kernel,
// hence the same bytes. The float input gradient adds the same non-zero products in the
// same order (output channel ascending) as conv2dBackwardInputF32; the only terms skipped
// are g * 0 = ±0, which change nothing except the sign of a zero: see fixNegZero.
// Non-finite gradients (g * 0 = NaN in the dense kernel) take an exact slow path.
//
// Tails: the SIMD tiles take partial tiles themselves (stale lanes never stored); calls of
// fewer than 8 (forward) / 4 (gradient) pixels and non-finite gradients run the scalar
// pixel loops, which the scalar build runs too, so test/kernels-reference.test.ts checks
// them against the dense reference on the decoded weights in each build on its own.
//
// SIMD (with a scratch buffer of prunedScratchBytes(CI)): activations are HWC, so a tile
// of pixels is transposed into a small channel-major scratch and each non-zero weight
// multiplies a vector of pixels (XNNPACK's sparse 1x1 idea). The scalar build (or
// scratch = 0) works pixel by pixel straight on HWC and needs no scratch.

import { requant } from './requant';
import { clampZp4 } from './requant-simd';
import { SparseForwardRecord, SparseGapHeadRecord, SparseInputGradRecord, SparseWeights } from './records';

/** Pixels per SIMD tile: forward 16 (one i8x16 per channel), input gradient 4 (one f32x4). */
const FT: i32 = 16;
const BT: i32 = 4;

// @ts-ignore: decorator
@inline
function idxBase(nz: usize, CO: i32): usize { return nz + (<usize>(CO + 1) << 2); }
// @ts-ignore: decorator
@inline
function valBase(nz: usize, CO: i32, wide: bool): usize { return idxBase(nz, CO) + (<usize>load<i32>(nz + (<usize>CO << 2)) << <usize>(wide ? 1 : 0)); }
/** Entry k's index (loop-invariant branch on the index width). */
// @ts-ignore: decorator
@inline
function ldIdx(idx: usize, k: i32, wide: bool): i32 { return wide ? <i32>load<u16>(idx + (<usize>k << 1)) : <i32>load<u8>(idx + <usize>k); }

// ---------------------------------------------------------------------------------------
// Forward

/**
 * y[p, co] = requant(bias[co] + sum_k (x[p, ci_k] - zx) * w_k) for the P pixels at r.x
 * (HWC, CI channels in, CO out), clamped to [lo, hi]. pairs: the list holds channel pairs.
 */
export function sparse1x1ForwardS8(record: usize): void {
  const r = changetype<SparseForwardRecord>(record);
  forwardPixels(r, r.x, r.y, r.P);
}

/**
 * The same for the W pixels of row `row` of a streamed chain: the input and output
 * buffers may be rings of r.inRing / r.outRing rows (0: the whole tensor), row i in slot
 * i % ring.
 */
export function sparse1x1ForwardRowS8(record: usize, row: i32): void {
  const r = changetype<SparseForwardRecord>(record);
  const W = r.W; const inRing = r.inRing; const outRing = r.outRing;
  const x = r.x + <usize>((inRing == 0 ? row : row % inRing) * (W * r.CI));
  const y = r.y + <usize>((outRing == 0 ? row : row % outRing) * (W * r.CO));
  forwardPixels(r, x, y, W);
}

function forwardPixels(r: SparseForwardRecord, x: usize, y: usize, P: i32): void {
  const CI = r.CI; const zx = r.zx; const nz = r.nz; const format = r.format;
  const bias = r.bias; const mult = r.mult; const shift = r.shift;
  const CO = r.CO; const zy = r.zy; const lo = r.lo; const hi = r.hi;
  const pairs = (format & 1) != 0;
  const wide = (format & 2) == 0;
  if (ASC_FEATURE_SIMD) {
    // A few pixels (a dense layer: one) fill too little of a tile to pay for the transposes.
    if (r.scratch != 0 && P >= 8) {
      forwardTiles(r, x, y, P);
      return;
    }
  }
  const idx = idxBase(nz, CO);
  const val = valBase(nz, CO, wide);
  for (let p = 0; p < P; p++) {
    const xp = x + <usize>(p * CI);
    const yp = y + <usize>(p * CO);
    for (let co = 0; co < CO; co++) {
      let acc = load<i32>(bias + (<usize>co << 2));
      const e = load<i32>(nz + (<usize>(co + 1) << 2));
      for (let k = load<i32>(nz + (<usize>co << 2)); k < e; k++) {
        const i = ldIdx(idx, k, wide);
        if (pairs) {
          const c = i << 1;
          acc += (<i32>load<i8>(xp + <usize>c) - zx) * <i32>load<i8>(val + (<usize>k << 1));
          // An odd CI has a phantom last channel (weight 0) that must not be read.
          if (c + 1 < CI) acc += (<i32>load<i8>(xp + <usize>(c + 1)) - zx) * <i32>load<i8>(val + (<usize>k << 1) + 1);
        } else {
          acc += (<i32>load<i8>(xp + <usize>i) - zx) * <i32>load<i8>(val + <usize>k);
        }
      }
      store<i8>(yp + <usize>co, <i8>requant(acc, load<i32>(mult + (<usize>co << 2)), load<i32>(shift + (<usize>co << 2)), zy, lo, hi));
    }
  }
}

/**
 * The P pixels at x in tiles of n <= 16 pixels from p0. Scratch: the tile channel-major
 * (16 bytes a channel; pairs: 32 bytes a pair, the two channels interleaved pixel by
 * pixel), then 16 bytes of staging for the requantised outputs. Lanes >= n hold stale
 * bytes: integer math on them cannot trap and their results are never stored.
 */
// @ts-ignore: decorator
@inline
function forwardTiles(r: SparseForwardRecord, x: usize, y: usize, P: i32): void {
  const CI = r.CI; const zx = r.zx; const nz = r.nz; const pairs = (r.format & 1) != 0; const wide = (r.format & 2) == 0;
  const bias = r.bias; const mult = r.mult; const shift = r.shift;
  const CO = r.CO; const zy = r.zy; const lo = r.lo; const hi = r.hi; const scratch = r.scratch;
  for (let p0 = 0; p0 < P; p0 += FT) {
    const n = min<i32>(FT, P - p0);
    const tileBytes = <usize>(((CI + 1) >> 1) << 5);
    // Whole 16x16 blocks by shuffles, the rest (short tiles, channels past a multiple of 16) byte by byte.
    let c0 = 0;
    if (n == FT) {
      for (; c0 + 16 <= CI; c0 += 16) transpose16(x + <usize>(p0 * CI + c0), <usize>CI, scratch + (<usize>c0 << 4), 16, pairs);
      // A last block of 8-15 channels also goes whole: it reads up to 8 bytes past a row (the
      // next pixel, or past the tensor: the arena is followed by static data, so memory) and
      // writes rows for channels >= CI, inside the scratch and never indexed.
      if (CI - c0 >= 8) {
        transpose16(x + <usize>(p0 * CI + c0), <usize>CI, scratch + (<usize>c0 << 4), 16, pairs);
        c0 = CI;
      }
    }
    for (let p = 0; p < n; p++) {
      const xp = x + <usize>((p0 + p) * CI);
      if (pairs) {
        for (let c = c0; c < CI; c++) store<i8>(scratch + <usize>(((c >> 1) << 5) + (p << 1) + (c & 1)), load<i8>(xp + <usize>c));
      } else {
        for (let c = c0; c < CI; c++) store<i8>(scratch + <usize>((c << 4) + p), load<i8>(xp + <usize>c));
      }
    }
    const stage = scratch + tileBytes;
    const CO16 = n == FT ? CO & ~15 : 0;
    const idx = idxBase(nz, CO);
    const val = valBase(nz, CO, wide);
    for (let co = 0; co < CO; co++) {
      let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
      let wsum: i32 = 0;
      let k = load<i32>(nz + (<usize>co << 2));
      const e = load<i32>(nz + (<usize>(co + 1) << 2));
      if (pairs) {
        for (; k < e; k++) {
          const wa = <i32>load<i8>(val + (<usize>k << 1));
          const wb = <i32>load<i8>(val + (<usize>k << 1) + 1);
          wsum += wa + wb;
          const wv = i32x4.splat((wa & 0xffff) | (wb << 16));
          const t = scratch + (<usize>ldIdx(idx, k, wide) << 5);
          a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(t), wv));
          a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(t, 8), wv));
          a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load8x8_s(t, 16), wv));
          a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load8x8_s(t, 24), wv));
        }
      } else {
        // Two non-zeros at a time: |x*w| <= 128*127, so the sum of two fits in i16
        // (weights are symmetric int8: the compiler never lists a -128).
        for (; k + 1 < e; k += 2) {
          const wa = <i32>load<i8>(val + <usize>k);
          const wb = <i32>load<i8>(val + <usize>k + 1);
          wsum += wa + wb;
          const xa = v128.load(scratch + (<usize>ldIdx(idx, k, wide) << 4));
          const xb = v128.load(scratch + (<usize>ldIdx(idx, k + 1, wide) << 4));
          const va = i8x16.splat(<i8>wa), vb = i8x16.splat(<i8>wb);
          const l = i16x8.add(i16x8.extmul_low_i8x16_s(xa, va), i16x8.extmul_low_i8x16_s(xb, vb));
          const h = i16x8.add(i16x8.extmul_high_i8x16_s(xa, va), i16x8.extmul_high_i8x16_s(xb, vb));
          a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(l));
          a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(l));
          a2 = i32x4.add(a2, i32x4.extend_low_i16x8_s(h));
          a3 = i32x4.add(a3, i32x4.extend_high_i16x8_s(h));
        }
        if (k < e) {
          const wa = <i32>load<i8>(val + <usize>k);
          wsum += wa;
          const xa = v128.load(scratch + (<usize>ldIdx(idx, k, wide) << 4));
          const va = i8x16.splat(<i8>wa);
          const l = i16x8.extmul_low_i8x16_s(xa, va);
          const h = i16x8.extmul_high_i8x16_s(xa, va);
          a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(l));
          a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(l));
          a2 = i32x4.add(a2, i32x4.extend_low_i16x8_s(h));
          a3 = i32x4.add(a3, i32x4.extend_high_i16x8_s(h));
        }
      }
      // sum (x - zx) w = sum x w - zx sum w, exact modulo 2^32 like the dense sum.
      const b = i32x4.splat(load<i32>(bias + (<usize>co << 2)) - zx * wsum);
      const m = load<i32>(mult + (<usize>co << 2));
      const sh = load<i32>(shift + (<usize>co << 2));
      // A channel with no non-zero weight (common in thin, heavily pruned layers) is constant.
      const q = load<i32>(nz + (<usize>co << 2)) == e
        ? i8x16.splat(<i8>requant(load<i32>(bias + (<usize>co << 2)), m, sh, zy, lo, hi))
        : requant16(i32x4.add(a0, b), i32x4.add(a1, b), i32x4.add(a2, b), i32x4.add(a3, b), m, sh, zy, lo, hi);
      const yp = y + <usize>(p0 * CO + co);
      if (co < CO16) {
        // 16 channels' results gather in `stage`, then go out as 16 pixel rows at once.
        v128.store(stage + (<usize>(co & 15) << 4), q);
        if ((co & 15) == 15) transpose16(stage, 16, yp - 15, <usize>CO, false);
      } else if (n == FT) {
        storeColumn16(yp, CO, q);
      } else {
        v128.store(stage, q);
        for (let p = 0; p < n; p++) store<i8>(yp + <usize>(p * CO), load<i8>(stage + <usize>p));
      }
    }
  }
}

/**
 * 16 pixels x 16 channels of int8 from HWC rows (`src`, row stride `stride`) into the
 * tile: channel-major (16 bytes a channel, rows `dstStride` apart) or, for pairs, two channels interleaved
 * pixel by pixel (32 bytes a pair). Four rounds of byte interleaves transpose 16x16.
 */
// @ts-ignore: decorator
@inline
function transpose16(src: usize, stride: usize, dst: usize, dstStride: usize, pairs: bool): void {
  const r0 = v128.load(src + 0 * stride);
  const r1 = v128.load(src + 1 * stride);
  const r2 = v128.load(src + 2 * stride);
  const r3 = v128.load(src + 3 * stride);
  const r4 = v128.load(src + 4 * stride);
  const r5 = v128.load(src + 5 * stride);
  const r6 = v128.load(src + 6 * stride);
  const r7 = v128.load(src + 7 * stride);
  const r8 = v128.load(src + 8 * stride);
  const r9 = v128.load(src + 9 * stride);
  const r10 = v128.load(src + 10 * stride);
  const r11 = v128.load(src + 11 * stride);
  const r12 = v128.load(src + 12 * stride);
  const r13 = v128.load(src + 13 * stride);
  const r14 = v128.load(src + 14 * stride);
  const r15 = v128.load(src + 15 * stride);
  const a0 = i8x16.shuffle(r0, r8, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const a1 = i8x16.shuffle(r0, r8, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const a2 = i8x16.shuffle(r1, r9, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const a3 = i8x16.shuffle(r1, r9, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const a4 = i8x16.shuffle(r2, r10, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const a5 = i8x16.shuffle(r2, r10, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const a6 = i8x16.shuffle(r3, r11, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const a7 = i8x16.shuffle(r3, r11, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const a8 = i8x16.shuffle(r4, r12, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const a9 = i8x16.shuffle(r4, r12, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const a10 = i8x16.shuffle(r5, r13, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const a11 = i8x16.shuffle(r5, r13, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const a12 = i8x16.shuffle(r6, r14, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const a13 = i8x16.shuffle(r6, r14, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const a14 = i8x16.shuffle(r7, r15, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const a15 = i8x16.shuffle(r7, r15, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const b0 = i8x16.shuffle(a0, a8, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b1 = i8x16.shuffle(a0, a8, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const b2 = i8x16.shuffle(a1, a9, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b3 = i8x16.shuffle(a1, a9, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const b4 = i8x16.shuffle(a2, a10, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b5 = i8x16.shuffle(a2, a10, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const b6 = i8x16.shuffle(a3, a11, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b7 = i8x16.shuffle(a3, a11, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const b8 = i8x16.shuffle(a4, a12, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b9 = i8x16.shuffle(a4, a12, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const b10 = i8x16.shuffle(a5, a13, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b11 = i8x16.shuffle(a5, a13, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const b12 = i8x16.shuffle(a6, a14, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b13 = i8x16.shuffle(a6, a14, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const b14 = i8x16.shuffle(a7, a15, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b15 = i8x16.shuffle(a7, a15, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const c0 = i8x16.shuffle(b0, b8, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const c1 = i8x16.shuffle(b0, b8, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const c2 = i8x16.shuffle(b1, b9, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const c3 = i8x16.shuffle(b1, b9, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const c4 = i8x16.shuffle(b2, b10, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const c5 = i8x16.shuffle(b2, b10, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const c6 = i8x16.shuffle(b3, b11, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const c7 = i8x16.shuffle(b3, b11, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const c8 = i8x16.shuffle(b4, b12, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const c9 = i8x16.shuffle(b4, b12, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const c10 = i8x16.shuffle(b5, b13, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const c11 = i8x16.shuffle(b5, b13, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const c12 = i8x16.shuffle(b6, b14, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const c13 = i8x16.shuffle(b6, b14, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const c14 = i8x16.shuffle(b7, b15, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const c15 = i8x16.shuffle(b7, b15, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const d0 = i8x16.shuffle(c0, c8, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const d1 = i8x16.shuffle(c0, c8, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const d2 = i8x16.shuffle(c1, c9, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const d3 = i8x16.shuffle(c1, c9, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const d4 = i8x16.shuffle(c2, c10, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const d5 = i8x16.shuffle(c2, c10, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const d6 = i8x16.shuffle(c3, c11, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const d7 = i8x16.shuffle(c3, c11, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const d8 = i8x16.shuffle(c4, c12, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const d9 = i8x16.shuffle(c4, c12, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const d10 = i8x16.shuffle(c5, c13, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const d11 = i8x16.shuffle(c5, c13, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const d12 = i8x16.shuffle(c6, c14, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const d13 = i8x16.shuffle(c6, c14, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const d14 = i8x16.shuffle(c7, c15, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const d15 = i8x16.shuffle(c7, c15, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  if (pairs) {
    v128.store(dst, i8x16.shuffle(d0, d1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), 0);
    v128.store(dst, i8x16.shuffle(d0, d1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 16);
    v128.store(dst, i8x16.shuffle(d2, d3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), 32);
    v128.store(dst, i8x16.shuffle(d2, d3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 48);
    v128.store(dst, i8x16.shuffle(d4, d5, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), 64);
    v128.store(dst, i8x16.shuffle(d4, d5, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 80);
    v128.store(dst, i8x16.shuffle(d6, d7, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), 96);
    v128.store(dst, i8x16.shuffle(d6, d7, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 112);
    v128.store(dst, i8x16.shuffle(d8, d9, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), 128);
    v128.store(dst, i8x16.shuffle(d8, d9, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 144);
    v128.store(dst, i8x16.shuffle(d10, d11, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), 160);
    v128.store(dst, i8x16.shuffle(d10, d11, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 176);
    v128.store(dst, i8x16.shuffle(d12, d13, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), 192);
    v128.store(dst, i8x16.shuffle(d12, d13, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 208);
    v128.store(dst, i8x16.shuffle(d14, d15, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), 224);
    v128.store(dst, i8x16.shuffle(d14, d15, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 240);
  } else {
    v128.store(dst + 0 * dstStride, d0);
    v128.store(dst + 1 * dstStride, d1);
    v128.store(dst + 2 * dstStride, d2);
    v128.store(dst + 3 * dstStride, d3);
    v128.store(dst + 4 * dstStride, d4);
    v128.store(dst + 5 * dstStride, d5);
    v128.store(dst + 6 * dstStride, d6);
    v128.store(dst + 7 * dstStride, d7);
    v128.store(dst + 8 * dstStride, d8);
    v128.store(dst + 9 * dstStride, d9);
    v128.store(dst + 10 * dstStride, d10);
    v128.store(dst + 11 * dstStride, d11);
    v128.store(dst + 12 * dstStride, d12);
    v128.store(dst + 13 * dstStride, d13);
    v128.store(dst + 14 * dstStride, d14);
    v128.store(dst + 15 * dstStride, d15);
  }
}

/** The 16 bytes of q to y[p * CO], p = 0..15. */
// @ts-ignore: decorator
@inline
function storeColumn16(y: usize, CO: i32, q: v128): void {
  const s = <usize>CO;
  v128.store8_lane(y, q, 0); v128.store8_lane(y + s, q, 1);
  v128.store8_lane(y + 2 * s, q, 2); v128.store8_lane(y + 3 * s, q, 3);
  v128.store8_lane(y + 4 * s, q, 4); v128.store8_lane(y + 5 * s, q, 5);
  v128.store8_lane(y + 6 * s, q, 6); v128.store8_lane(y + 7 * s, q, 7);
  v128.store8_lane(y + 8 * s, q, 8); v128.store8_lane(y + 9 * s, q, 9);
  v128.store8_lane(y + 10 * s, q, 10); v128.store8_lane(y + 11 * s, q, 11);
  v128.store8_lane(y + 12 * s, q, 12); v128.store8_lane(y + 13 * s, q, 13);
  v128.store8_lane(y + 14 * s, q, 14); v128.store8_lane(y + 15 * s, q, 15);
}

/**
 * requant() on 16 accumulators at once: the same integers, so the same bytes. For n >= 32
 * (every real multiplier below 1/2) the rule's two roundings run in 64-bit lanes and the
 * result, below 2^31 in magnitude, is clamped in i32 lanes; otherwise its one rounding and
 * the clamp run in 64-bit lanes.
 */
// @ts-ignore: decorator
@inline
function requant16(a0: v128, a1: v128, a2: v128, a3: v128, m: i32, n: i32, zp: i32, lo: i32, hi: i32): v128 {
  let r0: v128, r1: v128, r2: v128, r3: v128;
  if (n >= 32) {
    const vm = i32x4.splat(m);
    const vc = i64x2.splat(<i64>1 << <i64>(n - 32));
    const vz = i32x4.splat(zp);
    const vlo = i32x4.splat(lo);
    const vhi = i32x4.splat(hi);
    r0 = clampZp4(requant4hi(a0, vm, vc, n - 31), vz, vlo, vhi);
    r1 = clampZp4(requant4hi(a1, vm, vc, n - 31), vz, vlo, vhi);
    r2 = clampZp4(requant4hi(a2, vm, vc, n - 31), vz, vlo, vhi);
    r3 = clampZp4(requant4hi(a3, vm, vc, n - 31), vz, vlo, vhi);
  } else {
    const vr = i64x2.splat(<i64>1 << <i64>(n - 1));
    const vm = i64x2.splat(<i64>m);
    const vz = i64x2.splat(<i64>zp);
    const vlo = i64x2.splat(<i64>lo);
    const vhi = i64x2.splat(<i64>hi);
    r0 = requant4(a0, vm, vr, n, vz, vlo, vhi);
    r1 = requant4(a1, vm, vr, n, vz, vlo, vhi);
    r2 = requant4(a2, vm, vr, n, vz, vlo, vhi);
    r3 = requant4(a3, vm, vr, n, vz, vlo, vhi);
  }
  // Every lane is inside [lo, hi] ⊂ [-128, 127]: the saturating narrows are exact.
  return i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(r0, r1), i16x8.narrow_i32x4_s(r2, r3));
}

/** The rule's two roundings per lane for n >= 32, vc = 2^(n-32), s = n - 31 (clampZp4 adds the zero point and clamps). */
// @ts-ignore: decorator
@inline
function requant4hi(a: v128, vm: v128, vc: v128, s: i32): v128 {
  const l = roundTwice(i64x2.extmul_low_i32x4_s(a, vm), vc, s);
  const h = roundTwice(i64x2.extmul_high_i32x4_s(a, vm), vc, s);
  return v128.shuffle<i32>(l, h, 0, 2, 4, 6);
}

/** t = (p + 2^30) >> 31, then (t + vc - [t < 0]) >> s, in 64-bit lanes. */
// @ts-ignore: decorator
@inline
function roundTwice(p: v128, vc: v128, s: i32): v128 {
  const t = i64x2.shr_s(i64x2.add(p, i64x2.splat(<i64>1 << 30)), 31);
  return i64x2.shr_s(i64x2.add(i64x2.add(t, vc), i64x2.shr_s(t, 63)), s);
}

// @ts-ignore: decorator
@inline
function requant4(a: v128, vm: v128, vr: v128, n: i32, vz: v128, vlo: v128, vhi: v128): v128 {
  const l = clamp64(i64x2.add(i64x2.shr_s(i64x2.add(i64x2.mul(i64x2.extend_low_i32x4_s(a), vm), vr), n), vz), vlo, vhi);
  const h = clamp64(i64x2.add(i64x2.shr_s(i64x2.add(i64x2.mul(i64x2.extend_high_i32x4_s(a), vm), vr), n), vz), vlo, vhi);
  return v128.shuffle<i32>(l, h, 0, 2, 4, 6);
}

// @ts-ignore: decorator
@inline
function clamp64(v: v128, vlo: v128, vhi: v128): v128 {
  const a = v128.bitselect(vlo, v, i64x2.lt_s(v, vlo));
  return v128.bitselect(vhi, a, i64x2.gt_s(a, vhi));
}

// ---------------------------------------------------------------------------------------
// Input gradient

/**
 * gx (+)= d(loss)/d(input) for P pixels: gx[p, ci] += (gy[p, co] * wScale[co]) * w[co, ci]
 * over co ascending, skipping g == 0 like conv2dBackwardInputF32, whose bits it matches.
 */
export function sparse1x1BackwardInputF32(record: usize): void {
  const r = changetype<SparseInputGradRecord>(record);
  const gy = r.gy; const P = r.P; const CO = r.CO; const gx = r.gx; const CI = r.CI; const accumulate = r.accumulate;
  if (ASC_FEATURE_SIMD) {
    if (r.scratch != 0 && P >= BT) {
      backwardTiles(r);
      return;
    }
  }
  backwardPixels(gy, gx, P, r, accumulate);
}

/**
 * P pixels on HWC data (the scalar path, and the SIMD path's fallback for non-finite g):
 * gx (+)= the input gradient of the output gradient gy, through the layer `sw` (any record
 * that starts with the sparse weights).
 */
// @ts-ignore: decorator
@inline
function backwardPixels(gy: usize, gx: usize, P: i32, sw: SparseWeights, accumulate: bool): void {
  const CO = sw.CO; const nz = sw.nz; const pairs = (sw.format & 1) != 0; const wide = (sw.format & 2) == 0;
  const wScale = sw.wScale; const CI = sw.CI;
  const idx = idxBase(nz, CO);
  const val = valBase(nz, CO, wide);
  for (let p = 0; p < P; p++) {
    const gyp = gy + (<usize>(p * CO) << 2);
    const gxp = gx + (<usize>(p * CI) << 2);
    if (!accumulate) memory.fill(gxp, 0, <usize>CI << 2);
    let positive = false;
    for (let co = 0; co < CO; co++) {
      const g = load<f32>(gyp + (<usize>co << 2)) * load<f32>(wScale + (<usize>co << 2));
      if (g == 0) continue;
      positive = positive || g > 0;
      const s = load<i32>(nz + (<usize>co << 2));
      const e = load<i32>(nz + (<usize>(co + 1) << 2));
      if (!isFinite(g)) { denseRow(g, co, sw, gxp); continue; }
      for (let k = s; k < e; k++) {
        const i = ldIdx(idx, k, wide);
        if (pairs) {
          const c = i << 1;
          addF32(gxp + (<usize>c << 2), g * <f32>load<i8>(val + (<usize>k << 1)));
          if (c + 1 < CI) addF32(gxp + (<usize>(c + 1) << 2), g * <f32>load<i8>(val + (<usize>k << 1) + 1));
        } else {
          addF32(gxp + (<usize>i << 2), g * <f32>load<i8>(val + <usize>k));
        }
      }
    }
    if (accumulate && positive) {
      for (let c = 0; c < CI; c++) {
        const q = gxp + (<usize>c << 2);
        store<u32>(q, fixNegZero(load<u32>(q)));
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function addF32(p: usize, v: f32): void { store<f32>(p, load<f32>(p) + v); }

/**
 * The sign of a zero. The dense kernel also adds g * 0 = ±0 (sign of g) for every zero
 * weight; that changes a value only while it is still the incoming -0 (adding ±0 to a
 * non-zero leaves it, +0 + ±0 = +0, and no sum of non-zeros is ever -0 in round to
 * nearest). So an element that ends as -0 here got only skipped terms, and the dense
 * kernel made it +0 iff some g > 0 at that pixel. Callers apply this where some g > 0.
 */
// @ts-ignore: decorator
@inline
function fixNegZero(bits: u32): u32 { return bits == 0x80000000 ? 0 : bits; }

/**
 * A non-finite g: the dense kernel's g * 0 is NaN for every zero weight, so replay row
 * co densely (weights not in the list are 0), in channel order like the dense kernel.
 */
function denseRow(g: f32, co: i32, sw: SparseWeights, gxp: usize): void {
  const nz = sw.nz; const CO = sw.CO; const CI = sw.CI; const pairs = (sw.format & 1) != 0; const wide = (sw.format & 2) == 0;
  const idx = idxBase(nz, CO);
  const val = valBase(nz, CO, wide);
  const e = load<i32>(nz + (<usize>(co + 1) << 2));
  let k = load<i32>(nz + (<usize>co << 2));
  for (let c = 0; c < CI; c++) {
    let w: f32 = 0;
    if (k < e) {
      const i = ldIdx(idx, k, wide);
      if (pairs) {
        if (c >> 1 == i) { w = <f32>load<i8>(val + (<usize>k << 1) + <usize>(c & 1)); if ((c & 1) == 1 || c + 1 == CI) k++; }
      } else if (c == i) { w = <f32>load<i8>(val + <usize>k); k++; }
    }
    addF32(gxp + (<usize>c << 2), g * w);
  }
}

/**
 * The P pixels in tiles of n <= 4 pixels from p0: the gradient tile channel-major in
 * scratch (16 bytes a channel: 4 pixels), loaded from gx or zeroed, updated, written back.
 * Lanes whose g is 0 add -0 (the identity), i.e. nothing, as the dense kernel skips them.
 * A tile where some g is not finite is left untouched and done by the exact scalar path.
 */
// @ts-ignore: decorator
@inline
function backwardTiles(r: SparseInputGradRecord): void {
  const gy = r.gy; const P = r.P; const CO = r.CO; const nz = r.nz; const pairs = (r.format & 1) != 0; const wide = (r.format & 2) == 0;
  const wScale = r.wScale; const gx = r.gx; const CI = r.CI; const accumulate = r.accumulate; const scratch = r.scratch;
  const rows = pairs ? (CI + 1) & ~1 : CI;
  for (let p0 = 0; p0 < P; p0 += BT) {
    const n = min<i32>(BT, P - p0);
    if (accumulate) {
      if (n < BT) memory.fill(scratch, 0, <usize>rows << 4);
      let c0 = 0;
      if (n == BT) {
        const g0 = gx + (<usize>(p0 * CI) << 2);
        const rs = <usize>CI << 2;
        for (; c0 + 4 <= CI; c0 += 4) transpose4(g0 + (<usize>c0 << 2), rs, scratch + (<usize>c0 << 4), 16);
      }
      for (let p = 0; p < n; p++) {
        const gxp = gx + (<usize>((p0 + p) * CI) << 2);
        for (let c = c0; c < CI; c++) store<f32>(scratch + (<usize>((c << 2) + p) << 2), load<f32>(gxp + (<usize>c << 2)));
      }
    } else {
      memory.fill(scratch, 0, <usize>rows << 4);
    }
    const idx = idxBase(nz, CO);
    const val = valBase(nz, CO, wide);
    const zero = f32x4.splat(0);
    const negZero = i32x4.splat(<i32>0x80000000);
    let bad = i32x4.splat(0);
    let positive = i32x4.splat(0);
    const cs = <usize>CO << 2;
    // Output gradients of 4 channels for the 4 pixels, transposed in registers (full tiles).
    let q0 = zero, q1 = zero, q2 = zero, q3 = zero;
    const CO4 = n == BT ? CO & ~3 : 0;
    for (let co = 0; co < CO; co++) {
      let gv = f32x4.splat(0);
      const gp = gy + (<usize>(p0 * CO + co) << 2);
      if (co < CO4) {
        const j = co & 3;
        if (j == 0) {
          const a = v128.load(gp), b = v128.load(gp + cs), c = v128.load(gp + 2 * cs), d = v128.load(gp + 3 * cs);
          const t0 = v128.shuffle<i32>(a, b, 0, 4, 1, 5), t1 = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
          const t2 = v128.shuffle<i32>(c, d, 0, 4, 1, 5), t3 = v128.shuffle<i32>(c, d, 2, 6, 3, 7);
          q0 = v128.shuffle<i64>(t0, t2, 0, 2); q1 = v128.shuffle<i64>(t0, t2, 1, 3);
          q2 = v128.shuffle<i64>(t1, t3, 0, 2); q3 = v128.shuffle<i64>(t1, t3, 1, 3);
        }
        gv = j == 0 ? q0 : j == 1 ? q1 : j == 2 ? q2 : q3;
      } else {
        gv = f32x4.replace_lane(gv, 0, load<f32>(gp));
        if (n > 1) gv = f32x4.replace_lane(gv, 1, load<f32>(gp + cs));
        if (n > 2) gv = f32x4.replace_lane(gv, 2, load<f32>(gp + 2 * cs));
        if (n > 3) gv = f32x4.replace_lane(gv, 3, load<f32>(gp + 3 * cs));
      }
      gv = f32x4.mul(gv, f32x4.splat(load<f32>(wScale + (<usize>co << 2))));
      // NaN or ±inf makes g - g non-zero (NaN).
      bad = v128.or(bad, f32x4.ne(f32x4.sub(gv, gv), zero));
      positive = v128.or(positive, f32x4.gt(gv, zero));
      const skip = v128.and(f32x4.eq(gv, zero), negZero);
      const e = load<i32>(nz + (<usize>(co + 1) << 2));
      for (let k = load<i32>(nz + (<usize>co << 2)); k < e; k++) {
        const i = <usize>ldIdx(idx, k, wide);
        if (pairs) {
          const t = scratch + (i << 5);
          const wa = <f32>load<i8>(val + (<usize>k << 1));
          const wb = <f32>load<i8>(val + (<usize>k << 1) + 1);
          v128.store(t, f32x4.add(v128.load(t), v128.or(f32x4.mul(gv, f32x4.splat(wa)), skip)));
          v128.store(t, f32x4.add(v128.load(t, 16), v128.or(f32x4.mul(gv, f32x4.splat(wb)), skip)), 16);
        } else {
          const t = scratch + (i << 4);
          v128.store(t, f32x4.add(v128.load(t), v128.or(f32x4.mul(gv, f32x4.splat(<f32>load<i8>(val + <usize>k))), skip)));
        }
      }
    }
    if (v128.any_true(bad)) {
      backwardPixels(gy + (<usize>(p0 * CO) << 2), gx + (<usize>(p0 * CI) << 2), n, r, accumulate);
      continue;
    }
    // fixNegZero on lanes with some g > 0 (see there). Without accumulation the tile
    // started at +0 and never holds -0 (+0 + -0 = +0; sums of non-zeros are never -0).
    const fix = v128.and(positive, negZero);
    if (accumulate && v128.any_true(fix)) {
      for (let c = 0; c < CI; c++) {
        const t = scratch + (<usize>c << 4);
        let v = v128.load(t);
        v = v128.andnot(v, v128.and(i32x4.eq(v, fix), fix));
        v128.store(t, v);
      }
    }
    let c0 = 0;
    if (n == BT) {
      const g0 = gx + (<usize>(p0 * CI) << 2);
      const rs = <usize>CI << 2;
      for (; c0 + 4 <= CI; c0 += 4) transpose4(scratch + (<usize>c0 << 4), 16, g0 + (<usize>c0 << 2), rs);
    }
    for (let p = 0; p < n; p++) {
      const gxp = gx + (<usize>((p0 + p) * CI) << 2);
      for (let c = c0; c < CI; c++) store<f32>(gxp + (<usize>c << 2), load<f32>(scratch + (<usize>((c << 2) + p) << 2)));
    }
  }
}

/** A 4x4 block of 32-bit values: rows of 4 at src (stride ss bytes) become columns at dst (stride ds). */
// @ts-ignore: decorator
@inline
function transpose4(src: usize, ss: usize, dst: usize, ds: usize): void {
  const a = v128.load(src), b = v128.load(src + ss), c = v128.load(src + 2 * ss), d = v128.load(src + 3 * ss);
  const t0 = v128.shuffle<i32>(a, b, 0, 4, 1, 5), t1 = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(c, d, 0, 4, 1, 5), t3 = v128.shuffle<i32>(c, d, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<i64>(t0, t2, 0, 2));
  v128.store(dst + ds, v128.shuffle<i64>(t0, t2, 1, 3));
  v128.store(dst + 2 * ds, v128.shuffle<i64>(t1, t3, 0, 2));
  v128.store(dst + 3 * ds, v128.shuffle<i64>(t1, t3, 1, 3));
}

/**
 * gapHeadBackwardF32 for a pruned head: "frozen 1x1 conv -> global average pool"
 * backward, fused, with the head's input gradient from its non-zero list. The head's
 * output gradient at position p (pool gradient / P, zeroed where the clamp bits are 0) is
 * formed in `scratch` (CO floats) exactly as there, then one pixel of the sparse input
 * gradient runs on it; so the bits equal the dense fused kernel's.
 */
export function sparseGapHeadBackwardF32(record: usize): void {
  const r = changetype<SparseGapHeadRecord>(record);
  const gpool = r.gpool; const P = r.P; const CO = r.CO; const bits = r.bits; const CI = r.CI;
  const gx = r.gx; const accumulate = r.accumulate; const bgrad = r.bgrad; const scratch = r.scratch;
  const inv: f32 = 1.0 / <f32>P;
  if (bgrad != 0) memory.fill(bgrad, 0, <usize>CO << 2);
  for (let p = 0; p < P; p++) {
    for (let co = 0; co < CO; co++) {
      let g = load<f32>(gpool + (<usize>co << 2)) * inv;
      const i = p * CO + co;
      if (bits != 0 && ((<i32>load<u8>(bits + <usize>(i >> 3)) >> (i & 7)) & 1) == 0) g = 0;
      store<f32>(scratch + (<usize>co << 2), g);
      if (bgrad != 0) addF32(bgrad + (<usize>co << 2), g);
    }
    if (gx != 0) backwardPixels(scratch, gx + (<usize>(p * CI) << 2), 1, r, accumulate);
  }
}
