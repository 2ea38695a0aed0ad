/**
 * Float32 reference kernels (HWC, batch 1). They are the desktop's training engine
 * (pretraining, the float32 baseline) and the readable reference the int8 runtime is
 * tested against. Backward functions take the gradient *before* the fused activation.
 */
import type { ConvAttrs, PoolAttrs, Shape } from '../ir/graph.js';
import type { Activation } from '../ir/model.js';

export function conv2dForward(x: Float32Array, inS: Shape, w: Float32Array, b: Float32Array, a: ConvAttrs, depthwise: boolean, outS: Shape): Float32Array {
  const [H, W, C] = inS;
  const [OH, OW, CO] = outS;
  const y = new Float32Array(OH * OW * CO);
  const cinG = depthwise ? 1 : C;
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++)
      for (let co = 0; co < CO; co++) {
        let acc = b[co]!;
        for (let kh = 0; kh < a.kh; kh++) {
          const ih = oh * a.stride - a.pad + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < a.kw; kw++) {
            const iw = ow * a.stride - a.pad + kw;
            if (iw < 0 || iw >= W) continue;
            const xb = (ih * W + iw) * C;
            const wb = ((co * a.kh + kh) * a.kw + kw) * cinG;
            if (depthwise) acc += x[xb + co]! * w[wb]!;
            else for (let ci = 0; ci < C; ci++) acc += x[xb + ci]! * w[wb + ci]!;
          }
        }
        y[(oh * OW + ow) * CO + co] = acc;
      }
  return y;
}

export interface ParamGrads {
  gw: Float32Array;
  gb: Float32Array;
}

/** Returns the input gradient (if wanted) and the weight/bias gradients. */
export function conv2dBackward(
  x: Float32Array,
  inS: Shape,
  w: Float32Array,
  gy: Float32Array,
  a: ConvAttrs,
  depthwise: boolean,
  outS: Shape,
  wantInputGrad: boolean,
): ParamGrads & { gx: Float32Array | null } {
  const [H, W, C] = inS;
  const [OH, OW, CO] = outS;
  const cinG = depthwise ? 1 : C;
  const gw = new Float32Array(w.length);
  const gb = new Float32Array(CO);
  const gx = wantInputGrad ? new Float32Array(H * W * C) : null;
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++)
      for (let co = 0; co < CO; co++) {
        const g = gy[(oh * OW + ow) * CO + co]!;
        if (g === 0) continue;
        gb[co]! += g;
        for (let kh = 0; kh < a.kh; kh++) {
          const ih = oh * a.stride - a.pad + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < a.kw; kw++) {
            const iw = ow * a.stride - a.pad + kw;
            if (iw < 0 || iw >= W) continue;
            const xb = (ih * W + iw) * C;
            const wb = ((co * a.kh + kh) * a.kw + kw) * cinG;
            if (depthwise) {
              gw[wb]! += g * x[xb + co]!;
              if (gx) gx[xb + co]! += g * w[wb]!;
            } else {
              for (let ci = 0; ci < C; ci++) {
                gw[wb + ci]! += g * x[xb + ci]!;
                if (gx) gx[xb + ci]! += g * w[wb + ci]!;
              }
            }
          }
        }
      }
  return { gx, gw, gb };
}

export function denseForward(x: Float32Array, w: Float32Array, b: Float32Array, units: number): Float32Array {
  const n = x.length;
  const y = new Float32Array(units);
  for (let o = 0; o < units; o++) {
    let acc = b[o]!;
    const base = o * n;
    for (let i = 0; i < n; i++) acc += w[base + i]! * x[i]!;
    y[o] = acc;
  }
  return y;
}

export function denseBackward(x: Float32Array, w: Float32Array, gy: Float32Array, wantInputGrad: boolean): ParamGrads & { gx: Float32Array | null } {
  const n = x.length;
  const units = gy.length;
  const gw = new Float32Array(w.length);
  const gb = gy.slice();
  const gx = wantInputGrad ? new Float32Array(n) : null;
  for (let o = 0; o < units; o++) {
    const g = gy[o]!;
    if (g === 0) continue;
    const base = o * n;
    for (let i = 0; i < n; i++) {
      gw[base + i] = g * x[i]!;
      if (gx) gx[i]! += g * w[base + i]!;
    }
  }
  return { gx, gw, gb };
}

export function avgpoolForward(x: Float32Array, inS: Shape, p: PoolAttrs, outS: Shape): Float32Array {
  const [, W, C] = inS;
  const [OH, OW] = outS;
  const y = new Float32Array(OH * OW * C);
  const inv = 1 / (p.size * p.size);
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++)
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let kh = 0; kh < p.size; kh++)
          for (let kw = 0; kw < p.size; kw++) {
            s += x[((oh * p.stride + kh) * W + ow * p.stride + kw) * C + c]!;
          }
        y[(oh * OW + ow) * C + c] = s * inv;
      }
  return y;
}

export function avgpoolBackward(gy: Float32Array, inS: Shape, p: PoolAttrs, outS: Shape): Float32Array {
  const [H, W, C] = inS;
  const [OH, OW] = outS;
  const gx = new Float32Array(H * W * C);
  const inv = 1 / (p.size * p.size);
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++)
      for (let c = 0; c < C; c++) {
        const g = gy[(oh * OW + ow) * C + c]! * inv;
        for (let kh = 0; kh < p.size; kh++)
          for (let kw = 0; kw < p.size; kw++) {
            gx[((oh * p.stride + kh) * W + ow * p.stride + kw) * C + c]! += g;
          }
      }
  return gx;
}

export function globalAvgpoolForward(x: Float32Array, inS: Shape): Float32Array {
  const [H, W, C] = inS;
  const y = new Float32Array(C);
  for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) y[c]! += x[p * C + c]!;
  for (let c = 0; c < C; c++) y[c]! /= H * W;
  return y;
}

export function globalAvgpoolBackward(gy: Float32Array, inS: Shape): Float32Array {
  const [H, W, C] = inS;
  const gx = new Float32Array(H * W * C);
  for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) gx[p * C + c] = gy[c]! / (H * W);
  return gx;
}

export function activate(y: Float32Array, act: Activation): Float32Array {
  if (act === 'none') return y;
  const hi = act === 'relu6' ? 6 : Infinity;
  for (let i = 0; i < y.length; i++) y[i] = Math.min(Math.max(y[i]!, 0), hi);
  return y;
}

/** Gradient through a clamp, from the clamped output: passes where 0 < y < hi. */
export function activationBackward(gy: Float32Array, y: Float32Array, act: Activation): Float32Array {
  if (act === 'none') return gy;
  const hi = act === 'relu6' ? 6 : Infinity;
  const g = new Float32Array(gy.length);
  for (let i = 0; i < gy.length; i++) g[i] = y[i]! > 0 && y[i]! < hi ? gy[i]! : 0;
  return g;
}

/** Softmax cross-entropy on logits: loss and d(loss)/d(logits). */
export function softmaxCrossEntropy(logits: Float32Array, label: number): { loss: number; grad: Float32Array } {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  const grad = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    grad[i] = Math.exp(logits[i]! - max);
    sum += grad[i]!;
  }
  for (let i = 0; i < logits.length; i++) grad[i]! /= sum;
  const loss = -Math.log(Math.max(grad[label]!, 1e-30));
  grad[label]! -= 1;
  return { loss, grad };
}
