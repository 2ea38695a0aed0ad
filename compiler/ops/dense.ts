/**
 * dense: a fully connected layer over the whole (flattened) input, int8 weights
 * [Cout, 1, 1, H*W*C] and an int32 bias, with a fused activation. It runs on the conv
 * kernels as a 1x1 conv over a 1x1 image whose channels are the flattened input.
 */
import type { DenseLayer } from '../ir/model.js';
import type { OpDef } from './types.js';

export const dense: OpDef<DenseLayer> = {
  kind: 'dense',
  layerOp: 'dense',
  arity: 1,
  shape: (layer) => ({ outShape: [1, 1, layer.units] }),
  weights: {
    input: (n) => [1, 1, n.inShapes[0]![0] * n.inShapes[0]![1] * n.inShapes[0]![2]],
    window: () => ({ kh: 1, kw: 1, stride: 1, pad: 0 }),
    depthwise: false,
  },
};
