/**
 * avgpool: the average of each size x size window (stride defaults to the size, no
 * padding), per channel.
 *
 * Kernels: avgpoolForwardS8 / avgpoolBackwardF32 (assembly/kernels/pool.ts), shared with
 * globalavgpool and told apart by the window (pool-kernels.ts). Tests: test/ops/avgpool.test.ts.
 */
import { z } from 'zod';
import type { Node } from '../ir/graph.js';
import { LIMITS } from '../ir/limits.js';
import type { FixedMultiplier } from '../quantize/fixedpoint.js';
import { positiveInt, userName } from '../validate.js';
import { inputs, layerSchema, stride } from './layer-fields.js';
import { validPoolShape } from './pool-shape.js';
import { poolCode, poolRescale, type PoolWindow } from './pool-kernels.js';
import type { FloatBackwardArgs, FloatGradients, OpDef } from './types.js';

export interface AvgpoolLayer {
  op: 'avgpool';
  name?: string;
  inputs?: string[];
  size: number;
  stride?: number;
}

const avgpoolLayer = layerSchema<AvgpoolLayer>()(
  z.strictObject({
    op: z.literal('avgpool'),
    name: userName.optional(),
    inputs: inputs.optional(),
    size: positiveInt(LIMITS.maxSpatial),
    stride: stride.optional(),
  }),
);

/** The kernels' window: size x size, its stride. */
function window(n: Node): PoolWindow {
  return { ph: n.pool!.size, pw: n.pool!.size, stride: n.pool!.stride };
}

/** y[oh, ow, c] = the mean of x over the window at (oh, ow), channel c. */
function forwardF32(n: Node, [x]: Float32Array[]): Float32Array {
  const [, W, C] = n.inShapes[0]!;
  const [OH, OW] = n.outShape;
  const p = n.pool!;
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

/** Each output gradient, divided by the window's size, adds to every input of its window. */
function backwardF32(n: Node, { gy, wantInputGrad }: FloatBackwardArgs): FloatGradients {
  if (!wantInputGrad) return { inputs: [null] };
  const [H, W, C] = n.inShapes[0]!;
  const [OH, OW] = n.outShape;
  const p = n.pool!;
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
  return { inputs: [gx] };
}

export const avgpool: OpDef<AvgpoolLayer, FixedMultiplier> = {
  kind: 'avgpool',
  layerOp: 'avgpool',
  layer: avgpoolLayer,
  arity: 1,
  shape(layer, [[h, w, c]], fail) {
    const size = layer.size;
    const stride = layer.stride ?? size;
    if (size > h || size > w) fail(`pool ${size} is larger than the ${h}x${w} input`);
    return { outShape: validPoolShape([h, w, c], size, stride), pool: { size, stride } };
  },
  prepare: poolRescale(window),
  float: { forward: forwardF32, backward: backwardF32 },
  program: { forward: ['forward'], backward: ['inputGrad'] },
  codegen: poolCode(window),
};
