// Reference average pool (no padding; global pooling is one window over the input).
// Backward float order: each gx element gets gy * (1 / (PH * PW)) from its windows with
// output positions ascending (the shipped order).

import { zeroF32__ref } from './common';
import { qs8_requant__ref } from './requant';
import { AvgpoolBackwardRecord, AvgpoolForwardRecord } from '../records';

/** avgpoolForwardS8: the window sum of x - zx, requantised by (m, n) onto the output's zero point. */
export function qs8_avgpool_fwd__ref(record: usize): void {
  const r = changetype<AvgpoolForwardRecord>(record);
  for (let oh = 0; oh < r.OH; oh++)
    for (let ow = 0; ow < r.OW; ow++)
      for (let c = 0; c < r.C; c++) {
        let sum: i64 = 0;
        for (let kh = 0; kh < r.PH; kh++)
          for (let kw = 0; kw < r.PW; kw++) {
            const ih = oh * r.stride + kh;
            const iw = ow * r.stride + kw;
            sum += <i64>(<i32>load<i8>(r.x + <usize>((ih * r.W + iw) * r.C + c)) - r.zx);
          }
        store<i8>(r.y + <usize>((oh * r.OW + ow) * r.C + c), <i8>qs8_requant__ref(sum * <i64>r.m, r.n, r.zy, -128, 127));
      }
}

/** avgpoolBackwardF32: gx (+)= each window's gy / (PH * PW). */
export function f32_avgpool_bwd__ref(record: usize): void {
  const r = changetype<AvgpoolBackwardRecord>(record);
  if (!r.accumulate) zeroF32__ref(r.gx, r.H * r.W * r.C);
  const inv: f32 = 1.0 / <f32>(r.PH * r.PW);
  for (let oh = 0; oh < r.OH; oh++)
    for (let ow = 0; ow < r.OW; ow++)
      for (let c = 0; c < r.C; c++) {
        const g = load<f32>(r.gy + (<usize>((oh * r.OW + ow) * r.C + c) << 2)) * inv;
        for (let kh = 0; kh < r.PH; kh++)
          for (let kw = 0; kw < r.PW; kw++) {
            const p = r.gx + (<usize>(((oh * r.stride + kh) * r.W + ow * r.stride + kw) * r.C + c) << 2);
            store<f32>(p, load<f32>(p) + g);
          }
      }
}
