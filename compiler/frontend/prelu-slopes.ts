/**
 * The slope tensor of a PReLU (ONNX PRelu's `slope`, TFLite PRELU's `alpha`) as the prelu
 * layer's slopes (compiler/ops/prelu.ts): broadcast against the input by numpy's rule (right
 * aligned, each axis 1 or the input's, never growing the input: ONNX's unidirectional
 * broadcast, what TFLite's kernel does), read at every element of the input in tinytrain's
 * HWC order, then put in the layer's shortest form (one slope, one per channel, or one per
 * element). Both importers share it; each says in its own words where a shape is refused.
 */
import { compactSlopes } from '../ops/prelu.js';

export interface SlopeTensor {
  dims: readonly number[];
  /** Row-major in the file's order. */
  data: ArrayLike<number>;
}

/**
 * The layer's slopes for an input of `input` dims in the file's layout (ONNX [1, C, H, W] or
 * TFLite [1, H, W, C]; a vector [1, N] or [N] either way), or why they cannot be: a string
 * naming the shapes.
 */
export function preluSlopes(slope: SlopeTensor, input: readonly number[], layout: 'nchw' | 'nhwc'): number[] | string {
  const why = `the slope of shape [${slope.dims.join(', ')}] does not broadcast to the input [${input.join(', ')}]`;
  if (slope.dims.length > input.length) return why;
  const dims = [...new Array<number>(input.length - slope.dims.length).fill(1), ...slope.dims];
  if (dims.some((d, i) => d !== 1 && d !== input[i])) return why;
  // The slope's stride per input axis (0 where it is broadcast).
  const strides = new Array<number>(dims.length).fill(0);
  for (let i = dims.length - 1, s = 1; i >= 0; s *= dims[i]!, i--) strides[i] = dims[i] === 1 ? 0 : s;
  const rank = input.length;
  const [H, W, C] = rank === 4 ? (layout === 'nchw' ? [input[2]!, input[3]!, input[1]!] : [input[1]!, input[2]!, input[3]!]) : [1, 1, input[rank - 1]!];
  // Each of our HWC elements at its place in the file's layout.
  const axes = (h: number, w: number, c: number): number[] => (rank === 4 ? (layout === 'nchw' ? [0, c, h, w] : [0, h, w, c]) : rank === 2 ? [0, c] : [c]);
  const full = new Float32Array(H * W * C);
  for (let h = 0; h < H; h++)
    for (let w = 0; w < W; w++)
      for (let c = 0; c < C; c++) {
        const at = axes(h, w, c).reduce((o, v, i) => o + v * strides[i]!, 0);
        full[(h * W + w) * C + c] = slope.data[at]!;
      }
  return compactSlopes(full, [H, W, C]);
}
