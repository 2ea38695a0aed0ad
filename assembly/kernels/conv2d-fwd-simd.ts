// SIMD int8 conv forward (called from conv2d.ts only inside `if (ASC_FEATURE_SIMD)`, so
// the scalar build never compiles this file). Dense tails (channels past the last block
// of 4, pixels past the last pair) are this file's own loops; depthwise 3x3 channels past
// the last block of 8 run conv2d.ts's scalar loop, which the scalar build runs too, so
// test/kernels-reference.test.ts (not SIMD == scalar) is their independent check. Integer sums are exact in any order, so
// these give the same int8 outputs as the scalar loops while blocking for registers:
//  - dense (incl. pointwise and FC): 4 output channels share every input-vector load;
//    pointwise also takes 2 pixels per weight load (a 2x4 block of 8 accumulators).
//  - depthwise 3x3: 8 channels per vector, the 9 tap weights held in registers across all
//    pixels of the call.
// Activation zero points are int8, so x - zx fits in [-255, 255] and (x - zx) * w in
// int16 (|.| <= 255 * 128 < 2^15): depthwise multiplies in i16 without overflow.

import { requant } from './requant';
import { clampZp4, rqHalf, rqScale, rqVectorOk, requant4v, storeI8x4 } from './requant-simd';
import { ConvForwardRecord } from './records';

/** [sum a0, sum a1, sum a2, sum a3]: the horizontal sums of four i32x4 accumulators. */
// @ts-ignore: decorator
@inline
export function reduce4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const t0 = i32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7));
  const t1 = i32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(t0, t1, 0, 1, 4, 5), i32x4.shuffle(t0, t1, 2, 3, 6, 7));
}

/**
 * Requantises 4 accumulators of channels co..co+3 lane by lane and stores them as int8 at
 * yp + co: the rule for shifts the vector path does not take (rqVectorOk), so it reads
 * its tables from the record.
 */
// @ts-ignore: decorator
@inline
function store4(acc: v128, yp: usize, co: i32, r: ConvForwardRecord): void {
  const m = r.mult + (<usize>co << 2);
  const n = r.shift + (<usize>co << 2);
  const zy = r.zy; const lo = r.lo; const hi = r.hi;
  const y = yp + <usize>co;
  store<i8>(y, <i8>requant(i32x4.extract_lane(acc, 0), load<i32>(m), load<i32>(n), zy, lo, hi));
  store<i8>(y, <i8>requant(i32x4.extract_lane(acc, 1), load<i32>(m, 4), load<i32>(n, 4), zy, lo, hi), 1);
  store<i8>(y, <i8>requant(i32x4.extract_lane(acc, 2), load<i32>(m, 8), load<i32>(n, 8), zy, lo, hi), 2);
  store<i8>(y, <i8>requant(i32x4.extract_lane(acc, 3), load<i32>(m, 12), load<i32>(n, 12), zy, lo, hi), 3);
}

/** sum_{i<n} (x[i] - zx) * w[i], vectorised (the single-channel remainder path). */
// @ts-ignore: decorator
@inline
function dot1(x: usize, w: usize, n: i32, zx: i32): i32 {
  const vz = i16x8.splat(<i16>zx);
  let vacc = i32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    vacc = i32x4.add(vacc, i32x4.dot_i16x8_s(i16x8.sub(v128.load8x8_s(x + <usize>i), vz), v128.load8x8_s(w + <usize>i)));
  }
  let acc = i32x4.extract_lane(vacc, 0) + i32x4.extract_lane(vacc, 1) + i32x4.extract_lane(vacc, 2) + i32x4.extract_lane(vacc, 3);
  for (; i < n; i++) acc += (<i32>load<i8>(x + <usize>i) - zx) * <i32>load<i8>(w + <usize>i);
  return acc;
}

/**
 * Accumulators (before bias) of one output pixel of a dense conv for all CO channels,
 * requantised into yp. The receptive field is walked as contiguous segments: a whole
 * kernel row (KW*C bytes of x and of each channel's weights) when it lies inside the
 * image and the weights are not split, else one segment per tap (two with a split).
 * Each segment is a 1x4 block: one x vector load feeds 4 output channels.
 */
export function densePixelS8(r: ConvForwardRecord, yp: usize, oh: i32, ow: i32): void {
  const x = r.x; const H = r.H; const W = r.W; const C = r.C; const zx = r.zx;
  const w = r.w; const bias = r.bias; const mult = r.mult; const shift = r.shift;
  const CO = r.CO; const zy = r.zy; const lo = r.lo; const hi = r.hi;
  const KH = r.KH; const KW = r.KW; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW;
  const w2 = r.w2; const split = r.split; const inRing = r.inRing;
  const vz = i16x8.splat(<i16>zx);
  const first = split == 0 ? C : split;
  const rest = C - first;
  const iw0 = ow * sw - pw;
  const fullRow = split == 0 && iw0 >= 0 && iw0 + KW <= W;
  const taps = KH * KW;
  let co = 0;
  for (; co + 4 <= CO; co += 4) {
    let a0 = i32x4.splat(0); let a1 = i32x4.splat(0); let a2 = i32x4.splat(0); let a3 = i32x4.splat(0);
    let t0 = 0; let t1 = 0; let t2 = 0; let t3 = 0;
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * sh - ph + kh;
      if (ih < 0 || ih >= H) continue;
      const xrow = x + <usize>((inRing == 0 ? ih : ih % inRing) * W * C);
      // segments: (x address, weight address of channel co, weight stride between channels, length)
      const segs = fullRow ? 1 : (rest > 0 ? 2 : 1) * KW;
      for (let s = 0; s < segs; s++) {
        let xs: usize; let ws: usize; let wStride: i32; let len: i32;
        if (fullRow) {
          xs = xrow + <usize>(iw0 * C);
          wStride = taps * C;
          ws = w + <usize>(co * wStride + kh * KW * C);
          len = KW * C;
        } else {
          const kw = rest > 0 ? s >> 1 : s;
          const iw = iw0 + kw;
          if (iw < 0 || iw >= W) continue;
          const tap = kh * KW + kw;
          if (rest > 0 && (s & 1) == 1) {
            xs = xrow + <usize>(iw * C + first);
            wStride = taps * rest;
            ws = w2 + <usize>(co * wStride + tap * rest);
            len = rest;
          } else {
            xs = xrow + <usize>(iw * C);
            wStride = taps * first;
            ws = w + <usize>(co * wStride + tap * first);
            len = first;
          }
        }
        const st = <usize>wStride;
        let i = 0;
        for (; i + 8 <= len; i += 8) {
          const xv = i16x8.sub(v128.load8x8_s(xs + <usize>i), vz);
          const wp = ws + <usize>i;
          a0 = i32x4.add(a0, i32x4.dot_i16x8_s(xv, v128.load8x8_s(wp)));
          a1 = i32x4.add(a1, i32x4.dot_i16x8_s(xv, v128.load8x8_s(wp + st)));
          a2 = i32x4.add(a2, i32x4.dot_i16x8_s(xv, v128.load8x8_s(wp + 2 * st)));
          a3 = i32x4.add(a3, i32x4.dot_i16x8_s(xv, v128.load8x8_s(wp + 3 * st)));
        }
        for (; i < len; i++) {
          const xv = <i32>load<i8>(xs + <usize>i) - zx;
          const wp = ws + <usize>i;
          t0 += xv * <i32>load<i8>(wp);
          t1 += xv * <i32>load<i8>(wp + st);
          t2 += xv * <i32>load<i8>(wp + 2 * st);
          t3 += xv * <i32>load<i8>(wp + 3 * st);
        }
      }
    }
    let acc = i32x4.add(reduce4(a0, a1, a2, a3), v128.load(bias + (<usize>co << 2)));
    acc = i32x4.add(acc, i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(t0), 1, t1), 2, t2), 3, t3));
    const nv = v128.load(shift + (<usize>co << 2));
    if (rqVectorOk(nv)) {
      const q = requant4v(acc, v128.load(mult + (<usize>co << 2)), rqHalf(nv, false), rqHalf(nv, true), rqScale(nv, false), rqScale(nv, true));
      storeI8x4(yp + <usize>co, clampZp4(q, i32x4.splat(zy), i32x4.splat(lo), i32x4.splat(hi)));
    } else {
      store4(acc, yp, co, r);
    }
  }
  for (; co < CO; co++) {
    let acc = load<i32>(bias + (<usize>co << 2));
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * sh - ph + kh;
      if (ih < 0 || ih >= H) continue;
      const xrow = x + <usize>((inRing == 0 ? ih : ih % inRing) * W * C);
      for (let kw = 0; kw < KW; kw++) {
        const iw = iw0 + kw;
        if (iw < 0 || iw >= W) continue;
        const xp = xrow + <usize>(iw * C);
        const tap = (co * KH + kh) * KW + kw;
        acc += dot1(xp, w + <usize>(tap * first), first, zx);
        if (rest > 0) acc += dot1(xp + <usize>first, w2 + <usize>(tap * rest), rest, zx);
      }
    }
    store<i8>(yp + <usize>co, <i8>requant(acc, load<i32>(mult + (<usize>co << 2)), load<i32>(shift + (<usize>co << 2)), zy, lo, hi));
  }
}

/**
 * Output rows [ohBegin, ohEnd) of a 1x1 conv (pad 0, any stride). Output-channel blocks
 * of 4 are the outer loop; within one, pixels go in pairs: a 2x4 block of 8 accumulators,
 * so each weight vector feeds 2 pixels and each input vector 4 channels. The zero point
 * is taken out of the inner loop: sum (x - zx) w = sum x w - zx sum w, exact in wrapping
 * i32 like the scalar sum. The weights of channel co are the `first` bytes at
 * w + co*first and the `C - first` bytes at w2 + co*(C - first).
 */
export function pointwiseRowsS8(r: ConvForwardRecord, ohBegin: i32, ohEnd: i32): void {
  const x = r.x; const W = r.W; const C = r.C; const zx = r.zx;
  const w = r.w; const bias = r.bias; const mult = r.mult; const shift = r.shift;
  const y = r.y; const OW = r.OW; const CO = r.CO; const zy = r.zy; const lo = r.lo; const hi = r.hi;
  const sh = r.strideH; const sw = r.strideW; const w2 = r.w2; const inRing = r.inRing; const outRing = r.outRing;
  const first = r.split == 0 ? C : r.split;
  const rest = C - first;
  const segs = rest > 0 ? 2 : 1;
  const vzy = i32x4.splat(zy); const vlo = i32x4.splat(lo); const vhi = i32x4.splat(hi);
  const pixStep = <usize>(sw * C);
  let co = 0;
  for (; co + 4 <= CO; co += 4) {
    // bias - zx * sum(w) per channel, and the block's requantisation constants
    let ws0 = 0; let ws1 = 0; let ws2 = 0; let ws3 = 0;
    for (let s = 0; s < segs; s++) {
      const len = s == 0 ? first : rest;
      const wb = s == 0 ? w + <usize>(co * first) : w2 + <usize>(co * rest);
      for (let i = 0; i < len; i++) {
        const p = wb + <usize>i;
        ws0 += <i32>load<i8>(p); ws1 += <i32>load<i8>(p + <usize>len);
        ws2 += <i32>load<i8>(p + <usize>(2 * len)); ws3 += <i32>load<i8>(p + <usize>(3 * len));
      }
    }
    const wsum = i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(ws0), 1, ws1), 2, ws2), 3, ws3);
    const base = i32x4.sub(v128.load(bias + (<usize>co << 2)), i32x4.mul(wsum, i32x4.splat(zx)));
    const mv = v128.load(mult + (<usize>co << 2));
    const nv = v128.load(shift + (<usize>co << 2));
    const vec = rqVectorOk(nv);
    const h0 = rqHalf(nv, false); const h1 = rqHalf(nv, true);
    const s0 = rqScale(nv, false); const s1 = rqScale(nv, true);
    for (let oh = ohBegin; oh < ohEnd; oh++) {
      const ih = oh * sh;
      const xrow = x + <usize>((inRing == 0 ? ih : ih % inRing) * W * C);
      const yrow = y + <usize>((outRing == 0 ? oh : oh % outRing) * OW * CO);
      let ow = 0;
      for (; ow + 2 <= OW; ow += 2) {
        const xa = xrow + <usize>ow * pixStep;
        const xb = xa + pixStep;
        let a0 = i32x4.splat(0); let a1 = i32x4.splat(0); let a2 = i32x4.splat(0); let a3 = i32x4.splat(0);
        let b0 = i32x4.splat(0); let b1 = i32x4.splat(0); let b2 = i32x4.splat(0); let b3 = i32x4.splat(0);
        let ta = i32x4.splat(0); let tb = i32x4.splat(0);
        for (let s = 0; s < segs; s++) {
          const off = <usize>(s == 0 ? 0 : first);
          const len = s == 0 ? first : rest;
          const ws = s == 0 ? w + <usize>(co * first) : w2 + <usize>(co * rest);
          const st = <usize>len;
          const pa = xa + off;
          const pb = xb + off;
          let i = 0;
          for (; i + 8 <= len; i += 8) {
            const xva = v128.load8x8_s(pa + <usize>i);
            const xvb = v128.load8x8_s(pb + <usize>i);
            const wp = ws + <usize>i;
            let wv = v128.load8x8_s(wp);
            a0 = i32x4.add(a0, i32x4.dot_i16x8_s(xva, wv)); b0 = i32x4.add(b0, i32x4.dot_i16x8_s(xvb, wv));
            wv = v128.load8x8_s(wp + st);
            a1 = i32x4.add(a1, i32x4.dot_i16x8_s(xva, wv)); b1 = i32x4.add(b1, i32x4.dot_i16x8_s(xvb, wv));
            wv = v128.load8x8_s(wp + 2 * st);
            a2 = i32x4.add(a2, i32x4.dot_i16x8_s(xva, wv)); b2 = i32x4.add(b2, i32x4.dot_i16x8_s(xvb, wv));
            wv = v128.load8x8_s(wp + 3 * st);
            a3 = i32x4.add(a3, i32x4.dot_i16x8_s(xva, wv)); b3 = i32x4.add(b3, i32x4.dot_i16x8_s(xvb, wv));
          }
          for (; i < len; i++) {
            const wv = gatherI8x4(ws + <usize>i, st);
            ta = i32x4.add(ta, i32x4.mul(wv, i32x4.splat(<i32>load<i8>(pa + <usize>i))));
            tb = i32x4.add(tb, i32x4.mul(wv, i32x4.splat(<i32>load<i8>(pb + <usize>i))));
          }
        }
        const ya = yrow + <usize>(ow * CO);
        const yb = ya + <usize>CO;
        const accA = i32x4.add(i32x4.add(reduce4(a0, a1, a2, a3), base), ta);
        const accB = i32x4.add(i32x4.add(reduce4(b0, b1, b2, b3), base), tb);
        if (vec) storeI8x4(ya + <usize>co, clampZp4(requant4v(accA, mv, h0, h1, s0, s1), vzy, vlo, vhi)); else store4(accA, ya, co, r);
        if (vec) storeI8x4(yb + <usize>co, clampZp4(requant4v(accB, mv, h0, h1, s0, s1), vzy, vlo, vhi)); else store4(accB, yb, co, r);
      }
      if (ow < OW) {
        const xa = xrow + <usize>ow * pixStep;
        let a0 = i32x4.splat(0); let a1 = i32x4.splat(0); let a2 = i32x4.splat(0); let a3 = i32x4.splat(0);
        let ta = i32x4.splat(0);
        for (let s = 0; s < segs; s++) {
          const len = s == 0 ? first : rest;
          const ws = s == 0 ? w + <usize>(co * first) : w2 + <usize>(co * rest);
          const st = <usize>len;
          const pa = xa + <usize>(s == 0 ? 0 : first);
          let i = 0;
          for (; i + 8 <= len; i += 8) {
            const xva = v128.load8x8_s(pa + <usize>i);
            const wp = ws + <usize>i;
            a0 = i32x4.add(a0, i32x4.dot_i16x8_s(xva, v128.load8x8_s(wp)));
            a1 = i32x4.add(a1, i32x4.dot_i16x8_s(xva, v128.load8x8_s(wp + st)));
            a2 = i32x4.add(a2, i32x4.dot_i16x8_s(xva, v128.load8x8_s(wp + 2 * st)));
            a3 = i32x4.add(a3, i32x4.dot_i16x8_s(xva, v128.load8x8_s(wp + 3 * st)));
          }
          for (; i < len; i++) ta = i32x4.add(ta, i32x4.mul(gatherI8x4(ws + <usize>i, st), i32x4.splat(<i32>load<i8>(pa + <usize>i))));
        }
        const ya = yrow + <usize>(ow * CO);
        const accA = i32x4.add(i32x4.add(reduce4(a0, a1, a2, a3), base), ta);
        if (vec) storeI8x4(ya + <usize>co, clampZp4(requant4v(accA, mv, h0, h1, s0, s1), vzy, vlo, vhi)); else store4(accA, ya, co, r);
      }
    }
  }
  for (; co < CO; co++) {
    const b = load<i32>(bias + (<usize>co << 2));
    const m = load<i32>(mult + (<usize>co << 2));
    const n = load<i32>(shift + (<usize>co << 2));
    for (let oh = ohBegin; oh < ohEnd; oh++) {
      const ih = oh * sh;
      const xrow = x + <usize>((inRing == 0 ? ih : ih % inRing) * W * C);
      const yrow = y + <usize>((outRing == 0 ? oh : oh % outRing) * OW * CO);
      for (let ow = 0; ow < OW; ow++) {
        const xa = xrow + <usize>ow * pixStep;
        let acc = b + dot1(xa, w + <usize>(co * first), first, zx);
        if (rest > 0) acc += dot1(xa + <usize>first, w2 + <usize>(co * rest), rest, zx);
        store<i8>(yrow + <usize>(ow * CO + co), <i8>requant(acc, m, n, zy, lo, hi));
      }
    }
  }
}

/** The int8 values at p, p + st, p + 2 st, p + 3 st as i32x4. */
// @ts-ignore: decorator
@inline
function gatherI8x4(p: usize, st: usize): v128 {
  return i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(
    i32x4.splat(<i32>load<i8>(p)), 1, <i32>load<i8>(p + st)), 2, <i32>load<i8>(p + 2 * st)), 3, <i32>load<i8>(p + 3 * st));
}

/** Output rows [ohBegin, ohEnd) of a dense conv (see conv2dForwardRowsS8 for the ring buffers). */
export function denseRowsS8(r: ConvForwardRecord, ohBegin: i32, ohEnd: i32): void {
  const W = r.W; const y = r.y; const OW = r.OW; const CO = r.CO;
  const KH = r.KH; const KW = r.KW; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW;
  const split = r.split; const outRing = r.outRing;
  // 1x1 with enough pixels to amortise the zero-point correction (not the 1-pixel FC)
  if (KH == 1 && KW == 1 && ph == 0 && pw == 0 && (ohEnd - ohBegin) * OW >= 4) {
    pointwiseRowsS8(r, ohBegin, ohEnd);
    return;
  }
  for (let oh = ohBegin; oh < ohEnd; oh++) {
    const yrow = y + <usize>((outRing == 0 ? oh : oh % outRing) * OW * CO);
    let ow = 0;
    while (ow < OW) {
      const iw0 = ow * sw - pw;
      if (split == 0 && ow + 1 < OW && iw0 >= 0 && iw0 + sw + KW <= W) {
        // two neighbours whose windows lie inside the image rows: share the weight loads
        densePairS8(r, yrow + <usize>(ow * CO), oh, iw0);
        ow += 2;
      } else {
        densePixelS8(r, yrow + <usize>(ow * CO), oh, ow);
        ow++;
      }
    }
  }
}

/**
 * Two horizontally adjacent output pixels (outputs at yp and yp + CO) of a dense conv
 * without a weight split, both windows inside the image columns: per kernel row one
 * contiguous KW*C segment for each, a 2x4 block (each weight vector feeds both pixels).
 */
function densePairS8(r: ConvForwardRecord, yp: usize, oh: i32, iw0: i32): void {
  const x = r.x; const H = r.H; const W = r.W; const C = r.C; const zx = r.zx;
  const w = r.w; const bias = r.bias; const mult = r.mult; const shift = r.shift;
  const CO = r.CO; const zy = r.zy; const lo = r.lo; const hi = r.hi;
  const KH = r.KH; const KW = r.KW; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW; const inRing = r.inRing;
  const vz = i16x8.splat(<i16>zx);
  const vzy = i32x4.splat(zy); const vlo = i32x4.splat(lo); const vhi = i32x4.splat(hi);
  const len = KW * C;
  const st = <usize>(KH * len);
  const xStep = <usize>(sw * C);
  let co = 0;
  for (; co + 4 <= CO; co += 4) {
    let a0 = i32x4.splat(0); let a1 = i32x4.splat(0); let a2 = i32x4.splat(0); let a3 = i32x4.splat(0);
    let b0 = i32x4.splat(0); let b1 = i32x4.splat(0); let b2 = i32x4.splat(0); let b3 = i32x4.splat(0);
    let ta = i32x4.splat(0); let tb = i32x4.splat(0);
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * sh - ph + kh;
      if (ih < 0 || ih >= H) continue;
      const pa = x + <usize>(((inRing == 0 ? ih : ih % inRing) * W + iw0) * C);
      const pb = pa + xStep;
      const ws = w + <usize>(co * KH * len + kh * len);
      let i = 0;
      for (; i + 8 <= len; i += 8) {
        const xva = i16x8.sub(v128.load8x8_s(pa + <usize>i), vz);
        const xvb = i16x8.sub(v128.load8x8_s(pb + <usize>i), vz);
        const wp = ws + <usize>i;
        let wv = v128.load8x8_s(wp);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(xva, wv)); b0 = i32x4.add(b0, i32x4.dot_i16x8_s(xvb, wv));
        wv = v128.load8x8_s(wp + st);
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(xva, wv)); b1 = i32x4.add(b1, i32x4.dot_i16x8_s(xvb, wv));
        wv = v128.load8x8_s(wp + 2 * st);
        a2 = i32x4.add(a2, i32x4.dot_i16x8_s(xva, wv)); b2 = i32x4.add(b2, i32x4.dot_i16x8_s(xvb, wv));
        wv = v128.load8x8_s(wp + 3 * st);
        a3 = i32x4.add(a3, i32x4.dot_i16x8_s(xva, wv)); b3 = i32x4.add(b3, i32x4.dot_i16x8_s(xvb, wv));
      }
      for (; i < len; i++) {
        const wv = gatherI8x4(ws + <usize>i, st);
        ta = i32x4.add(ta, i32x4.mul(wv, i32x4.splat(<i32>load<i8>(pa + <usize>i) - zx)));
        tb = i32x4.add(tb, i32x4.mul(wv, i32x4.splat(<i32>load<i8>(pb + <usize>i) - zx)));
      }
    }
    const bv = v128.load(bias + (<usize>co << 2));
    const mv = v128.load(mult + (<usize>co << 2));
    const nv = v128.load(shift + (<usize>co << 2));
    const vec = rqVectorOk(nv);
    const h0 = rqHalf(nv, false); const h1 = rqHalf(nv, true); const s0 = rqScale(nv, false); const s1 = rqScale(nv, true);
    const yb = yp + <usize>CO;
    const accA = i32x4.add(i32x4.add(reduce4(a0, a1, a2, a3), bv), ta);
    const accB = i32x4.add(i32x4.add(reduce4(b0, b1, b2, b3), bv), tb);
    if (vec) storeI8x4(yp + <usize>co, clampZp4(requant4v(accA, mv, h0, h1, s0, s1), vzy, vlo, vhi)); else store4(accA, yp, co, r);
    if (vec) storeI8x4(yb + <usize>co, clampZp4(requant4v(accB, mv, h0, h1, s0, s1), vzy, vlo, vhi)); else store4(accB, yb, co, r);
  }
  for (; co < CO; co++) {
    let aa = load<i32>(bias + (<usize>co << 2));
    let ab = aa;
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * sh - ph + kh;
      if (ih < 0 || ih >= H) continue;
      const pa = x + <usize>(((inRing == 0 ? ih : ih % inRing) * W + iw0) * C);
      const ws = w + <usize>(co * KH * len + kh * len);
      aa += dot1(pa, ws, len, zx);
      ab += dot1(pa + xStep, ws, len, zx);
    }
    const m = load<i32>(mult + (<usize>co << 2));
    const n = load<i32>(shift + (<usize>co << 2));
    store<i8>(yp + <usize>co, <i8>requant(aa, m, n, zy, lo, hi));
    store<i8>(yp + <usize>(CO + co), <i8>requant(ab, m, n, zy, lo, hi));
  }
}

/** (x - zx) * w of one tap for 8 channels as i16 (exact, see the file comment); 0 outside the image. */
// @ts-ignore: decorator
@inline
function dwTap(inside: bool, xp: usize, wv: v128, vz: v128): v128 {
  return inside ? i16x8.mul(i16x8.sub(v128.load8x8_s(xp), vz), wv) : i16x8.splat(0);
}

/** Channels 0-3 of two taps interleaved (a0 b0 a1 b1 ...), so dot_i16x8_s sums the two taps per channel. */
// @ts-ignore: decorator
@inline
function pairLo(a: v128, b: v128): v128 { return i16x8.shuffle(a, b, 0, 8, 1, 9, 2, 10, 3, 11); }

/** Channels 4-7 of two taps interleaved. */
// @ts-ignore: decorator
@inline
function pairHi(a: v128, b: v128): v128 { return i16x8.shuffle(a, b, 4, 12, 5, 13, 6, 14, 7, 15); }

/** Weights of tap `tap` for channels c..c+7 (depthwise layout [C,3,3], split like weightAddrDw). */
// @ts-ignore: decorator
@inline
function dwWeights(w: usize, w2: usize, split: i32, c: i32, tap: i32): v128 {
  let v = i16x8.splat(0);
  v = i16x8.replace_lane(v, 0, <i16>load<i8>(dwAddr(w, w2, split, c, tap)));
  v = i16x8.replace_lane(v, 1, <i16>load<i8>(dwAddr(w, w2, split, c + 1, tap)));
  v = i16x8.replace_lane(v, 2, <i16>load<i8>(dwAddr(w, w2, split, c + 2, tap)));
  v = i16x8.replace_lane(v, 3, <i16>load<i8>(dwAddr(w, w2, split, c + 3, tap)));
  v = i16x8.replace_lane(v, 4, <i16>load<i8>(dwAddr(w, w2, split, c + 4, tap)));
  v = i16x8.replace_lane(v, 5, <i16>load<i8>(dwAddr(w, w2, split, c + 5, tap)));
  v = i16x8.replace_lane(v, 6, <i16>load<i8>(dwAddr(w, w2, split, c + 6, tap)));
  v = i16x8.replace_lane(v, 7, <i16>load<i8>(dwAddr(w, w2, split, c + 7, tap)));
  return v;
}

// @ts-ignore: decorator
@inline
function dwAddr(w: usize, w2: usize, split: i32, c: i32, tap: i32): usize {
  return split == 0 || c < split ? w + <usize>(c * 9 + tap) : w2 + <usize>((c - split) * 9 + tap);
}

/**
 * Depthwise 3x3 forward of channels [0, C8) (C8 a multiple of 8) for output rows
 * [ohBegin, ohEnd); the caller does the remaining channels. Channel blocks are the outer
 * loop so each block's 9 weight vectors are gathered once and stay in registers.
 */
export function depthwise3x3RowsS8(r: ConvForwardRecord, ohBegin: i32, ohEnd: i32, C8: i32): void {
  const x = r.x; const H = r.H; const W = r.W; const C = r.C; const zx = r.zx;
  const w = r.w; const bias = r.bias; const mult = r.mult; const shift = r.shift;
  const y = r.y; const OW = r.OW; const zy = r.zy; const lo = r.lo; const hi = r.hi;
  const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW; const w2 = r.w2; const split = r.split; const inRing = r.inRing; const outRing = r.outRing;
  const vz = i16x8.splat(<i16>zx);
  const vzy = i32x4.splat(zy); const vlo = i32x4.splat(lo); const vhi = i32x4.splat(hi);
  const rowBytes = W * C;
  for (let c = 0; c < C8; c += 8) {
    const k0 = dwWeights(w, w2, split, c, 0); const k1 = dwWeights(w, w2, split, c, 1); const k2 = dwWeights(w, w2, split, c, 2);
    const k3 = dwWeights(w, w2, split, c, 3); const k4 = dwWeights(w, w2, split, c, 4); const k5 = dwWeights(w, w2, split, c, 5);
    const k6 = dwWeights(w, w2, split, c, 6); const k7 = dwWeights(w, w2, split, c, 7); const k8 = dwWeights(w, w2, split, c, 8);
    const p01l = pairLo(k0, k1); const p01h = pairHi(k0, k1); const p23l = pairLo(k2, k3); const p23h = pairHi(k2, k3);
    const p45l = pairLo(k4, k5); const p45h = pairHi(k4, k5); const p67l = pairLo(k6, k7); const p67h = pairHi(k6, k7);
    const b0 = v128.load(bias + (<usize>c << 2));
    const b1 = v128.load(bias + (<usize>c << 2), 16);
    const mA = v128.load(mult + (<usize>c << 2)); const mB = v128.load(mult + (<usize>c << 2), 16);
    const nA = v128.load(shift + (<usize>c << 2)); const nB = v128.load(shift + (<usize>c << 2), 16);
    const vec = rqVectorOk(nA) && rqVectorOk(nB);
    const hA0 = rqHalf(nA, false); const hA1 = rqHalf(nA, true); const sA0 = rqScale(nA, false); const sA1 = rqScale(nA, true);
    const hB0 = rqHalf(nB, false); const hB1 = rqHalf(nB, true); const sB0 = rqScale(nB, false); const sB1 = rqScale(nB, true);
    for (let oh = ohBegin; oh < ohEnd; oh++) {
      const ih = oh * sh - ph;
      const r0 = ih >= 0 && ih < H; const r1 = ih + 1 >= 0 && ih + 1 < H; const r2 = ih + 2 >= 0 && ih + 2 < H;
      // row and column offsets point at valid data even for taps outside the image, so a
      // speculated load can never leave memory
      const x0 = x + <usize>((r0 ? (inRing == 0 ? ih : ih % inRing) : <i32>0) * rowBytes + c);
      const x1 = x + <usize>((r1 ? (inRing == 0 ? ih + 1 : (ih + 1) % inRing) : <i32>0) * rowBytes + c);
      const x2 = x + <usize>((r2 ? (inRing == 0 ? ih + 2 : (ih + 2) % inRing) : <i32>0) * rowBytes + c);
      const yrow = y + <usize>((outRing == 0 ? oh : oh % outRing) * OW * C);
      // output columns whose 3x3 window lies inside the image (when its rows do)
      const owA = r0 && r1 && r2 ? (pw + sw - 1) / sw : OW;
      const owB = r0 && r1 && r2 ? min(OW, (W - 3 + pw) / sw + 1) : 0;
      const cStep = <usize>C;
      for (let ow = 0; ow < OW; ow++) {
        const iw = ow * sw - pw;
        let lo4 = b0; let hi4 = b1;
        if (ow >= owA && ow < owB) {
          // interior: no bounds checks; taps in pairs (0,1) (2,3) (4,5) (6,7) interleaved per
          // channel so one dot_i16x8_s adds two taps for 4 channels; tap 8 by a 16-bit multiply
          const o = <usize>(iw * C);
          const a0 = x0 + o; const a1 = x1 + o; const a2 = x2 + o;
          let xa = i16x8.sub(v128.load8x8_s(a0), vz); let xb = i16x8.sub(v128.load8x8_s(a0 + cStep), vz);
          lo4 = i32x4.add(lo4, i32x4.dot_i16x8_s(pairLo(xa, xb), p01l)); hi4 = i32x4.add(hi4, i32x4.dot_i16x8_s(pairHi(xa, xb), p01h));
          xa = i16x8.sub(v128.load8x8_s(a0 + 2 * cStep), vz); xb = i16x8.sub(v128.load8x8_s(a1), vz);
          lo4 = i32x4.add(lo4, i32x4.dot_i16x8_s(pairLo(xa, xb), p23l)); hi4 = i32x4.add(hi4, i32x4.dot_i16x8_s(pairHi(xa, xb), p23h));
          xa = i16x8.sub(v128.load8x8_s(a1 + cStep), vz); xb = i16x8.sub(v128.load8x8_s(a1 + 2 * cStep), vz);
          lo4 = i32x4.add(lo4, i32x4.dot_i16x8_s(pairLo(xa, xb), p45l)); hi4 = i32x4.add(hi4, i32x4.dot_i16x8_s(pairHi(xa, xb), p45h));
          xa = i16x8.sub(v128.load8x8_s(a2), vz); xb = i16x8.sub(v128.load8x8_s(a2 + cStep), vz);
          lo4 = i32x4.add(lo4, i32x4.dot_i16x8_s(pairLo(xa, xb), p67l)); hi4 = i32x4.add(hi4, i32x4.dot_i16x8_s(pairHi(xa, xb), p67h));
          const p8 = i16x8.mul(i16x8.sub(v128.load8x8_s(a2 + 2 * cStep), vz), k8);
          lo4 = i32x4.add(lo4, i32x4.extend_low_i16x8_s(p8)); hi4 = i32x4.add(hi4, i32x4.extend_high_i16x8_s(p8));
        } else {
        const c0 = iw >= 0 && iw < W; const c1 = iw + 1 >= 0 && iw + 1 < W; const c2 = iw + 2 >= 0 && iw + 2 < W;
        const o0 = <usize>(c0 ? iw * C : <i32>0); const o1 = <usize>(c1 ? (iw + 1) * C : <i32>0); const o2 = <usize>(c2 ? (iw + 2) * C : <i32>0);
        let p = dwTap(r0 && c0, x0 + o0, k0, vz); lo4 = i32x4.add(lo4, i32x4.extend_low_i16x8_s(p)); hi4 = i32x4.add(hi4, i32x4.extend_high_i16x8_s(p));
        p = dwTap(r0 && c1, x0 + o1, k1, vz); lo4 = i32x4.add(lo4, i32x4.extend_low_i16x8_s(p)); hi4 = i32x4.add(hi4, i32x4.extend_high_i16x8_s(p));
        p = dwTap(r0 && c2, x0 + o2, k2, vz); lo4 = i32x4.add(lo4, i32x4.extend_low_i16x8_s(p)); hi4 = i32x4.add(hi4, i32x4.extend_high_i16x8_s(p));
        p = dwTap(r1 && c0, x1 + o0, k3, vz); lo4 = i32x4.add(lo4, i32x4.extend_low_i16x8_s(p)); hi4 = i32x4.add(hi4, i32x4.extend_high_i16x8_s(p));
        p = dwTap(r1 && c1, x1 + o1, k4, vz); lo4 = i32x4.add(lo4, i32x4.extend_low_i16x8_s(p)); hi4 = i32x4.add(hi4, i32x4.extend_high_i16x8_s(p));
        p = dwTap(r1 && c2, x1 + o2, k5, vz); lo4 = i32x4.add(lo4, i32x4.extend_low_i16x8_s(p)); hi4 = i32x4.add(hi4, i32x4.extend_high_i16x8_s(p));
        p = dwTap(r2 && c0, x2 + o0, k6, vz); lo4 = i32x4.add(lo4, i32x4.extend_low_i16x8_s(p)); hi4 = i32x4.add(hi4, i32x4.extend_high_i16x8_s(p));
        p = dwTap(r2 && c1, x2 + o1, k7, vz); lo4 = i32x4.add(lo4, i32x4.extend_low_i16x8_s(p)); hi4 = i32x4.add(hi4, i32x4.extend_high_i16x8_s(p));
        p = dwTap(r2 && c2, x2 + o2, k8, vz); lo4 = i32x4.add(lo4, i32x4.extend_low_i16x8_s(p)); hi4 = i32x4.add(hi4, i32x4.extend_high_i16x8_s(p));
        }
        const yp = yrow + <usize>(ow * C);
        if (vec) {
          const qa = clampZp4(requant4v(lo4, mA, hA0, hA1, sA0, sA1), vzy, vlo, vhi);
          const qb = clampZp4(requant4v(hi4, mB, hB0, hB1, sB0, sB1), vzy, vlo, vhi);
          const n16 = i16x8.narrow_i32x4_s(qa, qb);
          v128.store64_lane(yp + <usize>c, i8x16.narrow_i16x8_s(n16, n16), 0);
        } else {
          store4(lo4, yp, c, r);
          store4(hi4, yp, c + 4, r);
        }
      }
    }
  }
}
