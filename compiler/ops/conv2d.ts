/**
 * conv2d: a KHxKW convolution over all input channels, per-output-channel int8 weights
 * [Cout, KH, KW, Cin] and an int32 bias, with a fused activation. The model's `conv2d`
 * without `groups: 'depthwise'` (that one is depthwise-conv2d.ts).
 */
import type { Shape } from '../ir/graph.js';
import type { Conv2dLayer } from '../ir/model.js';
import type { Fail, NodeShape, OpDef } from './types.js';

/** Output size and window of a conv layer (conv2d and depthwise share it). */
export function convShape(layer: Conv2dLayer, [h, w]: Shape, fail: Fail): NodeShape {
  const k = Array.isArray(layer.kernel) ? layer.kernel : [layer.kernel, layer.kernel];
  const stride = layer.stride ?? 1;
  let pad: number;
  if (layer.padding === undefined || layer.padding === 'valid') pad = 0;
  else if (layer.padding === 'same') {
    if (k[0] !== k[1] || k[0]! % 2 === 0) fail("padding 'same' needs a square, odd kernel", 'give padding as a number');
    pad = (k[0]! - 1) / 2;
  } else pad = layer.padding;
  const oh = Math.floor((h + 2 * pad - k[0]!) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k[1]!) / stride) + 1;
  if (oh < 1 || ow < 1) fail(`kernel ${k[0]}x${k[1]} does not fit the ${h}x${w} input`);
  return { outShape: [oh, ow, layer.filters], conv: { kh: k[0]!, kw: k[1]!, stride, pad } };
}

export const conv2d: OpDef<Conv2dLayer> = {
  kind: 'conv2d',
  layerOp: 'conv2d',
  matches: (layer) => layer.groups !== 'depthwise',
  arity: 1,
  shape: (layer, [x], fail) => convShape(layer, x!, fail),
  weights: { input: (n) => n.inShapes[0]!, window: (n) => n.conv!, depthwise: false },
  streamable: true,
};
