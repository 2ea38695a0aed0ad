// PReLU (compiler/ops/prelu.ts): y = x above the input's zero point, alpha * x below it.
//
// Forward, int8: v = x - zx, then zy + ((v * m + 2^(n-1)) >> n) clamped to int8, with
// m = mPos where v > 0 and the slope's multiplier elsewhere, all on one shift n. The
// compiler keeps |m| <= 2^22 and n <= 30, so with |v| <= 255 the sum stays below 2^31: the
// rule is this project's one rounding rule (compiler/quantize/fixedpoint.ts) computed in
// 32 bits. SIMD: four channels per i32x4 doing exactly those integer operations (a multiply,
// an add, an arithmetic shift), so both builds give the same bytes.
//
// Backward, float32: gx = gy where v > 0, gy * alpha elsewhere (one f32 multiply), added
// into gx when accumulating; SIMD lanes do the scalar loop's operations, so the same bits.

import { PreluBackwardRecord, PreluForwardRecord } from './records';
import { clampZp4, storeI8x4 } from './requant-simd';

/** 4 int8 bytes at p, widened to i32x4, minus the zero point splat vz. */
// @ts-ignore: decorator
@inline function load4(p: usize, vz: v128): v128 {
  return i32x4.sub(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p))), vz);
}

export function preluForwardS8(record: usize): void {
  const r = changetype<PreluForwardRecord>(record);
  const x = r.x; const zx = r.zx; const y = r.y; const zy = r.zy;
  const mPos = r.mPos; const n = r.n; const mNeg = r.mNeg; const step = r.slopeStep;
  const P = r.P; const C = r.C;
  const half = 1 << (n - 1);
  for (let p = 0; p < P; p++) {
    const o = <usize>(p * C);
    const xp = x + o; const yp = y + o; const mp = mNeg + (<usize>(p * step) << 2);
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      const vzx = i32x4.splat(zx); const vzy = i32x4.splat(zy);
      const vpos = i32x4.splat(mPos); const vhalf = i32x4.splat(half);
      const vlo = i32x4.splat(-128); const vhi = i32x4.splat(127); const zero = i32x4.splat(0);
      for (; c + 4 <= C; c += 4) {
        const v = load4(xp + <usize>c, vzx);
        const m = v128.bitselect(vpos, v128.load(mp + (<usize>c << 2)), i32x4.gt_s(v, zero));
        const q = i32x4.shr_s(i32x4.add(i32x4.mul(v, m), vhalf), n);
        storeI8x4(yp + <usize>c, clampZp4(q, vzy, vlo, vhi));
      }
    }
    for (; c < C; c++) {
      const v = <i32>load<i8>(xp + <usize>c) - zx;
      const m = v > 0 ? mPos : load<i32>(mp + (<usize>c << 2));
      const q = ((v * m + half) >> n) + zy;
      store<i8>(yp + <usize>c, <i8>min(max(q, -128), 127));
    }
  }
}

/** gx (+)= v > 0 ? gy : gy * alpha, v = x - zx; gx may be gy. */
export function preluBackwardF32(record: usize): void {
  const r = changetype<PreluBackwardRecord>(record);
  const gy = r.gy; const x = r.x; const zx = r.zx; const slopes = r.slopes; const step = r.slopeStep;
  const gx = r.gx; const P = r.P; const C = r.C; const accumulate = r.accumulate;
  for (let p = 0; p < P; p++) {
    const o = <usize>(p * C);
    const gyp = gy + (o << 2); const xp = x + o; const gxp = gx + (o << 2); const ap = slopes + (<usize>(p * step) << 2);
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      const vzx = i32x4.splat(zx); const zero = i32x4.splat(0);
      for (; c + 4 <= C; c += 4) {
        const above = i32x4.gt_s(load4(xp + <usize>c, vzx), zero);
        const g = v128.load(gyp + (<usize>c << 2));
        const d = v128.bitselect(g, f32x4.mul(g, v128.load(ap + (<usize>c << 2))), above);
        const q = gxp + (<usize>c << 2);
        v128.store(q, accumulate ? f32x4.add(v128.load(q), d) : d);
      }
    }
    for (; c < C; c++) {
      const g = load<f32>(gyp + (<usize>c << 2));
      const d = <i32>load<i8>(xp + <usize>c) - zx > 0 ? g : g * load<f32>(ap + (<usize>c << 2));
      const q = gxp + (<usize>c << 2);
      store<f32>(q, accumulate ? load<f32>(q) + d : d);
    }
  }
}
