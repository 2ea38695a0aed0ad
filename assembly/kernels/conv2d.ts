// conv2d (dense and depthwise, any kernel/stride/padding) and fully connected, which is a
// 1x1 conv over a 1x1 image with C = input length. Layouts: activations HWC int8,
// weights [CO, KH, KW, CI/groups] int8, bias int32, gradients float32 HWC.

import { dotS8 } from './dot';
import { requant } from './requant';
import { denseRowsS8, depthwise3x3RowsS8 } from './conv2d-fwd-simd';
import { pointwiseInputGradRange, pointwiseInputGradPair, depthwise3x3InputGradF32, depthwise3x3InPlaceRowF32 } from './conv2d-bwd-simd';
import { denseWeightGradF32, denseWeightUpdate4, depthwiseWeightGradF32, depthwise3x3WeightGrads, biasGrad4, laneOf } from './conv2d-wgrad-simd';
import { integerGradient, withMomentum, stepInt8, stepInt32 } from './update';

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

/** int8 forward with fused requantisation and activation clamp [lo, hi]. */
export function conv2dForwardS8(
  x: usize, H: i32, W: i32, C: i32, zx: i32,
  w: usize, bias: usize, mult: usize, shift: usize,
  y: usize, OH: i32, OW: i32, CO: i32, zy: i32, lo: i32, hi: i32,
  KH: i32, KW: i32, stride: i32, pad: i32, depthwise: bool,
  w2: usize, split: i32,
): void {
  conv2dForwardRowsS8(x, H, W, C, zx, w, bias, mult, shift, y, OH, OW, CO, zy, lo, hi, KH, KW, stride, pad, depthwise, w2, split, 0, OH, 0, 0);
}

/**
 * Output rows [ohBegin, ohEnd) of the int8 forward. Input and output may be ring buffers
 * holding only `inRing` / `outRing` rows (0 = the whole tensor): row r then lives in slot
 * r % ring. That lets a chain of frozen convs stream row by row without ever holding
 * their intermediate tensors whole.
 */
export function conv2dForwardRowsS8(
  x: usize, H: i32, W: i32, C: i32, zx: i32,
  w: usize, bias: usize, mult: usize, shift: usize,
  y: usize, OH: i32, OW: i32, CO: i32, zy: i32, lo: i32, hi: i32,
  KH: i32, KW: i32, stride: i32, pad: i32, depthwise: bool,
  w2: usize, split: i32, ohBegin: i32, ohEnd: i32, inRing: i32, outRing: i32,
): void {
  let coBegin = 0;
  if (ASC_FEATURE_SIMD) {
    if (!depthwise) {
      denseRowsS8(x, H, W, C, zx, w, bias, mult, shift, y, OH, OW, CO, zy, lo, hi, KH, KW, stride, pad, w2, split, ohBegin, ohEnd, inRing, outRing);
      return;
    }
    if (KH == 3 && KW == 3) {
      coBegin = C & ~7;
      depthwise3x3RowsS8(x, H, W, C, zx, w, bias, mult, shift, y, OW, zy, lo, hi, stride, pad, w2, split, ohBegin, ohEnd, inRing, outRing, coBegin);
      if (coBegin == CO) return;
    }
  }
  forwardRowsScalar(x, H, W, C, zx, w, bias, mult, shift, y, OW, CO, zy, lo, hi, KH, KW, stride, pad, depthwise, w2, split, ohBegin, ohEnd, inRing, outRing, coBegin);
}

/** The scalar twin of the forward (all builds), for output channels [coBegin, CO). */
// @ts-ignore: decorator
@inline
function forwardRowsScalar(
  x: usize, H: i32, W: i32, C: i32, zx: i32,
  w: usize, bias: usize, mult: usize, shift: usize,
  y: usize, OW: i32, CO: i32, zy: i32, lo: i32, hi: i32,
  KH: i32, KW: i32, stride: i32, pad: i32, depthwise: bool,
  w2: usize, split: i32, ohBegin: i32, ohEnd: i32, inRing: i32, outRing: i32, coBegin: i32,
): void {
  for (let oh = ohBegin; oh < ohEnd; oh++) {
    const ySlot = outRing == 0 ? oh : oh % outRing;
    for (let ow = 0; ow < OW; ow++) {
      const yrow = y + <usize>((ySlot * OW + ow) * CO);
      for (let co = coBegin; co < CO; co++) {
        let acc = load<i32>(bias + (<usize>co << 2));
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * stride - pad + kh;
          if (ih < 0 || ih >= H) continue;
          const xSlot = inRing == 0 ? ih : ih % inRing;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * stride - pad + kw;
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
export function conv2dBackwardInputF32(
  gy: usize, OH: i32, OW: i32, CO: i32,
  w: usize, wScale: usize,
  gx: usize, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, stride: i32, pad: i32, depthwise: bool, accumulate: bool,
  w2: usize, split: i32,
): void {
  if (!accumulate) memory.fill(gx, 0, <usize>(H * W * C) << 2);
  let coBegin = 0;
  if (ASC_FEATURE_SIMD) {
    if (!depthwise && KH == 1 && KW == 1 && pad == 0) {
      // 1x1: each input pixel gets the terms of one output pixel, co ascending
      const first = split == 0 ? C : split;
      for (let oh = 0; oh < OH; oh++) {
        let ow = 0;
        for (; ow + 2 <= OW; ow += 2) {
          // pixel pairs for the 16-channel blocks, then each pixel's remaining channels
          const gya = gy + (<usize>((oh * OW + ow) * CO) << 2);
          const gyb = gya + (<usize>CO << 2);
          const gxa = gx + (<usize>(((oh * stride) * W + ow * stride) * C) << 2);
          const gxb = gxa + (<usize>(stride * C) << 2);
          const d1 = pointwiseInputGradPair(gxa, gxb, gya, gyb, wScale, CO, w, first, 0, first);
          pointwiseInputGradRange(gxa, gya, wScale, CO, w + <usize>d1, first, d1, first);
          pointwiseInputGradRange(gxb, gyb, wScale, CO, w + <usize>d1, first, d1, first);
          if (first < C) {
            const d2 = pointwiseInputGradPair(gxa, gxb, gya, gyb, wScale, CO, w2, C - first, first, C);
            pointwiseInputGradRange(gxa, gya, wScale, CO, w2 + <usize>(d2 - first), C - first, d2, C);
            pointwiseInputGradRange(gxb, gyb, wScale, CO, w2 + <usize>(d2 - first), C - first, d2, C);
          }
        }
        for (; ow < OW; ow++) {
          const gyp = gy + (<usize>((oh * OW + ow) * CO) << 2);
          const gxp = gx + (<usize>(((oh * stride) * W + ow * stride) * C) << 2);
          pointwiseInputGradRange(gxp, gyp, wScale, CO, w, first, 0, first);
          if (first < C) pointwiseInputGradRange(gxp, gyp, wScale, CO, w2, C - first, first, C);
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
            const ih = oh * stride - pad + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * stride - pad + kw;
              if (iw < 0 || iw >= W) continue;
              const gxp = gx + (<usize>((ih * W + iw) * C) << 2);
              const tap = kh * KW + kw;
              pointwiseInputGradRange(gxp, gyp, wScale, CO, w + <usize>(tap * first), taps * first, 0, first);
              if (rest > 0) pointwiseInputGradRange(gxp, gyp, wScale, CO, w2 + <usize>(tap * rest), taps * rest, first, C);
            }
          }
        }
      }
      return;
    }
    if (KH == 3 && KW == 3) {
      coBegin = C & ~3;
      depthwise3x3InputGradF32(gy, OH, OW, w, wScale, gx, H, W, C, stride, pad, w2, split, coBegin);
      if (coBegin == CO) return;
    }
  }
  for (let oh = 0; oh < OH; oh++) {
    for (let ow = 0; ow < OW; ow++) {
      for (let co = coBegin; co < CO; co++) {
        const g = load<f32>(gy + (<usize>((oh * OW + ow) * CO + co) << 2)) * load<f32>(wScale + (<usize>co << 2));
        if (g == 0) continue;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * stride - pad + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * stride - pad + kw;
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
 * d(loss)/d(w[co, kh, kw, xc]) before the input scale: sum over output positions of
 * gy * (x - zx). One function, so the fused update and the gradient-only kernel sum in the
 * same order and agree bit for bit. x has XC channels per position.
 */
// @ts-ignore: decorator
@inline
function weightGradAt(
  gy: usize, OH: i32, OW: i32, CO: i32, co: i32,
  x: usize, H: i32, W: i32, XC: i32, xc: i32, zx: i32,
  kh: i32, kw: i32, stride: i32, pad: i32,
): f32 {
  let g: f32 = 0;
  for (let oh = 0; oh < OH; oh++) {
    const ih = oh * stride - pad + kh;
    if (ih < 0 || ih >= H) continue;
    for (let ow = 0; ow < OW; ow++) {
      const iw = ow * stride - pad + kw;
      if (iw < 0 || iw >= W) continue;
      const xv = <f32>(<i32>load<i8>(x + <usize>((ih * W + iw) * XC + xc)) - zx);
      g += load<f32>(gy + (<usize>((oh * OW + ow) * CO + co) << 2)) * xv;
    }
  }
  return g;
}

/**
 * Fused weight gradient + update (no gradient buffer) of the weights that read the first
 * K input channels (depthwise: of channels 0..K-1). `w` and `vel` hold exactly that
 * slice, [CO, KH, KW, K] (depthwise [K, KH, KW, 1]); x holds XC >= K channels.
 */
export function conv2dWeightUpdateS8(
  gy: usize, OH: i32, OW: i32, CO: i32,
  x: usize, H: i32, W: i32, XC: i32, zx: i32, sx: f32,
  w: usize, wScale: usize, vel: usize,
  KH: i32, KW: i32, stride: i32, pad: i32, depthwise: bool, K: i32,
  lr: f32, mu: f32, qas: bool, rng: usize,
): void {
  const coEnd = depthwise ? K : CO;
  const ciEnd = depthwise ? 1 : K;
  let coBegin = 0;
  if (ASC_FEATURE_SIMD) {
    if (depthwise && KH == 3 && KW == 3) {
      coBegin = K & ~3;
      depthwise3x3WeightGrads(gy, OH, OW, CO, x, H, W, XC, zx, sx, stride, pad, coBegin, 0, w, wScale, vel, lr, mu, qas, rng);
    }
  }
  for (let co = coBegin; co < coEnd; co++) {
    const s = load<f32>(wScale + (<usize>co << 2));
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        let ciBegin = 0;
        if (ASC_FEATURE_SIMD) {
          if (!depthwise) ciBegin = denseWeightUpdate4(gy, OH, OW, CO, x, H, W, XC, zx, sx, w, wScale, vel, KH, KW, stride, pad, K, lr, mu, qas, rng, co, kh, kw);
        }
        for (let ci = ciBegin; ci < ciEnd; ci++) {
          const g = weightGradAt(gy, OH, OW, CO, co, x, H, W, XC, depthwise ? co : ci, zx, kh, kw, stride, pad) * sx;
          const idx = ((co * KH + kh) * KW + kw) * ciEnd + ci;
          const dir = withMomentum(integerGradient(g, s, qas), vel == 0 ? 0 : vel + (<usize>idx << 2), mu);
          const wp = w + <usize>idx;
          store<i8>(wp, <i8>stepInt8(<i32>load<i8>(wp), dir, lr, rng));
        }
      }
    }
  }
}

/** Weight gradient dL/dW (real units) of the first K channels into `out`, same layout as the slice. */
export function conv2dWeightGradF32(
  gy: usize, OH: i32, OW: i32, CO: i32,
  x: usize, H: i32, W: i32, XC: i32, zx: i32, sx: f32,
  KH: i32, KW: i32, stride: i32, pad: i32, depthwise: bool, K: i32, out: usize,
): void {
  const coEnd = depthwise ? K : CO;
  const ciEnd = depthwise ? 1 : K;
  let coBegin = 0;
  let ciBegin = 0;
  if (ASC_FEATURE_SIMD) {
    if (depthwise) {
      coBegin = K & ~3;
      if (KH == 3 && KW == 3) depthwise3x3WeightGrads(gy, OH, OW, CO, x, H, W, XC, zx, sx, stride, pad, coBegin, out, 0, 0, 0, 0, 0, false, 0);
      else depthwiseWeightGradF32(gy, OH, OW, CO, x, H, W, XC, zx, sx, KH, KW, stride, pad, coBegin, out);
    } else {
      ciBegin = denseWeightGradF32(gy, OH, OW, CO, x, H, W, XC, zx, sx, KH, KW, stride, pad, K, out);
    }
  }
  for (let co = coBegin; co < coEnd; co++) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        for (let ci = ciBegin; ci < ciEnd; ci++) {
          const g = weightGradAt(gy, OH, OW, CO, co, x, H, W, XC, depthwise ? co : ci, zx, kh, kw, stride, pad) * sx;
          store<f32>(out + (<usize>(((co * KH + kh) * KW + kw) * ciEnd + ci) << 2), g);
        }
      }
    }
  }
}

/**
 * Applies a stored weight gradient (computed for GK channels) to the trained slice of
 * the first K channels, in the same order as conv2dWeightUpdateS8 so the stochastic
 * rounding draws the same numbers.
 */
export function applyWeightUpdateS8(
  grad: usize, GK: i32, CO: i32, KH: i32, KW: i32, depthwise: bool,
  w: usize, wScale: usize, vel: usize, K: i32,
  lr: f32, mu: f32, qas: bool, rng: usize,
): void {
  const coEnd = depthwise ? K : CO;
  const ciEnd = depthwise ? 1 : K;
  const gStride = depthwise ? 1 : GK;
  for (let co = 0; co < coEnd; co++) {
    const s = load<f32>(wScale + (<usize>co << 2));
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        for (let ci = 0; ci < ciEnd; ci++) {
          const tap = (co * KH + kh) * KW + kw;
          const g = load<f32>(grad + (<usize>(tap * gStride + ci) << 2));
          const idx = tap * ciEnd + ci;
          const dir = withMomentum(integerGradient(g, s, qas), vel == 0 ? 0 : vel + (<usize>idx << 2), mu);
          const wp = w + <usize>idx;
          store<i8>(wp, <i8>stepInt8(<i32>load<i8>(wp), dir, lr, rng));
        }
      }
    }
  }
}

/** Sum of gy over positions, per channel: the bias gradient. */
// @ts-ignore: decorator
@inline
function biasGradAt(gy: usize, P: i32, CO: i32, co: i32): f32 {
  let g: f32 = 0;
  for (let p = 0; p < P; p++) g += load<f32>(gy + (<usize>(p * CO + co) << 2));
  return g;
}

/** Fused bias gradient + update of all CO channels. */
export function biasUpdateAllS32(
  gy: usize, P: i32, CO: i32, bias: usize, wScale: usize, sx: f32, vel: usize,
  lr: f32, mu: f32, qas: bool, rng: usize,
): void {
  let co = 0;
  if (ASC_FEATURE_SIMD) {
    for (; co + 4 <= CO; co += 4) {
      const g = biasGrad4(gy, P, CO, co);
      for (let l = 0; l < 4; l++) applyBiasAt(laneOf(g, l), co + l, bias, wScale, sx, vel, lr, mu, qas, rng);
    }
  }
  for (; co < CO; co++) applyBiasAt(biasGradAt(gy, P, CO, co), co, bias, wScale, sx, vel, lr, mu, qas, rng);
}

export function biasGradF32(gy: usize, P: i32, CO: i32, out: usize): void {
  let co = 0;
  if (ASC_FEATURE_SIMD) {
    for (; co + 4 <= CO; co += 4) v128.store(out + (<usize>co << 2), biasGrad4(gy, P, CO, co));
  }
  for (; co < CO; co++) store<f32>(out + (<usize>co << 2), biasGradAt(gy, P, CO, co));
}

export function applyBiasUpdateS32(
  grad: usize, CO: i32, bias: usize, wScale: usize, sx: f32, vel: usize,
  lr: f32, mu: f32, qas: bool, rng: usize,
): void {
  for (let co = 0; co < CO; co++) applyBiasAt(load<f32>(grad + (<usize>co << 2)), co, bias, wScale, sx, vel, lr, mu, qas, rng);
}

// @ts-ignore: decorator
@inline
function applyBiasAt(g: f32, co: i32, bias: usize, wScale: usize, sx: f32, vel: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const s = load<f32>(wScale + (<usize>co << 2)) * sx;
  const dir = withMomentum(integerGradient(g, s, qas), vel == 0 ? 0 : vel + (<usize>co << 2), mu);
  const bp = bias + (<usize>co << 2);
  store<i32>(bp, stepInt32(load<i32>(bp), dir, lr, rng));
}

/**
 * Input gradient of a stride-1, same-size depthwise conv computed in place: `g` holds the
 * output gradient on entry and the input gradient on exit. Row ih of the result needs
 * output-gradient rows up to ih + pad (still intact below the write cursor) and down to
 * ih + pad - KH + 1 (already overwritten), so the last KH - pad original rows are kept in
 * `scratch`. Terms are summed in the order conv2dBackwardInputF32 adds them (output rows,
 * then columns, ascending), so both give the same bits.
 */
export function depthwiseBackwardInputInPlaceF32(
  g: usize, H: i32, W: i32, C: i32, w: usize, wScale: usize,
  KH: i32, KW: i32, pad: i32, w2: usize, split: i32, scratch: usize,
): void {
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
        depthwise3x3InPlaceRowF32(g, ih, W, C, w, wScale, pad, w2, split, cBegin, r2, r1, r0);
      }
    }
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
 * biasGradF32, so the results are bit-identical.
 */
export function gapHeadBackwardF32(
  gpool: usize, P: i32, CO: i32, bits: usize,
  w: usize, wScale: usize, CI: i32, w2: usize, split: i32,
  gx: usize, accumulate: bool, bgrad: usize, scratch: usize,
): void {
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
      pointwiseInputGradRange(gxp, scratch, wScale, CO, w, first, 0, first);
      if (first < CI) pointwiseInputGradRange(gxp, scratch, wScale, CO, w2, CI - first, first, CI);
      continue;
    }
    for (let co = 0; co < CO; co++) {
      const g = load<f32>(scratch + (<usize>co << 2)) * load<f32>(wScale + (<usize>co << 2));
      if (g == 0) continue;
      addWeightRowF32(gxp, g, w + <usize>(co * first), w2 + <usize>(co * (CI - first)), first, CI);
    }
  }
}
