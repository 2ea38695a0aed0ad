// Element-wise product (compiler/ops/mul.ts): int8 forward requantised onto the output,
// y = clamp(zy + requant((a - za) * (b - zb)), lo, hi) with the one rounding rule
// (compiler/quantize/fixedpoint.ts), the second operand either of the first's shape or one
// value per channel (squeeze-excitation); and the float32 gradient of one operand.
//
// SIMD: 4 products at a time through requant4v (requant-simd.ts), exact when the shift is
// at least 32 (the multiplier s_a * s_b / s_y below 1/2, the usual case); otherwise, and for
// the channel tail, the scalar loop. Backward: f32x4 lanes doing the scalar loop's
// operations in its order, so both builds give the same bits.

import { MulBackwardRecord, MulForwardRecord } from './records';
import { requantSum } from './requant';
import { clampZp4, requant4v, rqHalf, rqScale, storeI8x4 } from './requant-simd';

/** 4 int8 bytes at p, widened to i32x4, minus the zero point splat vz. */
// @ts-ignore: decorator
@inline function load4(p: usize, vz: v128): v128 {
  return i32x4.sub(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p))), vz);
}

export function mulForwardS8(record: usize): void {
  const r = changetype<MulForwardRecord>(record);
  const a = r.a; const za = r.za; const b = r.b; const zb = r.zb; const perChannel = r.perChannel;
  const m = r.m; const n = r.n; const y = r.y; const zy = r.zy; const lo = r.lo; const hi = r.hi;
  const P = r.P; const C = r.C;
  // requant4v's condition (rqVectorOk) for one shift: n >= 32.
  const vector = n >= 32;
  for (let p = 0; p < P; p++) {
    const o = <usize>(p * C);
    const ap = a + o; const bp = perChannel ? b : b + o; const yp = y + o;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      if (vector) {
        const nv = i32x4.splat(n); const mv = i32x4.splat(m);
        const h0 = rqHalf(nv, false); const h1 = rqHalf(nv, true);
        const s0 = rqScale(nv, false); const s1 = rqScale(nv, true);
        const vza = i32x4.splat(za); const vzb = i32x4.splat(zb);
        const vzy = i32x4.splat(zy); const vlo = i32x4.splat(lo); const vhi = i32x4.splat(hi);
        for (; c + 4 <= C; c += 4) {
          const acc = i32x4.mul(load4(ap + <usize>c, vza), load4(bp + <usize>c, vzb));
          storeI8x4(yp + <usize>c, clampZp4(requant4v(acc, mv, h0, h1, s0, s1), vzy, vlo, vhi));
        }
      }
    }
    for (; c < C; c++) {
      const acc = (<i32>load<i8>(ap + <usize>c) - za) * (<i32>load<i8>(bp + <usize>c) - zb);
      store<i8>(yp + <usize>c, <i8>requantSum(<i64>acc * <i64>m, n, zy, lo, hi));
    }
  }
}

/** (other - zo) * so, in f32 (the subtraction is exact in i32). */
// @ts-ignore: decorator
@inline function dequantize(v: i32, zo: i32, so: f32): f32 {
  return <f32>(v - zo) * so;
}

/**
 * gx = gy * dequantised other, element by element (other broadcast per channel when
 * otherPerChannel), or, when sumPositions, gx[c] = sum over positions p, in order, of
 * gy[p, c] * other[p, c] (starting from gx[c] when accumulating, else from 0).
 */
export function mulBackwardF32(record: usize): void {
  const r = changetype<MulBackwardRecord>(record);
  const gy = r.gy; const other = r.other; const zo = r.zo; const so = r.so; const otherPerChannel = r.otherPerChannel;
  const gx = r.gx; const sumPositions = r.sumPositions; const P = r.P; const C = r.C; const accumulate = r.accumulate;
  if (sumPositions && !accumulate) memory.fill(gx, 0, <usize>C << 2);
  for (let p = 0; p < P; p++) {
    const o = <usize>(p * C);
    const gyp = gy + (o << 2); const op = otherPerChannel ? other : other + o; const gxp = sumPositions ? gx : gx + (o << 2);
    const add = sumPositions || accumulate;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      const vzo = i32x4.splat(zo); const vso = f32x4.splat(so);
      for (; c + 4 <= C; c += 4) {
        const d = f32x4.mul(f32x4.convert_i32x4_s(load4(op + <usize>c, vzo)), vso);
        const g = f32x4.mul(v128.load(gyp + (<usize>c << 2)), d);
        const q = gxp + (<usize>c << 2);
        v128.store(q, add ? f32x4.add(v128.load(q), g) : g);
      }
    }
    for (; c < C; c++) {
      const g = load<f32>(gyp + (<usize>c << 2)) * dequantize(<i32>load<i8>(op + <usize>c), zo, so);
      const q = gxp + (<usize>c << 2);
      store<f32>(q, add ? load<f32>(q) + g : g);
    }
  }
}
