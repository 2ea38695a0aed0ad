// Reference conv2d family: dense, depthwise and fully connected (a 1x1 conv over a 1x1
// image) forward, input gradient, weight gradient, fused weight update, stored-gradient
// updates, bias gradient and update, and the fused "frozen 1x1 head + global average
// pool" backward. Layouts as conv2d.ts: HWC activations, weights [CO, KH, KW, C]
// (depthwise [C, KH, KW, 1]), possibly split into a trained slice (w) and a frozen rest (w2).
//
// Float order (the shipped kernels keep it, so results are bit-identical):
//  - input gradient: each gx element gets its terms by output pixel (oh, ow), then output
//    channel, ascending; a term with g = gy * wScale == 0 is skipped (not added as +-0);
//  - weight gradient: each element sums gy * (x - zx) over output positions (oh, ow)
//    ascending from 0, then multiplies by sx once;
//  - bias gradient: gy summed over positions ascending from 0;
//  - updates: parameters stepped in index order (the order of the rounding draws).

import { headGrad__ref, zeroF32__ref } from './common';
import { qs8_requant__ref } from './requant';
import { qs8_param_step__ref, qs32_param_step__ref } from './update';
import {
  ApplyBiasRecord, ApplyWeightRecord, BiasGradRecord, BiasUpdateRecord, ConvForwardRecord, ConvInputGradRecord, GapHeadRecord, WeightGradRecord,
} from '../records';

/**
 * The int8 weight of output channel co, tap (kh, kw), input channel ci (depthwise: ci is
 * ignored, the channel is co), reading the trained slice w or the frozen rest w2.
 */
function weight__ref(w: usize, w2: usize, split: i32, C: i32, KH: i32, KW: i32, depthwise: bool, co: i32, kh: i32, kw: i32, ci: i32): f32 {
  const tap = (co * KH + kh) * KW + kw;
  if (depthwise) {
    if (split == 0 || co < split) return <f32>load<i8>(w + <usize>tap);
    return <f32>load<i8>(w2 + <usize>(tap - split * KH * KW));
  }
  if (split == 0) return <f32>load<i8>(w + <usize>(tap * C + ci));
  if (ci < split) return <f32>load<i8>(w + <usize>(tap * split + ci));
  return <f32>load<i8>(w2 + <usize>(tap * (C - split) + ci - split));
}

/** Forward output rows [ohBegin, ohEnd), ring buffers as conv2dForwardRowsS8. Integer: any order. */
export function qs8_conv2d_fwd_rows__ref(record: usize, ohBegin: i32, ohEnd: i32): void {
  const r = changetype<ConvForwardRecord>(record);
  for (let oh = ohBegin; oh < ohEnd; oh++) {
    const ySlot = r.outRing == 0 ? oh : oh % r.outRing;
    for (let ow = 0; ow < r.OW; ow++) {
      for (let co = 0; co < r.CO; co++) {
        let acc: i32 = load<i32>(r.bias + (<usize>co << 2));
        for (let kh = 0; kh < r.KH; kh++) {
          for (let kw = 0; kw < r.KW; kw++) {
            const ih = oh * r.strideH - r.padH + kh;
            const iw = ow * r.strideW - r.padW + kw;
            if (ih < 0 || ih >= r.H || iw < 0 || iw >= r.W) continue; // zero padding: x - zx = 0
            const xSlot = r.inRing == 0 ? ih : ih % r.inRing;
            const ciFrom = r.depthwise ? co : 0;
            const ciTo = r.depthwise ? co + 1 : r.C;
            for (let ci = ciFrom; ci < ciTo; ci++) {
              const xv = <i32>load<i8>(r.x + <usize>((xSlot * r.W + iw) * r.C + ci)) - r.zx;
              acc += xv * <i32>weight__ref(r.w, r.w2, r.split, r.C, r.KH, r.KW, r.depthwise, co, kh, kw, ci);
            }
          }
        }
        const m = load<i32>(r.mult + (<usize>co << 2));
        const n = load<i32>(r.shift + (<usize>co << 2));
        store<i8>(r.y + <usize>((ySlot * r.OW + ow) * r.CO + co), <i8>qs8_requant__ref(<i64>acc * <i64>m, n, r.zy, r.lo, r.hi));
      }
    }
  }
}

/** The whole forward output (conv2dForwardS8). */
export function qs8_conv2d_fwd__ref(record: usize): void {
  qs8_conv2d_fwd_rows__ref(record, 0, changetype<ConvForwardRecord>(record).OH);
}

/** gx (+)= the transposed conv of gy with the dequantised weights (conv2dBackwardInputF32). */
export function f32_conv2d_igrad__ref(record: usize): void {
  const r = changetype<ConvInputGradRecord>(record);
  if (!r.accumulate) zeroF32__ref(r.gx, r.H * r.W * r.C);
  for (let oh = 0; oh < r.OH; oh++) {
    for (let ow = 0; ow < r.OW; ow++) {
      for (let co = 0; co < r.CO; co++) {
        const g = load<f32>(r.gy + (<usize>((oh * r.OW + ow) * r.CO + co) << 2)) * load<f32>(r.wScale + (<usize>co << 2));
        if (g == 0) continue;
        for (let kh = 0; kh < r.KH; kh++) {
          for (let kw = 0; kw < r.KW; kw++) {
            const ih = oh * r.strideH - r.padH + kh;
            const iw = ow * r.strideW - r.padW + kw;
            if (ih < 0 || ih >= r.H || iw < 0 || iw >= r.W) continue;
            const ciFrom = r.depthwise ? co : 0;
            const ciTo = r.depthwise ? co + 1 : r.C;
            for (let ci = ciFrom; ci < ciTo; ci++) {
              const p = r.gx + (<usize>((ih * r.W + iw) * r.C + ci) << 2);
              store<f32>(p, load<f32>(p) + g * weight__ref(r.w, r.w2, r.split, r.C, r.KH, r.KW, r.depthwise, co, kh, kw, ci));
            }
          }
        }
      }
    }
  }
}

/** d(loss)/d(w[co, kh, kw, ci]) of the trained slice (ci < K; depthwise: channels co < K), unscaled by anything but sx. */
function weightGrad__ref(r: WeightGradRecord, co: i32, kh: i32, kw: i32, ci: i32): f32 {
  const xc = r.depthwise ? co : ci;
  let g: f32 = 0;
  for (let oh = 0; oh < r.OH; oh++) {
    for (let ow = 0; ow < r.OW; ow++) {
      const ih = oh * r.strideH - r.padH + kh;
      const iw = ow * r.strideW - r.padW + kw;
      if (ih < 0 || ih >= r.H || iw < 0 || iw >= r.W) continue;
      const xv = <f32>(<i32>load<i8>(r.x + <usize>((ih * r.W + iw) * r.XC + xc)) - r.zx);
      g += load<f32>(r.gy + (<usize>((oh * r.OW + ow) * r.CO + co) << 2)) * xv;
    }
  }
  return g * r.sx;
}

/** Weight gradient of the trained slice into r.out (conv2dWeightGradF32). */
export function f32_conv2d_wgrad__ref(record: usize): void {
  const r = changetype<WeightGradRecord>(record);
  const coEnd = r.depthwise ? r.K : r.CO;
  const ciEnd = r.depthwise ? 1 : r.K;
  for (let co = 0; co < coEnd; co++)
    for (let kh = 0; kh < r.KH; kh++)
      for (let kw = 0; kw < r.KW; kw++)
        for (let ci = 0; ci < ciEnd; ci++) store<f32>(r.out + (<usize>(((co * r.KH + kh) * r.KW + kw) * ciEnd + ci) << 2), weightGrad__ref(r, co, kh, kw, ci));
}

/** Weight gradient applied to the trained slice as it is formed (conv2dWeightUpdateS8), in index order. */
export function qs8_conv2d_wupdate__ref(record: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const r = changetype<WeightGradRecord>(record);
  const coEnd = r.depthwise ? r.K : r.CO;
  const ciEnd = r.depthwise ? 1 : r.K;
  for (let co = 0; co < coEnd; co++)
    for (let kh = 0; kh < r.KH; kh++)
      for (let kw = 0; kw < r.KW; kw++)
        for (let ci = 0; ci < ciEnd; ci++) {
          const g = weightGrad__ref(r, co, kh, kw, ci);
          const s = load<f32>(r.wScale + (<usize>co << 2));
          qs8_param_step__ref(r.w, ((co * r.KH + kh) * r.KW + kw) * ciEnd + ci, g, s, qas, r.vel, lr, mu, rng);
        }
}

/** A stored weight gradient (GK channels a tap) applied to the trained slice (applyWeightUpdateS8), in index order. */
export function qs8_conv2d_wapply__ref(record: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const r = changetype<ApplyWeightRecord>(record);
  const coEnd = r.depthwise ? r.K : r.CO;
  const ciEnd = r.depthwise ? 1 : r.K;
  const gStride = r.depthwise ? 1 : r.GK;
  for (let co = 0; co < coEnd; co++)
    for (let kh = 0; kh < r.KH; kh++)
      for (let kw = 0; kw < r.KW; kw++)
        for (let ci = 0; ci < ciEnd; ci++) {
          const tap = (co * r.KH + kh) * r.KW + kw;
          const g = load<f32>(r.grad + (<usize>(tap * gStride + ci) << 2));
          qs8_param_step__ref(r.w, tap * ciEnd + ci, g, load<f32>(r.wScale + (<usize>co << 2)), qas, r.vel, lr, mu, rng);
        }
}

function biasGrad__ref(gy: usize, P: i32, CO: i32, co: i32): f32 {
  let g: f32 = 0;
  for (let p = 0; p < P; p++) g += load<f32>(gy + (<usize>(p * CO + co) << 2));
  return g;
}

/** Bias gradient into r.out (biasGradF32). */
export function f32_bias_grad__ref(record: usize): void {
  const r = changetype<BiasGradRecord>(record);
  for (let co = 0; co < r.CO; co++) store<f32>(r.out + (<usize>co << 2), biasGrad__ref(r.gy, r.P, r.CO, co));
}

/** Bias gradient applied as it is formed (biasUpdateAllS32); the bias scale is wScale * sx. */
export function qs32_bias_update__ref(record: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const r = changetype<BiasUpdateRecord>(record);
  for (let co = 0; co < r.CO; co++) {
    const s = load<f32>(r.wScale + (<usize>co << 2)) * r.sx;
    qs32_param_step__ref(r.bias, co, biasGrad__ref(r.gy, r.P, r.CO, co), s, qas, r.vel, lr, mu, rng);
  }
}

/** A stored bias gradient applied (applyBiasUpdateS32). */
export function qs32_bias_apply__ref(record: usize, lr: f32, mu: f32, qas: bool, rng: usize): void {
  const r = changetype<ApplyBiasRecord>(record);
  for (let co = 0; co < r.CO; co++) {
    const s = load<f32>(r.wScale + (<usize>co << 2)) * r.sx;
    qs32_param_step__ref(r.bias, co, load<f32>(r.grad + (<usize>co << 2)), s, qas, r.vel, lr, mu, rng);
  }
}

/**
 * Backward of "frozen 1x1 head [CO, CI] -> global average pool over P positions"
 * (gapHeadBackwardF32): the head's output gradient gpool / P, masked by the clamp bits,
 * summed into bgrad (positions ascending) and, through the weights, into gx (per
 * position, output channels ascending, zero terms skipped). r.scratch is not used.
 */
export function f32_gap_head_bwd__ref(record: usize): void {
  const r = changetype<GapHeadRecord>(record);
  if (r.gx != 0 && !r.accumulate) zeroF32__ref(r.gx, r.P * r.CI);
  if (r.bgrad != 0) zeroF32__ref(r.bgrad, r.CO);
  for (let p = 0; p < r.P; p++) {
    for (let co = 0; co < r.CO; co++) {
      const g = headGrad__ref(r.gpool, r.P, r.bits, r.CO, p, co);
      if (r.bgrad != 0) store<f32>(r.bgrad + (<usize>co << 2), load<f32>(r.bgrad + (<usize>co << 2)) + g);
      if (r.gx == 0) continue;
      const gs = g * load<f32>(r.wScale + (<usize>co << 2));
      if (gs == 0) continue;
      for (let ci = 0; ci < r.CI; ci++) {
        const q = r.gx + (<usize>(p * r.CI + ci) << 2);
        store<f32>(q, load<f32>(q) + gs * weight__ref(r.w, r.w2, r.split, r.CI, 1, 1, false, co, 0, 0, ci));
      }
    }
  }
}
