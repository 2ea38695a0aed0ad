// Reference PReLU kernels (compiler/ops/prelu.ts): the int8 forward with the rounding rule in
// 64 bits (the shipped kernel's 32-bit sums rely on the compiler's bounds on its multipliers;
// this one does not), and the float32 input gradient element by element.

import { qs8_requant__ref } from './requant';
import { PreluBackwardRecord, PreluForwardRecord } from '../records';

/** preluForwardS8: v = x - zx; y = requant(v * (v > 0 ? mPos : mNeg[slope]), n) + zy, clamped to int8. */
export function qs8_prelu_fwd__ref(record: usize): void {
  const r = changetype<PreluForwardRecord>(record);
  for (let p = 0; p < r.P; p++) {
    for (let c = 0; c < r.C; c++) {
      const i = p * r.C + c;
      const v = <i32>load<i8>(r.x + <usize>i) - r.zx;
      const slope = p * r.slopeStep + c;
      const m = v > 0 ? r.mPos : load<i32>(r.mNeg + (<usize>slope << 2));
      store<i8>(r.y + <usize>i, <i8>qs8_requant__ref(<i64>v * <i64>m, r.n, r.zy, -128, 127));
    }
  }
}

/** preluBackwardF32: g = gy where x > zx, else gy * alpha[slope]; gx = g, or gx += g. */
export function f32_prelu_bwd__ref(record: usize): void {
  const r = changetype<PreluBackwardRecord>(record);
  for (let p = 0; p < r.P; p++) {
    for (let c = 0; c < r.C; c++) {
      const i = p * r.C + c;
      const gy = load<f32>(r.gy + (<usize>i << 2));
      const above = <i32>load<i8>(r.x + <usize>i) > r.zx;
      const g = above ? gy : gy * load<f32>(r.slopes + (<usize>(p * r.slopeStep + c) << 2));
      const q = r.gx + (<usize>i << 2);
      store<f32>(q, r.accumulate ? load<f32>(q) + g : g);
    }
  }
}
