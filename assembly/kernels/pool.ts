// Average pooling (no padding; global average pooling is the PH=H, PW=W case).

import { requant } from './requant';

export function avgpoolForwardS8(
  x: usize, H: i32, W: i32, C: i32, zx: i32,
  y: usize, OH: i32, OW: i32, zy: i32,
  PH: i32, PW: i32, stride: i32, m: i32, n: i32,
): void {
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

export function avgpoolBackwardF32(
  gy: usize, OH: i32, OW: i32,
  gx: usize, H: i32, W: i32, C: i32,
  PH: i32, PW: i32, stride: i32, accumulate: bool,
): void {
  if (!accumulate) memory.fill(gx, 0, <usize>(H * W * C) << 2);
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
