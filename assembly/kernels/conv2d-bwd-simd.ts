// SIMD float32 conv backward (called from conv2d.ts only inside `if (ASC_FEATURE_SIMD)`).
// Dense tails (input channels past the last block of 16 / 4) are this file's own loops;
// depthwise 3x3 channels past the last block of 4 run conv2d.ts's scalar loop, which the
// scalar build runs too: test/kernels-reference.test.ts is their independent check.
// Bit-identical to the scalar loops: every output element is still one float sum taken in
// the scalar order (the same operands, the same sequence of f32 multiplies and adds, no
// FMA); the lanes are different, independent elements (input channels of an input
// gradient, channels of a depthwise layer, input channels of a weight gradient). Where the
// scalar code skips a zero gradient term, lanes keep their old value through a select.

import { ConvInputGradRecord, DepthwiseInPlaceRecord, WeightScales } from './records';

/** 4 int8 weights at p as f32x4. */
// @ts-ignore: decorator
@inline
export function i8x4ToF32(p: usize): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p))));
}

/** Lane-wise a + g * w, kept as a where g == 0 (the scalar code skips those terms). */
// @ts-ignore: decorator
@inline
function addUnlessZero(a: v128, g: v128, w: v128): v128 {
  return v128.bitselect(f32x4.add(a, f32x4.mul(g, w)), a, f32x4.ne(g, f32x4.splat(0)));
}

/**
 * gx[i] += g_co * w[co, i] for the n input channels i of one input pixel from gxp on, co
 * ascending, of a 1x1 conv: g_co = gyp[co] * wScale[co] (terms with g_co == 0 skipped, as
 * in the scalar loop); w of (co, i) at wBase + co*wStride + i. 16 input channels stay in
 * registers across all output channels. `s`: the layer's scales and CO (any record that
 * starts with them).
 */
export function pointwiseInputGradRange(gxp: usize, gyp: usize, s: WeightScales, wBase: usize, wStride: i32, n: i32): void {
  const wScale = s.wScale; const CO = s.CO;
  let ci = 0;
  for (; ci + 16 <= n; ci += 16) {
    const p = gxp + (<usize>ci << 2);
    let a0 = v128.load(p); let a1 = v128.load(p, 16); let a2 = v128.load(p, 32); let a3 = v128.load(p, 48);
    const wc = wBase + <usize>ci;
    for (let co = 0; co < CO; co++) {
      const g = load<f32>(gyp + (<usize>co << 2)) * load<f32>(wScale + (<usize>co << 2));
      if (g == 0) continue;
      const gv = f32x4.splat(g);
      const wb = v128.load(wc + <usize>(co * wStride));
      const wl = i16x8.extend_low_i8x16_s(wb);
      const wh = i16x8.extend_high_i8x16_s(wb);
      a0 = f32x4.add(a0, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(wl))));
      a1 = f32x4.add(a1, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(wl))));
      a2 = f32x4.add(a2, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(wh))));
      a3 = f32x4.add(a3, f32x4.mul(gv, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(wh))));
    }
    v128.store(p, a0); v128.store(p, a1, 16); v128.store(p, a2, 32); v128.store(p, a3, 48);
  }
  for (; ci + 4 <= n; ci += 4) {
    const p = gxp + (<usize>ci << 2);
    let a = v128.load(p);
    const wc = wBase + <usize>ci;
    for (let co = 0; co < CO; co++) {
      const g = load<f32>(gyp + (<usize>co << 2)) * load<f32>(wScale + (<usize>co << 2));
      if (g == 0) continue;
      a = f32x4.add(a, f32x4.mul(f32x4.splat(g), i8x4ToF32(wc + <usize>(co * wStride))));
    }
    v128.store(p, a);
  }
  for (; ci < n; ci++) {
    const p = gxp + (<usize>ci << 2);
    let a = load<f32>(p);
    const wc = wBase + <usize>ci;
    for (let co = 0; co < CO; co++) {
      const g = load<f32>(gyp + (<usize>co << 2)) * load<f32>(wScale + (<usize>co << 2));
      if (g == 0) continue;
      a += g * <f32>load<i8>(wc + <usize>(co * wStride));
    }
    store<f32>(p, a);
  }
}

/** Depthwise 3x3 weights of tap `tap` for channels c..c+3 as f32x4 (split like weightAddrDw). */
// @ts-ignore: decorator
@inline
function dwWeightsF32(w: usize, w2: usize, split: i32, c: i32, tap: i32): v128 {
  let v = f32x4.splat(<f32>load<i8>(dwAddr(w, w2, split, c, tap)));
  v = f32x4.replace_lane(v, 1, <f32>load<i8>(dwAddr(w, w2, split, c + 1, tap)));
  v = f32x4.replace_lane(v, 2, <f32>load<i8>(dwAddr(w, w2, split, c + 2, tap)));
  v = f32x4.replace_lane(v, 3, <f32>load<i8>(dwAddr(w, w2, split, c + 3, tap)));
  return v;
}

// @ts-ignore: decorator
@inline
function dwAddr(w: usize, w2: usize, split: i32, c: i32, tap: i32): usize {
  return split == 0 || c < split ? w + <usize>(c * 9 + tap) : w2 + <usize>((c - split) * 9 + tap);
}

/** dwScatter of a tap known to be inside the image. */
// @ts-ignore: decorator
@inline
function dwScatterAll(p: usize, gv: v128, wv: v128): void {
  v128.store(p, addUnlessZero(v128.load(p), gv, wv));
}

/** One tap of the depthwise input gradient: gx[p] += g * w per lane, skipping g == 0. */
// @ts-ignore: decorator
@inline
function dwScatter(inside: bool, p: usize, gv: v128, wv: v128): void {
  if (inside) v128.store(p, addUnlessZero(v128.load(p), gv, wv));
}

/**
 * Depthwise 3x3 input gradient (conv2dBackwardInputF32) of channels [0, C4), C4 a multiple
 * of 4. Channel blocks are the outer loop (their 9 weight vectors stay in registers);
 * each element still receives its terms in ascending output position, as in the scalar loop.
 */
export function depthwise3x3InputGradF32(r: ConvInputGradRecord, C4: i32): void {
  const gy = r.gy; const OH = r.OH; const OW = r.OW; const w = r.w; const wScale = r.wScale;
  const gx = r.gx; const H = r.H; const W = r.W; const C = r.C; const sh = r.strideH; const sw = r.strideW; const ph = r.padH; const pw = r.padW;
  const w2 = r.w2; const split = r.split;
  for (let c = 0; c < C4; c += 4) {
    const k0 = dwWeightsF32(w, w2, split, c, 0); const k1 = dwWeightsF32(w, w2, split, c, 1); const k2 = dwWeightsF32(w, w2, split, c, 2);
    const k3 = dwWeightsF32(w, w2, split, c, 3); const k4 = dwWeightsF32(w, w2, split, c, 4); const k5 = dwWeightsF32(w, w2, split, c, 5);
    const k6 = dwWeightsF32(w, w2, split, c, 6); const k7 = dwWeightsF32(w, w2, split, c, 7); const k8 = dwWeightsF32(w, w2, split, c, 8);
    const sv = v128.load(wScale + (<usize>c << 2));
    for (let oh = 0; oh < OH; oh++) {
      const ih = oh * sh - ph;
      const r0 = ih >= 0 && ih < H; const r1 = ih + 1 >= 0 && ih + 1 < H; const r2 = ih + 2 >= 0 && ih + 2 < H;
      const g0 = gx + (<usize>(ih * W * C + c) << 2);
      const g1 = g0 + (<usize>(W * C) << 2);
      const g2 = g1 + (<usize>(W * C) << 2);
      for (let ow = 0; ow < OW; ow++) {
        const gv = f32x4.mul(v128.load(gy + (<usize>((oh * OW + ow) * C + c) << 2)), sv);
        const iw = ow * sw - pw;
        const c0 = iw >= 0 && iw < W; const c1 = iw + 1 >= 0 && iw + 1 < W; const c2 = iw + 2 >= 0 && iw + 2 < W;
        const o0 = <usize>(iw * C) << 2; const o1 = <usize>((iw + 1) * C) << 2; const o2 = <usize>((iw + 2) * C) << 2;
        if (r0 && r1 && r2 && c0 && c1 && c2) {
          // interior: all 9 taps, no branches
          dwScatterAll(g0 + o0, gv, k0); dwScatterAll(g0 + o1, gv, k1); dwScatterAll(g0 + o2, gv, k2);
          dwScatterAll(g1 + o0, gv, k3); dwScatterAll(g1 + o1, gv, k4); dwScatterAll(g1 + o2, gv, k5);
          dwScatterAll(g2 + o0, gv, k6); dwScatterAll(g2 + o1, gv, k7); dwScatterAll(g2 + o2, gv, k8);
          continue;
        }
        dwScatter(r0 && c0, g0 + o0, gv, k0); dwScatter(r0 && c1, g0 + o1, gv, k1); dwScatter(r0 && c2, g0 + o2, gv, k2);
        dwScatter(r1 && c0, g1 + o0, gv, k3); dwScatter(r1 && c1, g1 + o1, gv, k4); dwScatter(r1 && c2, g1 + o2, gv, k5);
        dwScatter(r2 && c0, g2 + o0, gv, k6); dwScatter(r2 && c1, g2 + o1, gv, k7); dwScatter(r2 && c2, g2 + o2, gv, k8);
      }
    }
  }
}

/** One tap of the in-place depthwise gradient: acc += (g * s) * w per lane, skipping zero terms. */
// @ts-ignore: decorator
@inline
function dwGather(inside: bool, acc: v128, p: usize, sv: v128, wv: v128): v128 {
  return inside ? addUnlessZero(acc, f32x4.mul(v128.load(p), sv), wv) : acc;
}

/**
 * Row ih of depthwiseBackwardInputInPlaceF32 for 3x3 kernels and channels [0, C4): the
 * same terms in the same order (kh, kw descending) per element, 4 channels per vector.
 * `rowAt(oh)` of the scalar code is passed as the three row addresses (0 = outside).
 */
export function depthwise3x3InPlaceRowF32(r: DepthwiseInPlaceRecord, ih: i32, C4: i32, rowKh2: usize, rowKh1: usize, rowKh0: usize): void {
  const g = r.g; const W = r.W; const C = r.C; const w = r.w; const wScale = r.wScale;
  const pad = r.pad; const w2 = r.w2; const split = r.split;
  const q2 = rowKh2 != 0; const q1 = rowKh1 != 0; const q0 = rowKh0 != 0;
  const out = g + (<usize>(ih * W * C) << 2);
  for (let c = 0; c < C4; c += 4) {
    const k0 = dwWeightsF32(w, w2, split, c, 0); const k1 = dwWeightsF32(w, w2, split, c, 1); const k2 = dwWeightsF32(w, w2, split, c, 2);
    const k3 = dwWeightsF32(w, w2, split, c, 3); const k4 = dwWeightsF32(w, w2, split, c, 4); const k5 = dwWeightsF32(w, w2, split, c, 5);
    const k6 = dwWeightsF32(w, w2, split, c, 6); const k7 = dwWeightsF32(w, w2, split, c, 7); const k8 = dwWeightsF32(w, w2, split, c, 8);
    const sv = v128.load(wScale + (<usize>c << 2));
    const cb = <usize>c << 2;
    for (let iw = 0; iw < W; iw++) {
      // ow = iw + pad - kw for kw = 2, 1, 0
      const ow2 = iw + pad - 2; const ow1 = iw + pad - 1; const ow0 = iw + pad;
      const v2 = ow2 >= 0 && ow2 < W; const v1 = ow1 >= 0 && ow1 < W; const v0 = ow0 >= 0 && ow0 < W;
      const o2 = (<usize>(ow2 * C) << 2) + cb; const o1 = (<usize>(ow1 * C) << 2) + cb; const o0 = (<usize>(ow0 * C) << 2) + cb;
      let acc = f32x4.splat(0);
      if (q2 && q1 && q0 && v2 && v1 && v0) {
        // interior: all 9 taps, no branches
        acc = addUnlessZero(acc, f32x4.mul(v128.load(rowKh2 + o2), sv), k8); acc = addUnlessZero(acc, f32x4.mul(v128.load(rowKh2 + o1), sv), k7);
        acc = addUnlessZero(acc, f32x4.mul(v128.load(rowKh2 + o0), sv), k6); acc = addUnlessZero(acc, f32x4.mul(v128.load(rowKh1 + o2), sv), k5);
        acc = addUnlessZero(acc, f32x4.mul(v128.load(rowKh1 + o1), sv), k4); acc = addUnlessZero(acc, f32x4.mul(v128.load(rowKh1 + o0), sv), k3);
        acc = addUnlessZero(acc, f32x4.mul(v128.load(rowKh0 + o2), sv), k2); acc = addUnlessZero(acc, f32x4.mul(v128.load(rowKh0 + o1), sv), k1);
        acc = addUnlessZero(acc, f32x4.mul(v128.load(rowKh0 + o0), sv), k0);
        v128.store(out + (<usize>(iw * C) << 2) + cb, acc);
        continue;
      }
      acc = dwGather(q2 && v2, acc, rowKh2 + o2, sv, k8); acc = dwGather(q2 && v1, acc, rowKh2 + o1, sv, k7); acc = dwGather(q2 && v0, acc, rowKh2 + o0, sv, k6);
      acc = dwGather(q1 && v2, acc, rowKh1 + o2, sv, k5); acc = dwGather(q1 && v1, acc, rowKh1 + o1, sv, k4); acc = dwGather(q1 && v0, acc, rowKh1 + o0, sv, k3);
      acc = dwGather(q0 && v2, acc, rowKh0 + o2, sv, k2); acc = dwGather(q0 && v1, acc, rowKh0 + o1, sv, k1); acc = dwGather(q0 && v0, acc, rowKh0 + o0, sv, k0);
      v128.store(out + (<usize>(iw * C) << 2) + cb, acc);
    }
  }
}

/**
 * pointwiseInputGradRange (wStride = n) for two neighbouring input pixels of a 1x1 conv at
 * once, in blocks of 16 channels: gx at gxa and the next pixel along the row (gxa + stride
 * * C floats), their output gradients at gya and gya + CO floats. Each converted weight
 * vector feeds both pixels; a pixel whose g_co is 0 skips that term, exactly as the
 * single-pixel loop does. Returns the channels done (a multiple of 16).
 */
export function pointwiseInputGradPair(r: ConvInputGradRecord, gxa: usize, gya: usize, wBase: usize, n: i32): i32 {
  const wScale = r.wScale; const CO = r.CO; const wStride = n;
  const gxb = gxa + (<usize>(r.strideW * r.C) << 2);
  const gyb = gya + (<usize>CO << 2);
  let ci = 0;
  for (; ci + 16 <= n; ci += 16) {
    const pa = gxa + (<usize>ci << 2);
    const pb = gxb + (<usize>ci << 2);
    let a0 = v128.load(pa); let a1 = v128.load(pa, 16); let a2 = v128.load(pa, 32); let a3 = v128.load(pa, 48);
    let b0 = v128.load(pb); let b1 = v128.load(pb, 16); let b2 = v128.load(pb, 32); let b3 = v128.load(pb, 48);
    const wc = wBase + <usize>ci;
    for (let co = 0; co < CO; co++) {
      const s = load<f32>(wScale + (<usize>co << 2));
      const ga = load<f32>(gya + (<usize>co << 2)) * s;
      const gb = load<f32>(gyb + (<usize>co << 2)) * s;
      if (ga == 0 && gb == 0) continue;
      const wb = v128.load(wc + <usize>(co * wStride));
      const wl = i16x8.extend_low_i8x16_s(wb);
      const wh = i16x8.extend_high_i8x16_s(wb);
      const w0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(wl));
      const w1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(wl));
      const w2 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(wh));
      const w3 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(wh));
      if (ga != 0) {
        const gv = f32x4.splat(ga);
        a0 = f32x4.add(a0, f32x4.mul(gv, w0)); a1 = f32x4.add(a1, f32x4.mul(gv, w1));
        a2 = f32x4.add(a2, f32x4.mul(gv, w2)); a3 = f32x4.add(a3, f32x4.mul(gv, w3));
      }
      if (gb != 0) {
        const gv = f32x4.splat(gb);
        b0 = f32x4.add(b0, f32x4.mul(gv, w0)); b1 = f32x4.add(b1, f32x4.mul(gv, w1));
        b2 = f32x4.add(b2, f32x4.mul(gv, w2)); b3 = f32x4.add(b3, f32x4.mul(gv, w3));
      }
    }
    v128.store(pa, a0); v128.store(pa, a1, 16); v128.store(pa, a2, 32); v128.store(pa, a3, 48);
    v128.store(pb, b0); v128.store(pb, b1, 16); v128.store(pb, b2, 32); v128.store(pb, b3, 48);
  }
  return ci;
}
