/**
 * avgpool: the average of each PH x PW window (`size`: one number or [PH, PW]; `stride`
 * likewise, defaulting to the size per axis), per channel. Padding as maxpool's: 'valid'
 * (default), 'same' (TF's split, per axis) or per side [top, left, bottom, right], each side
 * less than the window along its axis. A window that hangs over the edge divides by the
 * inputs it holds (TFLite's AVERAGE_POOL_2D, ONNX count_include_pad 0), or with
 * `countIncludePad: true` by PH * PW, the padding counted as zeros (ONNX count_include_pad 1).
 *
 * Kernels: avgpoolForwardS8 / avgpoolBackwardF32 (assembly/kernels/pool.ts), shared with
 * globalavgpool and told apart by the window (pool-kernels.ts); a pool dividing by valid
 * taps reads a table of rescales by count, in the frozen image. Tests: test/ops/avgpool.test.ts.
 */
import { z } from 'zod';
import type { Node } from '../ir/graph.js';
import { userName } from '../validate.js';
import { inputs, layerSchema } from './layer-fields.js';
import { explicitPads, type Pads } from './padding.js';
import { poolShape, poolSize, poolStride, type PoolSize } from './pool-shape.js';
import { poolCode, poolRescale, type PoolRescale, type PoolWindow } from './pool-kernels.js';
import type { FloatBackwardArgs, FloatGradients, OpDef } from './types.js';

export interface AvgpoolLayer {
  op: 'avgpool';
  name?: string;
  inputs?: string[];
  /** Window rows and columns: one number for both, or [PH, PW]. */
  size: PoolSize;
  /** One stride for both axes, or [SH, SW]. Default: the size. */
  stride?: PoolSize;
  /** 'valid' (default): windows inside the input; 'same': ceil(H / SH) x ceil(W / SW) outputs, as TF; or per side [top, left, bottom, right]. */
  padding?: 'valid' | 'same' | Pads;
  /** Divide every window by PH * PW, padding counted as zeros (ONNX count_include_pad 1); default: by the inputs it holds. */
  countIncludePad?: boolean;
}

const avgpoolLayer = layerSchema<AvgpoolLayer>()(
  z.strictObject({
    op: z.literal('avgpool'),
    name: userName.optional(),
    inputs: inputs.optional(),
    size: poolSize,
    stride: poolStride.optional(),
    padding: z.union([z.literal('valid'), z.literal('same'), explicitPads], { error: "expected 'valid', 'same' or [top, left, bottom, right]" }).optional(),
    countIncludePad: z.boolean({ error: 'expected true or false' }).optional(),
  }),
);

/** The kernels' window: PH x PW, its strides and padding. */
function window(n: Node): PoolWindow {
  const p = n.pool!;
  return { ph: p.ph, pw: p.pw, sh: p.sh, sw: p.sw, pads: p.pads, byValidTaps: p.countIncludePad !== true };
}

/** Each output's window clipped to the input: rows [h0, h1), columns [w0, w1), and what it divides by. */
function windowAt(n: Node, oh: number, ow: number): { h0: number; h1: number; w0: number; w1: number; count: number } {
  const [H, W] = n.inShapes[0]!;
  const { ph, pw, sh, sw, pads, countIncludePad } = n.pool!;
  const h0 = Math.max(oh * sh - pads[0], 0);
  const h1 = Math.min(oh * sh - pads[0] + ph, H);
  const w0 = Math.max(ow * sw - pads[1], 0);
  const w1 = Math.min(ow * sw - pads[1] + pw, W);
  return { h0, h1, w0, w1, count: countIncludePad ? ph * pw : (h1 - h0) * (w1 - w0) };
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
  shape(layer, [x], fail) {
    const { outShape, pool } = poolShape(layer, x!, fail);
    return { outShape, pool: { ...pool, ...(layer.countIncludePad && { countIncludePad: true }) } };
  },
  prepare: poolRescale(window),
  constants: (d) => (d.byCount ? [d.byCount] : []),
  float: { forward: forwardF32, backward: backwardF32 },
  program: { forward: ['forward'], backward: ['inputGrad'] },
  codegen: poolCode(window),
};
