// conv2d (dense and depthwise, any kernel/stride/padding) and fully connected, which is a
// 1x1 conv over a 1x1 image with C = input length. Layouts: activations HWC int8,
// weights [CO, KH, KW, CI/groups] int8, bias int32, gradients float32 HWC. Each kernel
// takes its parameter record (records.ts) and reads every field once, into a local.

import { dotS8 } from './dot';
import { requant } from './requant';
import { denseRowsS8, depthwise3x3RowsS8 } from './conv2d-fwd-simd';
import { pointwiseInputGradRange, pointwiseInputGradPair, depthwise3x3InputGradF32, depthwise3x3InPlaceRowF32 } from './conv2d-bwd-simd';
import { denseWeightGradF32, denseWeightUpdate4, depthwiseWeightGradF32, depthwise3x3WeightGrads, f32_bias_grad_4x__wasmsimd, laneOf } from './conv2d-wgrad-simd';
import { stepDirection, stepInt8At, stepInt32At, velAt } from './update';
import {
  ApplyBiasRecord, ApplyWeightRecord, BiasGradRecord, BiasUpdateRecord, ConvForwardRecord, ConvInputGradRecord,
  DepthwiseInPlaceRecord, GapHeadRecord, WeightGradRecord,
} from './records';

/**
 * Address of a depthwise weight: channels below `split` live at `w` (the trained slice),
 * the rest at `w2`; split = 0 means all at `w`. `tap` = (c*KH + kh)*KW + kw.
 */
// @ts-ignore: decorator
@inline
function weightAddrDw(w: usize, w2: usize, split: i32, c: i32, tap: i32, taps: i32): usize {
  return split == 0 || c < split ? w + <usize>tap : w2 + <usize>(tap - split * taps);
}

/**
 * gx[ci] += g * w[ci] for one weight row of C input channels whose first `first` live at
 * `wp` (the trained slice) and the rest at `wp2` (the frozen part): the scalar inner loop
 * of every input gradient, one add per element, so each element's sum keeps its order.
 */
// @ts-ignore: decorator
@inline
function addWeightRowF32(gxp: usize, g: f32, wp: usize, wp2: usize, first: i32, C: i32): void {
  for (let ci = 0; ci < first; ci++) {
    const q = gxp + (<usize>ci << 2);
    store<f32>(q, load<f32>(q) + g * <f32>load<i8>(wp + <usize>ci));
  }
  const rest = gxp + (<usize>first << 2);
  for (let ci = 0; ci < C - first; ci++) {
    const q = rest + (<usize>ci << 2);
    store<f32>(q, load<f32>(q) + g * <f32>load<i8>(wp2 + <usize>ci));
  }
}

/** int8 forward with fused requantisation and activation clamp [lo, hi]: the whole output. */
export function conv2dForwardS8(record: usize): void {
  const r = changetype<ConvForwardRecord>(record);
  conv2dForwardRowsS8(record, 0, r.OH);
}

/**
 * Output rows [ohBegin, ohEnd) of the int8 forward. Input and output may be ring buffers
 * holding only `r.inRing` / `r.outRing` rows (0 = the whole tensor): row i then lives in
 * slot i % ring. That lets a chain of frozen convs stream row by row without ever holding
 * their intermediate tensors whole.
 */
export function conv2dForwardRowsS8(record: usize, ohBegin: i32, ohEnd: i32): void {
  const r = changetype<ConvForwardRecord>(record);
  let coBegin = 0;
  if (ASC_FEATURE_SIMD) {
    if (!r.depthwise) {
      denseRowsS8(r, ohBegin, ohEnd);
      return;
    }
    if (r.KH == 3 && r.KW == 3) {
      coBegin = r.C & ~7;
      depthwise3x3RowsS8(r, ohBegin, ohEnd, coBegin);
      if (coBegin == r.CO) return;
    }
  }
  qs8_conv2d_fwd_rows__scalar(r, ohBegin, ohEnd, coBegin);
}

/**
 * The scalar forward (all builds), for output channels [coBegin, CO). Twin of the SIMD
 * forward (conv2d-fwd-simd.ts; integer sums, so any order gives the same bytes). It is also
 * the SIMD build's code for depthwise channels [C & ~7, C) and depthwise windows other than
 * 3x3: SIMD == scalar tests cannot see a bug in it, so
 * kernels-reference.test.ts checks it in each build on its own against assembly/kernels/reference (qs8_conv2d_fwd_rows__ref).
 */
// @ts-ignore: decorator
@inline
function qs8_conv2d_fwd_rows__scalar(r: ConvForwardRecord, ohBegin: i32, ohEnd: i32, coBegin: i32): void {
  const x = r.x; const H = r.H; const W = r.W; const C = r.C; const zx = r.zx;
  const w = r.w; const bias = r.bias; const mult = r.mult; const shift = r.shift;
  const y = r.y; const OW = r.OW; const CO = r.CO; const zy = r.zy; const lo = r.lo; const hi = r.hi;
  const KH = r.KH; const KW = r.KW; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW; const depthwise = r.depthwise;
  const w2 = r.w2; const split = r.split; const inRing = r.inRing; const outRing = r.outRing;
  for (let oh = ohBegin; oh < ohEnd; oh++) {
    const ySlot = outRing == 0 ? oh : oh % outRing;
    for (let ow = 0; ow < OW; ow++) {
      const yrow = y + <usize>((ySlot * OW + ow) * CO);
      for (let co = coBegin; co < CO; co++) {
        let acc = load<i32>(bias + (<usize>co << 2));
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh - ph + kh;
          if (ih < 0 || ih >= H) continue;
          const xSlot = inRing == 0 ? ih : ih % inRing;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw - pw + kw;
            if (iw < 0 || iw >= W) continue;
            const xp = x + <usize>((xSlot * W + iw) * C);
            const tap = (co * KH + kh) * KW + kw;
            if (depthwise) {
              acc += (<i32>load<i8>(xp + <usize>co) - zx) * <i32>load<i8>(weightAddrDw(w, w2, split, co, tap, KH * KW));
            } else if (split == 0) {
              acc += dotS8(xp, w + <usize>(tap * C), C, zx);
            } else {
              acc += dotS8(xp, w + <usize>(tap * split), split, zx);
              acc += dotS8(xp + <usize>split, w2 + <usize>(tap * (C - split)), C - split, zx);
            }
          }
        }
        const m = load<i32>(mult + (<usize>co << 2));
        const n = load<i32>(shift + (<usize>co << 2));
        store<i8>(yrow + <usize>co, <i8>requant(acc, m, n, zy, lo, hi));
      }
    }
  }
}

/**
 * gx (+)= d(loss)/d(input): the transposed conv of gy with the dequantised weights.
 * Uses the weights as they were in the forward pass, so it must run before the update.
 */
export function conv2dBackwardInputF32(record: usize): void {
  const r = changetype<ConvInputGradRecord>(record);
  const gy = r.gy; const OH = r.OH; const OW = r.OW; const CO = r.CO;
  const w = r.w; const wScale = r.wScale;
  const gx = r.gx; const H = r.H; const W = r.W; const C = r.C;
  const KH = r.KH; const KW = r.KW; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW; const depthwise = r.depthwise;
  const w2 = r.w2; const split = r.split;
  if (!r.accumulate) memory.fill(gx, 0, <usize>(H * W * C) << 2);
  let coBegin = 0;
  if (ASC_FEATURE_SIMD) {
    if (!depthwise && KH == 1 && KW == 1 && ph == 0 && pw == 0) {
      // 1x1: each input pixel gets the terms of one output pixel, co ascending
      const first = split == 0 ? C : split;
      const rest = C - first;
      for (let oh = 0; oh < OH; oh++) {
        let ow = 0;
        for (; ow + 2 <= OW; ow += 2) {
          // pixel pairs for the 16-channel blocks, then each pixel's remaining channels
          const gya = gy + (<usize>((oh * OW + ow) * CO) << 2);
          const gyb = gya + (<usize>CO << 2);
          const gxa = gx + (<usize>(((oh * sh) * W + ow * sw) * C) << 2);
          const gxb = gxa + (<usize>(sw * C) << 2);
          const d1 = pointwiseInputGradPair(r, gxa, gya, w, first);
          pointwiseInputGradRange(gxa + (<usize>d1 << 2), gya, r, w + <usize>d1, first, first - d1);
          pointwiseInputGradRange(gxb + (<usize>d1 << 2), gyb, r, w + <usize>d1, first, first - d1);
          if (rest > 0) {
            const ga = gxa + (<usize>first << 2);
            const gb = gxb + (<usize>first << 2);
            const d2 = pointwiseInputGradPair(r, ga, gya, w2, rest);
            pointwiseInputGradRange(ga + (<usize>d2 << 2), gya, r, w2 + <usize>d2, rest, rest - d2);
            pointwiseInputGradRange(gb + (<usize>d2 << 2), gyb, r, w2 + <usize>d2, rest, rest - d2);
          }
        }
        for (; ow < OW; ow++) {
          const gyp = gy + (<usize>((oh * OW + ow) * CO) << 2);
          const gxp = gx + (<usize>(((oh * sh) * W + ow * sw) * C) << 2);
          pointwiseInputGradRange(gxp, gyp, r, w, first, first);
          if (rest > 0) pointwiseInputGradRange(gxp + (<usize>first << 2), gyp, r, w2, rest, rest);
        }
      }
      return;
    }
    if (!depthwise) {
      // any kernel: per output pixel and tap, the input pixel's channels stay in registers
      // across output channels; each element still gets its terms by output pixel, then
      // output channel, ascending (one tap per output pixel reaches a given input pixel)
      const first = split == 0 ? C : split;
      const rest = C - first;
      const taps = KH * KW;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const gyp = gy + (<usize>((oh * OW + ow) * CO) << 2);
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * sh - ph + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * sw - pw + kw;
              if (iw < 0 || iw >= W) continue;
              const gxp = gx + (<usize>((ih * W + iw) * C) << 2);
              const tap = kh * KW + kw;
              pointwiseInputGradRange(gxp, gyp, r, w + <usize>(tap * first), taps * first, first);
              if (rest > 0) pointwiseInputGradRange(gxp + (<usize>first << 2), gyp, r, w2 + <usize>(tap * rest), taps * rest, rest);
            }
          }
        }
      }
      return;
    }
    if (KH == 3 && KW == 3) {
      coBegin = C & ~3;
      depthwise3x3InputGradF32(r, coBegin);
      if (coBegin == CO) return;
    }
  }
  // The scalar input gradient, and the SIMD build's code for depthwise channels [C & ~3, C)
  // and depthwise windows other than 3x3 (SIMD == scalar tests cannot see a bug here:
  // kernels-reference.test.ts checks it in each build on its own against assembly/kernels/reference, f32_conv2d_igrad__ref).
  // The SIMD paths above are twins that keep this loop's summation order (see conv2d-bwd-simd.ts).
  for (let oh = 0; oh < OH; oh++) {
    for (let ow = 0; ow < OW; ow++) {
      for (let co = coBegin; co < CO; co++) {
        const g = load<f32>(gy + (<usize>((oh * OW + ow) * CO + co) << 2)) * load<f32>(wScale + (<usize>co << 2));
        if (g == 0) continue;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh - ph + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw - pw + kw;
            if (iw < 0 || iw >= W) continue;
            const gxp = gx + (<usize>((ih * W + iw) * C) << 2);
            const tap = (co * KH + kh) * KW + kw;
            if (depthwise) {
              const p = gxp + (<usize>co << 2);
              store<f32>(p, load<f32>(p) + g * <f32>load<i8>(weightAddrDw(w, w2, split, co, tap, KH * KW)));
            } else {
              const first = split == 0 ? C : split;
              addWeightRowF32(gxp, g, w + <usize>(tap * first), w2 + <usize>(tap * (C - first)), first, C);
            }
          }
        }
      }
    }
  }
}

/**
 * Gradient of the weights that read the first K input channels (depthwise: of channels
 * 0..K-1), d(loss)/d(w[co, kh, kw, ci]) = sx * sum over output positions of gy * (x - zx),
 * stored at r.out or, when r.out is 0, applied as the fused update: no gradient buffer; w
 * and vel hold exactly that slice, [CO, KH, KW, K] (depthwise [K, KH, KW, 1]); x holds
 * XC >= K channels. One loop for both, so the fused update and the gradient-only kernel
 * sum in the same order and agree bit for bit.
 */
function weightGrads(r: WeightGradRecord, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const gy = r.gy; const OH = r.OH; const OW = r.OW; const CO = r.CO;
  const x = r.x; const H = r.H; const W = r.W; const XC = r.XC; const zx = r.zx; const sx = r.sx;
  const KH = r.KH; const KW = r.KW; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW; const depthwise = r.depthwise; const K = r.K;
  const w = r.w; const wScale = r.wScale; const vel = r.vel; const out = r.out;
  const update = out == 0;
  const coEnd = depthwise ? K : CO;
  const ciEnd = depthwise ? 1 : K;
  let coBegin = 0;
  let ciBegin = 0;
  if (ASC_FEATURE_SIMD) {
    if (depthwise) {
      if (KH == 3 && KW == 3) {
        coBegin = K & ~3;
        depthwise3x3WeightGrads(r, coBegin, lr, mu, qas, rng);
      } else if (!update) {
        coBegin = K & ~3;
        depthwiseWeightGradF32(r, coBegin);
      }
    } else if (!update) {
      ciBegin = denseWeightGradF32(r);
    }
  }
  // The scalar weight gradient / update, and the SIMD build's tails: depthwise channels
  // [K & ~3, K), dense input channels from ciBegin / `from`, the fused depthwise update of
  // windows other than 3x3 (SIMD == scalar tests cannot see a bug here:
  // kernels-reference.test.ts checks it in each build on its own against assembly/kernels/reference, f32_conv2d_wgrad__ref and qs8_conv2d_wupdate__ref).
  for (let co = coBegin; co < coEnd; co++) {
    const s = update ? load<f32>(wScale + (<usize>co << 2)) : 0;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        let from = ciBegin;
        if (ASC_FEATURE_SIMD) {
          // the fused update goes weight row by weight row (the index order of the rounding draws)
          if (update && !depthwise) from = denseWeightUpdate4(r, (co * KH + kh) * KW + kw, lr, mu, qas, rng);
        }
        for (let ci = from; ci < ciEnd; ci++) {
          const xc = depthwise ? co : ci;
          let g: f32 = 0;
          for (let oh = 0; oh < OH; oh++) {
            const ih = oh * sh - ph + kh;
            if (ih < 0 || ih >= H) continue;
            for (let ow = 0; ow < OW; ow++) {
              const iw = ow * sw - pw + kw;
              if (iw < 0 || iw >= W) continue;
              const xv = <f32>(<i32>load<i8>(x + <usize>((ih * W + iw) * XC + xc)) - zx);
              g += load<f32>(gy + (<usize>((oh * OW + ow) * CO + co) << 2)) * xv;
            }
          }
          g *= sx;
          const idx = ((co * KH + kh) * KW + kw) * ciEnd + ci;
          if (update) stepInt8At(w + <usize>idx, stepDirection(g, s, qas, velAt(vel, idx), mu), lr, rng);
          else store<f32>(out + (<usize>idx << 2), g);
        }
      }
    }
  }
}

/** Fused weight gradient + update (no gradient buffer) of the trained slice (see weightGrads; r.out is 0). */
export function conv2dWeightUpdateS8(record: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const r = changetype<WeightGradRecord>(record);
  weightGrads(r, lr, mu, qas, rng);
}

/** Weight gradient dL/dW (real units) of the first K channels into r.out, same layout as the slice. */
export function conv2dWeightGradF32(record: usize): void {
  const r = changetype<WeightGradRecord>(record);
  weightGrads(r, 0, 0, false, 0);
}

/**
 * Applies a stored weight gradient (computed for GK channels) to the trained slice of
 * the first K channels, in the same order as conv2dWeightUpdateS8 so the stochastic
 * rounding draws the same numbers (its twin for a gradient computed apart, e.g. summed
 * over a batch).
 */
export function applyWeightUpdateS8(record: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const r = changetype<ApplyWeightRecord>(record);
  const grad = r.grad; const CO = r.CO; const KH = r.KH; const KW = r.KW; const depthwise = r.depthwise;
  const w = r.w; const wScale = r.wScale; const vel = r.vel; const K = r.K;
  const coEnd = depthwise ? K : CO;
  const ciEnd = depthwise ? 1 : K;
  const gStride = depthwise ? 1 : r.GK;
  for (let co = 0; co < coEnd; co++) {
    const s = load<f32>(wScale + (<usize>co << 2));
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        for (let ci = 0; ci < ciEnd; ci++) {
          const tap = (co * KH + kh) * KW + kw;
          const g = load<f32>(grad + (<usize>(tap * gStride + ci) << 2));
          const idx = tap * ciEnd + ci;
          stepInt8At(w + <usize>idx, stepDirection(g, s, qas, velAt(vel, idx), mu), lr, rng);
        }
      }
    }
  }
}

/**
 * Sum of gy over positions, per channel: the bias gradient. Positions ascending from 0,
 * the order its SIMD twin f32_bias_grad_4x__wasmsimd (4 channels a vector) keeps. Also the
 * SIMD build's code for channels [CO & ~3, CO): kernels-reference.test.ts checks it in
 * each build on its own against assembly/kernels/reference (f32_bias_grad__ref).
 */
// @ts-ignore: decorator
@inline
function f32_bias_grad_1x__scalar(gy: usize, P: i32, CO: i32, co: i32): f32 {
  let g: f32 = 0;
  for (let p = 0; p < P; p++) g += load<f32>(gy + (<usize>(p * CO + co) << 2));
  return g;
}

/** Fused bias gradient + update of all CO channels (the bias scale is wScale * sx). */
export function biasUpdateAllS32(record: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const r = changetype<BiasUpdateRecord>(record);
  const gy = r.gy; const P = r.P; const CO = r.CO;
  const bias = r.bias; const wScale = r.wScale; const sx = r.sx; const vel = r.vel;
  let co = 0;
  if (ASC_FEATURE_SIMD) {
    for (; co + 4 <= CO; co += 4) {
      const g = f32_bias_grad_4x__wasmsimd(gy, P, CO, co);
      for (let l = 0; l < 4; l++) {
        const c = co + l;
        stepInt32At(bias + (<usize>c << 2), stepDirection(laneOf(g, l), load<f32>(wScale + (<usize>c << 2)) * sx, qas, velAt(vel, c), mu), lr, rng);
      }
    }
  }
  for (; co < CO; co++) {
    stepInt32At(bias + (<usize>co << 2), stepDirection(f32_bias_grad_1x__scalar(gy, P, CO, co), load<f32>(wScale + (<usize>co << 2)) * sx, qas, velAt(vel, co), mu), lr, rng);
  }
}

export function biasGradF32(record: usize): void {
  const r = changetype<BiasGradRecord>(record);
  const gy = r.gy; const P = r.P; const CO = r.CO; const out = r.out;
  let co = 0;
  if (ASC_FEATURE_SIMD) {
    for (; co + 4 <= CO; co += 4) v128.store(out + (<usize>co << 2), f32_bias_grad_4x__wasmsimd(gy, P, CO, co));
  }
  for (; co < CO; co++) store<f32>(out + (<usize>co << 2), f32_bias_grad_1x__scalar(gy, P, CO, co));
}

export function applyBiasUpdateS32(record: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const r = changetype<ApplyBiasRecord>(record);
  const grad = r.grad; const CO = r.CO;
  const bias = r.bias; const wScale = r.wScale; const sx = r.sx; const vel = r.vel;
  for (let co = 0; co < CO; co++) {
    const g = load<f32>(grad + (<usize>co << 2));
    stepInt32At(bias + (<usize>co << 2), stepDirection(g, load<f32>(wScale + (<usize>co << 2)) * sx, qas, velAt(vel, co), mu), lr, rng);
  }
}

/**
 * Twin of conv2dBackwardInputF32 (depthwise, stride 1, same size), kept for its memory: no
 * separate input-gradient buffer. Input gradient computed in place: `g` holds the
 * output gradient on entry and the input gradient on exit. Row ih of the result needs
 * output-gradient rows up to ih + pad (still intact below the write cursor) and down to
 * ih + pad - KH + 1 (already overwritten), so the last KH - pad original rows are kept in
 * `scratch`. Terms are summed in the order conv2dBackwardInputF32 adds them (output rows,
 * then columns, ascending), so both give the same bits.
 */
export function depthwiseBackwardInputInPlaceF32(record: usize): void {
  const r = changetype<DepthwiseInPlaceRecord>(record);
  const g = r.g; const H = r.H; const W = r.W; const C = r.C; const w = r.w; const wScale = r.wScale;
  const KH = r.KH; const KW = r.KW; const pad = r.pad; const w2 = r.w2; const split = r.split; const scratch = r.scratch;
  const R = KH - pad;
  const rowBytes = <usize>(W * C) << 2;
  let cBegin = 0;
  if (ASC_FEATURE_SIMD) {
    if (KH == 3 && KW == 3) cBegin = C & ~3;
  }
  for (let ih = 0; ih < H; ih++) {
    memory.copy(scratch + <usize>(ih % R) * rowBytes, g + <usize>ih * rowBytes, rowBytes);
    if (ASC_FEATURE_SIMD) {
      if (cBegin > 0) {
        // rows of output gradient for kh = 2, 1, 0 (0 = outside), as the scalar loop picks them
        const oh2 = ih + pad - 2; const oh1 = ih + pad - 1; const oh0 = ih + pad;
        const r2: usize = oh2 < 0 || oh2 >= H ? 0 : oh2 <= ih ? scratch + <usize>(oh2 % R) * rowBytes : g + <usize>oh2 * rowBytes;
        const r1: usize = oh1 < 0 || oh1 >= H ? 0 : oh1 <= ih ? scratch + <usize>(oh1 % R) * rowBytes : g + <usize>oh1 * rowBytes;
        const r0: usize = oh0 < 0 || oh0 >= H ? 0 : oh0 <= ih ? scratch + <usize>(oh0 % R) * rowBytes : g + <usize>oh0 * rowBytes;
        depthwise3x3InPlaceRowF32(r, ih, cBegin, r2, r1, r0);
      }
    }
    // scalar, and the SIMD build's channels [C & ~3, C): kernels-reference.test.ts checks it in each build on its own against assembly/kernels/reference (via f32_conv2d_igrad__ref)
    for (let iw = 0; iw < W; iw++) {
      for (let c = cBegin; c < C; c++) {
        const s = load<f32>(wScale + (<usize>c << 2));
        let acc: f32 = 0;
        for (let kh = KH - 1; kh >= 0; kh--) {
          const oh = ih + pad - kh;
          if (oh < 0 || oh >= H) continue;
          const row = oh <= ih ? scratch + <usize>(oh % R) * rowBytes : g + <usize>oh * rowBytes;
          for (let kw = KW - 1; kw >= 0; kw--) {
            const ow = iw + pad - kw;
            if (ow < 0 || ow >= W) continue;
            const gv = load<f32>(row + (<usize>(ow * C + c) << 2)) * s;
            if (gv != 0) acc += gv * <f32>load<i8>(weightAddrDw(w, w2, split, c, (c * KH + kh) * KW + kw, KH * KW));
          }
        }
        store<f32>(g + (<usize>((ih * W + iw) * C + c) << 2), acc);
      }
    }
  }
}

/**
 * Backward of "frozen 1x1 conv (head) -> global average pool", fused. The head's output
 * gradient at every position is the pool gradient / P, zeroed where the head's clamp
 * bits are 0; it is formed for one position at a time in `scratch` (CO floats) instead of
 * being held whole. Then, per position, the head's input gradient (gx, if non-zero) and
 * the head's bias gradient sum (bgrad, if non-zero), with the same operations in the same
 * order as avgpoolBackwardF32 + clampBackwardBitsF32 + conv2dBackwardInputF32 +
 * biasGradF32, so the results are bit-identical (a twin of that chain, kept for its memory:
 * no head output gradient tensor; sparse.ts's sparseGapHeadBackwardF32 is its pruned twin).
 */
export function gapHeadBackwardF32(record: usize): void {
  const r = changetype<GapHeadRecord>(record);
  const gpool = r.gpool; const P = r.P; const CO = r.CO; const bits = r.bits;
  const w = r.w; const wScale = r.wScale; const CI = r.CI; const w2 = r.w2; const split = r.split;
  const gx = r.gx; const accumulate = r.accumulate; const bgrad = r.bgrad; const scratch = r.scratch;
  const inv: f32 = 1.0 / <f32>P;
  if (gx != 0 && !accumulate) memory.fill(gx, 0, <usize>(P * CI) << 2);
  if (bgrad != 0) memory.fill(bgrad, 0, <usize>CO << 2);
  const first = split == 0 ? CI : split;
  for (let p = 0; p < P; p++) {
    for (let co = 0; co < CO; co++) {
      let g = load<f32>(gpool + (<usize>co << 2)) * inv;
      const i = p * CO + co;
      if (bits != 0 && ((<i32>load<u8>(bits + <usize>(i >> 3)) >> (i & 7)) & 1) == 0) g = 0;
      store<f32>(scratch + (<usize>co << 2), g);
      if (bgrad != 0) {
        const bp = bgrad + (<usize>co << 2);
        store<f32>(bp, load<f32>(bp) + g);
      }
    }
    if (gx == 0) continue;
    const gxp = gx + (<usize>(p * CI) << 2);
    if (ASC_FEATURE_SIMD) {
      pointwiseInputGradRange(gxp, scratch, r, w, first, first);
      if (first < CI) pointwiseInputGradRange(gxp + (<usize>first << 2), scratch, r, w2, CI - first, CI - first);
      continue;
    }
    for (let co = 0; co < CO; co++) {
      const g = load<f32>(scratch + (<usize>co << 2)) * load<f32>(wScale + (<usize>co << 2));
      if (g == 0) continue;
      addWeightRowF32(gxp, g, w + <usize>(co * first), w2 + <usize>(co * (CI - first)), first, CI);
    }
  }
}
