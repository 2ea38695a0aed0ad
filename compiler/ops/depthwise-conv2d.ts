/**
 * depthwiseConv2d: one KHxKW filter per channel (weights [C, KH, KW, 1]) and an int32 bias,
 * with a fused activation. In a model file it is a `conv2d` with `groups: 'depthwise'`.
 */
import type { Conv2dLayer } from '../ir/model.js';
import { convShape } from './conv2d.js';
import type { OpDef } from './types.js';

export const depthwiseConv2d: OpDef<Conv2dLayer> = {
  kind: 'depthwiseConv2d',
  layerOp: 'conv2d',
  matches: (layer) => layer.groups === 'depthwise',
  arity: 1,
  shape(layer, [x], fail) {
    if (layer.filters !== x![2]) fail(`a depthwise conv keeps the channel count: filters must be ${x![2]}`);
    return convShape(layer, x!, fail);
  },
  weights: { input: (n) => n.inShapes[0]!, window: (n) => n.conv!, depthwise: true },
  streamable: true,
};
