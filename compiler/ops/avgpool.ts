/**
 * avgpool: the average of each size x size window (stride defaults to the size), per
 * channel. Padding as maxpool's: 'valid' (default), 'same' (TF's split) or per side
 * [top, left, bottom, right], each side less than the size. A window that hangs over the
 * edge divides by the inputs it holds (TFLite's AVERAGE_POOL_2D, ONNX count_include_pad 0),
 * or with `countIncludePad: true` by size * size, the padding counted as zeros (ONNX
 * count_include_pad 1).
 *
 * Kernels: avgpoolForwardS8 / avgpoolBackwardF32 (assembly/kernels/pool.ts), shared with
 * globalavgpool and told apart by the window (pool-kernels.ts); a pool dividing by valid
 * taps reads a table of rescales by count, in the frozen image. Tests: test/ops/avgpool.test.ts.
 */
import { z } from 'zod';
import type { Node } from '../ir/graph.js';
import { LIMITS } from '../ir/limits.js';
import { positiveInt, userName } from '../validate.js';
import { inputs, layerSchema, stride } from './layer-fields.js';
import { explicitPads, NO_PADS, paddedOutput, padsText, type Pads } from './padding.js';
import { poolPads } from './pool-shape.js';
import { poolCode, poolRescale, type PoolRescale, type PoolWindow } from './pool-kernels.js';
import type { FloatBackwardArgs, FloatGradients, OpDef } from './types.js';

export interface AvgpoolLayer {
  op: 'avgpool';
  name?: string;
  inputs?: string[];
  size: number;
  stride?: number;
  /** 'valid' (default): windows inside the input; 'same': ceil(H / stride) outputs, as TF; or per side [top, left, bottom, right]. */
  padding?: 'valid' | 'same' | Pads;
  /** Divide every window by size * size, padding counted as zeros (ONNX count_include_pad 1); default: by the inputs it holds. */
  countIncludePad?: boolean;
}

const avgpoolLayer = layerSchema<AvgpoolLayer>()(
  z.strictObject({
    op: z.literal('avgpool'),
    name: userName.optional(),
    inputs: inputs.optional(),
    size: positiveInt(LIMITS.maxSpatial),
    stride: stride.optional(),
    padding: z.union([z.literal('valid'), z.literal('same'), explicitPads], { error: "expected 'valid', 'same' or [top, left, bottom, right]" }).optional(),
    countIncludePad: z.boolean({ error: 'expected true or false' }).optional(),
  }),
);

/** The kernels' window: size x size, its stride and padding. */
function window(n: Node): PoolWindow {
  const p = n.pool!;
  return { ph: p.size, pw: p.size, stride: p.stride, pads: p.pads, byValidTaps: p.countIncludePad !== true };
}

/** Each output's window clipped to the input: rows [h0, h1), columns [w0, w1), and what it divides by. */
function windowAt(n: Node, oh: number, ow: number): { h0: number; h1: number; w0: number; w1: number; count: number } {
  const [H, W] = n.inShapes[0]!;
  const { size, stride, pads, countIncludePad } = n.pool!;
  const h0 = Math.max(oh * stride - pads[0], 0);
  const h1 = Math.min(oh * stride - pads[0] + size, H);
  const w0 = Math.max(ow * stride - pads[1], 0);
  const w1 = Math.min(ow * stride - pads[1] + size, W);
  return { h0, h1, w0, w1, count: countIncludePad ? size * size : (h1 - h0) * (w1 - w0) };
}

/** y[oh, ow, c] = the mean of x over the window at (oh, ow), channel c. */
function forwardF32(n: Node, [x]: Float32Array[]): Float32Array {
  const [, W, C] = n.inShapes[0]!;
  const [OH, OW] = n.outShape;
  const y = new Float32Array(OH * OW * C);
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++) {
      const a = windowAt(n, oh, ow);
      const inv = 1 / a.count; // times 1 / count, not divided: the unpadded pool's float bits since before padding
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let ih = a.h0; ih < a.h1; ih++) for (let iw = a.w0; iw < a.w1; iw++) s += x[(ih * W + iw) * C + c]!;
        y[(oh * OW + ow) * C + c] = s * inv;
      }
    }
  return y;
}

/** Each output gradient, divided by its window's count, adds to every input of its window. */
function backwardF32(n: Node, { gy, wantInputGrad }: FloatBackwardArgs): FloatGradients {
  if (!wantInputGrad) return { inputs: [null] };
  const [H, W, C] = n.inShapes[0]!;
  const [OH, OW] = n.outShape;
  const gx = new Float32Array(H * W * C);
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++) {
      const a = windowAt(n, oh, ow);
      const inv = 1 / a.count;
      for (let c = 0; c < C; c++) {
        const g = gy[(oh * OW + ow) * C + c]! * inv;
        for (let ih = a.h0; ih < a.h1; ih++) for (let iw = a.w0; iw < a.w1; iw++) gx[(ih * W + iw) * C + c]! += g;
      }
    }
  return { inputs: [gx] };
}

export const avgpool: OpDef<AvgpoolLayer, PoolRescale> = {
  kind: 'avgpool',
  layerOp: 'avgpool',
  layer: avgpoolLayer,
  arity: 1,
  shape(layer, [[h, w, c]], fail) {
    const size = layer.size;
    const stride = layer.stride ?? size;
    const pads = poolPads(layer.padding, [h, w], size, stride, fail);
    if (pads === NO_PADS && (size > h || size > w)) fail(`pool ${size} is larger than the ${h}x${w} input`);
    const [oh, ow] = paddedOutput([h, w], size, size, stride, pads);
    if (oh < 1 || ow < 1) fail(`pool ${size} does not fit the ${h}x${w} input padded by ${padsText(pads)}`);
    return { outShape: [oh, ow, c], pool: { size, stride, pads, ...(layer.countIncludePad && { countIncludePad: true }) } };
  },
  prepare: poolRescale(window),
  constants: (d) => (d.byCount ? [d.byCount] : []),
  float: { forward: forwardF32, backward: backwardF32 },
  program: { forward: ['forward'], backward: ['inputGrad'] },
  codegen: poolCode(window),
};
