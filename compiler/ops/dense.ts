/**
 * dense: a fully connected layer over the whole input (flattened in HWC order), int8 weights
 * [Cout, 1, 1, H*W*C] (symmetric, per output channel), an int32 bias, a fused activation.
 *
 * Kernels: it runs on the conv family (assembly/kernels/conv2d.ts, code in conv-kernels.ts)
 * as a 1x1 conv over a 1x1 image whose channels are the flattened input (its `weights`
 * view), so its trained channels are flattened input values. Frozen, it may run on the
 * sparse kernels (sparse.ts). It does not stream (one output row). Tests:
 * test/ops/dense.test.ts.
 */
import { z } from 'zod';
import type { Node } from '../ir/graph.js';
import { LIMITS } from '../ir/limits.js';
import type { Activation } from '../ir/model.js';
import type { LayerParams } from '../ir/params.js';
import { positiveInt, userName } from '../validate.js';
import { convForward, convInputGrad, paramStepsCode } from './conv-kernels.js';
import { NO_PADS } from './padding.js';
import { activation, inputs, layerSchema } from './layer-fields.js';
import type { FloatBackwardArgs, FloatGradients, OpDef } from './types.js';

export interface DenseLayer {
  op: 'dense';
  name?: string;
  inputs?: string[];
  units: number;
  activation?: Activation;
}

const denseLayer = layerSchema<DenseLayer>()(
  z.strictObject({
    op: z.literal('dense'),
    name: userName.optional(),
    inputs: inputs.optional(),
    units: positiveInt(LIMITS.maxChannels),
    activation: activation.optional(),
  }),
);

/** y[o] = b[o] + the sum over every input value i (HWC order) of w[o, i] * x[i]. */
function forwardF32(n: Node, [x]: Float32Array[], p: LayerParams | undefined): Float32Array {
  const { weight: w, bias: b } = p!;
  const units = n.outShape[2];
  const count = x.length;
  const y = new Float32Array(units);
  for (let o = 0; o < units; o++) {
    let acc = b[o]!;
    const base = o * count;
    for (let i = 0; i < count; i++) acc += w[base + i]! * x[i]!;
    y[o] = acc;
  }
  return y;
}

/** gb = gy, gw = gy x^T, gx = w^T gy. */
function backwardF32(_n: Node, { x: [x], gy, params, wantInputGrad }: FloatBackwardArgs): FloatGradients {
  const w = params!.weight;
  const count = x.length;
  const units = gy.length;
  const gw = new Float32Array(w.length);
  const gb = gy.slice();
  const gx = wantInputGrad ? new Float32Array(count) : null;
  for (let o = 0; o < units; o++) {
    const g = gy[o]!;
    if (g === 0) continue;
    const base = o * count;
    for (let i = 0; i < count; i++) {
      gw[base + i] = g * x[i]!;
      if (gx) gx[i]! += g * w[base + i]!;
    }
  }
  return { inputs: [gx], params: { gw, gb } };
}

export const dense: OpDef<DenseLayer> = {
  kind: 'dense',
  layerOp: 'dense',
  layer: denseLayer,
  arity: 1,
  shape: (layer) => ({ outShape: [1, 1, layer.units] }),
  weights: {
    input: (n) => [1, 1, n.inShapes[0]![0] * n.inShapes[0]![1] * n.inShapes[0]![2]],
    window: () => ({ kh: 1, kw: 1, sh: 1, sw: 1, pads: NO_PADS }),
    depthwise: false,
  },
  float: { forward: forwardF32, backward: backwardF32 },
  program: { forward: ['forward', 'saveSlice'], backward: ['mask', 'inputGrad', 'weightGrad', 'biasGrad'] },
  codegen: { forward: convForward, inputGrad: convInputGrad, ...paramStepsCode() },
};
