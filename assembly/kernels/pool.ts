// Average pooling (no padding; global average pooling is the PH=H, PW=W case).

import { requant } from './requant';
import { AvgpoolBackwardRecord, AvgpoolForwardRecord } from './records';

export function avgpoolForwardS8(record: usize): void {
  const r = changetype<AvgpoolForwardRecord>(record);
  const x = r.x; const W = r.W; const C = r.C; const zx = r.zx;
  const y = r.y; const OH = r.OH; const OW = r.OW; const zy = r.zy;
  const PH = r.PH; const PW = r.PW; const stride = r.stride; const m = r.m; const n = r.n;
  for (let oh = 0; oh < OH; oh++) {
    for (let ow = 0; ow < OW; ow++) {
      for (let c = 0; c < C; c++) {
        let acc: i32 = 0;
        for (let kh = 0; kh < PH; kh++) {
          for (let kw = 0; kw < PW; kw++) {
            acc += <i32>load<i8>(x + <usize>(((oh * stride + kh) * W + ow * stride + kw) * C + c)) - zx;
          }
        }
        store<i8>(y + <usize>((oh * OW + ow) * C + c), <i8>requant(acc, m, n, zy, -128, 127));
      }
    }
  }
}

export function avgpoolBackwardF32(record: usize): void {
  const r = changetype<AvgpoolBackwardRecord>(record);
  const gy = r.gy; const OH = r.OH; const OW = r.OW;
  const gx = r.gx; const H = r.H; const W = r.W; const C = r.C;
  const PH = r.PH; const PW = r.PW; const stride = r.stride;
  if (!r.accumulate) memory.fill(gx, 0, <usize>(H * W * C) << 2);
  const inv: f32 = 1.0 / <f32>(PH * PW);
  for (let oh = 0; oh < OH; oh++) {
    for (let ow = 0; ow < OW; ow++) {
      for (let c = 0; c < C; c++) {
        const g = load<f32>(gy + (<usize>((oh * OW + ow) * C + c) << 2)) * inv;
        for (let kh = 0; kh < PH; kh++) {
          for (let kw = 0; kw < PW; kw++) {
            const p = gx + (<usize>(((oh * stride + kh) * W + ow * stride + kw) * C + c) << 2);
            store<f32>(p, load<f32>(p) + g);
          }
        }
      }
    }
  }
}
