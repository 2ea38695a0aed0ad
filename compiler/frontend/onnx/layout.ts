/**
 * ONNX is NCHW, tinytrain is HWC (batch 1). Every layout change happens here, once, at
 * import (compile) time on constants, or in the host before a sample is written into the
 * runtime; the runtime's hot path never transposes:
 *
 *  - conv weights  [Cout, Cin/g, KH, KW] (OIHW)  ->  [Cout, KH, KW, Cin/g]      convWeightToOhwi
 *  - dense weights [K, N] (Gemm/MatMul B, or B^T) ->  [N, K] with the K columns in
 *    tinytrain's order: when the dense input is a flattened C x H x W feature map, ONNX
 *    numbers its features c*H*W + h*W + w and tinytrain (h*W + w)*C + c     denseWeightFromOnnx
 *  - model input   [1, C, H, W]                  ->  [H, W, C]                  nchwToHwc (host side)
 *  - outputs that are feature maps (only in tests: models end in logits)        hwcToNchw
 */

/** A flattened feature map whose element order differs from tinytrain's (ONNX CHW vs our HWC). */
export interface ChwOrder {
  c: number;
  h: number;
  w: number;
}

/** OIHW -> OHWI. */
export function convWeightToOhwi(w: ArrayLike<number>, cout: number, cin: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(cout * kh * kw * cin);
  for (let o = 0; o < cout; o++)
    for (let i = 0; i < cin; i++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) {
          out[((o * kh + y) * kw + x) * cin + i] = w[((o * cin + i) * kh + y) * kw + x]!;
        }
  return out;
}

/** tinytrain index of ONNX flat feature k of a C x H x W map (identity when there is no map). */
export function hwcIndexOfChw(k: number, order: ChwOrder | null): number {
  if (!order) return k;
  const hw = order.h * order.w;
  const c = Math.floor(k / hw);
  const p = k - c * hw; // h*W + w
  return p * order.c + c;
}

/**
 * Dense weight [N, K] in tinytrain's layout from ONNX's B. `transB` false: B is [K, N]
 * (Gemm default, MatMul); true: B is [N, K]. `alpha` multiplies every weight (Gemm).
 */
export function denseWeightFromOnnx(b: ArrayLike<number>, k: number, n: number, transB: boolean, order: ChwOrder | null, alpha = 1): Float32Array {
  const out = new Float32Array(n * k);
  for (let kk = 0; kk < k; kk++) {
    const j = hwcIndexOfChw(kk, order);
    for (let o = 0; o < n; o++) out[o * k + j] = alpha * b[transB ? o * k + kk : kk * n + o]!;
  }
  return out;
}

/** A model input in ONNX layout [C, H, W] (batch 1) -> tinytrain's [H, W, C]. */
export function nchwToHwc(x: ArrayLike<number>, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(c * h * w);
  for (let ci = 0; ci < c; ci++) for (let p = 0; p < h * w; p++) out[p * c + ci] = x[ci * h * w + p]!;
  return out;
}

/** [H, W, C] -> [C, H, W]. */
export function hwcToNchw(x: ArrayLike<number>, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(c * h * w);
  for (let ci = 0; ci < c; ci++) for (let p = 0; p < h * w; p++) out[ci * h * w + p] = x[p * c + ci]!;
  return out;
}
