/**
 * globalavgpool: the average of every position, per channel: [H, W, C] -> [1, 1, C].
 *
 * Kernels: the avgpool pair (assembly/kernels/pool.ts) with one window over the whole input
 * (pool-kernels.ts). Passes: its backward broadcasts one value per channel, so when it reads
 * a frozen 1x1 conv the two backward steps fuse into one (fuse-pool-head, the
 * gapHeadBackwardF32 kernel). Tests: test/ops/global-avgpool.test.ts.
 */
import type { Node } from '../ir/graph.js';
import { plainLayer, type PlainLayer } from './layer-fields.js';
import { poolCode, poolRescale, wholeInput, type PoolRescale } from './pool-kernels.js';
import type { FloatBackwardArgs, FloatGradients, OpDef } from './types.js';

/** y[c] = the sum of x[p, c] over the H*W positions p, divided by H*W. */
function forwardF32(n: Node, [x]: Float32Array[]): Float32Array {
  const [H, W, C] = n.inShapes[0]!;
  const y = new Float32Array(C);
  for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) y[c]! += x[p * C + c]!;
  for (let c = 0; c < C; c++) y[c]! /= H * W;
  return y;
}

/** Every position gets gy[c] / (H*W). */
function backwardF32(n: Node, { gy, wantInputGrad }: FloatBackwardArgs): FloatGradients {
  if (!wantInputGrad) return { inputs: [null] };
  const [H, W, C] = n.inShapes[0]!;
  const gx = new Float32Array(H * W * C);
  for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) gx[p * C + c] = gy[c]! / (H * W);
  return { inputs: [gx] };
}

export const globalAvgpool: OpDef<PlainLayer<'globalavgpool'>, PoolRescale> = {
  kind: 'globalavgpool',
  layerOp: 'globalavgpool',
  layer: plainLayer('globalavgpool'),
  arity: 1,
  shape: (_layer, [[, , c]]) => ({ outShape: [1, 1, c] }),
  globalPool: true,
  prepare: poolRescale(wholeInput),
  float: { forward: forwardF32, backward: backwardF32 },
  program: { forward: ['forward'], backward: ['inputGrad'] },
  codegen: poolCode(wholeInput),
};
