/**
 * conv2d: a KHxKW convolution over all input channels, int8 weights [Cout, KH, KW, Cin]
 * (symmetric, per output channel), an int32 bias, a fused activation. In a model file: a
 * `conv2d` layer without `groups: 'depthwise'` (that one is depthwise-conv2d.ts).
 *
 * Kernels: the conv family in assembly/kernels/conv2d.ts (forward, forward rows, input
 * gradient, weight and bias gradients and fused updates, whose step rule is update.ts;
 * SIMD variants in conv2d-*-simd.ts); a frozen 1x1 stride-1 unpadded one may run on the sparse
 * kernels (sparse.ts, see compiler/pruning/prune.ts isPointwise). The code is in
 * conv-kernels.ts, shared with depthwise and dense. Passes: it streams row by row when
 * frozen (stream-frozen-chains), and a frozen 1x1 one feeding a global pool fuses its
 * backward with the pool's (fuse-pool-head). Tests: test/ops/conv2d.test.ts.
 */
import type { Node, Shape } from '../ir/graph.js';
import type { LayerParams } from '../ir/params.js';
import { conv2dLayer, type Conv2dLayer } from './conv2d-layer.js';
import { convForward, convInputGrad, paramStepsCode, rowsCall } from './conv-kernels.js';
import { isExplicit, NO_PADS, paddedOutput, strideHW, uniformPads, type Pads } from './padding.js';
import type { FloatBackwardArgs, FloatGradients, Fail, NodeShape, OpDef } from './types.js';

/** The per-side padding of a conv layer's `padding` field. */
function convPads(padding: Conv2dLayer['padding'], [kh, kw]: [number, number], fail: Fail): Pads {
  if (padding === undefined || padding === 'valid') return NO_PADS;
  if (isExplicit(padding)) return padding;
  if (padding !== 'same') return uniformPads(padding);
  if (kh % 2 === 0 || kw % 2 === 0) fail(`padding 'same' needs an odd kernel (this one is ${kh}x${kw})`, 'give padding as [top, left, bottom, right]');
  const [ph, pw] = [(kh - 1) / 2, (kw - 1) / 2];
  return [ph, pw, ph, pw];
}

/** Output size and window of a conv layer (conv2d and depthwise share it). */
export function convShape(layer: Conv2dLayer, [h, w]: Shape, fail: Fail): NodeShape {
  const k: [number, number] = Array.isArray(layer.kernel) ? layer.kernel : [layer.kernel, layer.kernel];
  const [sh, sw] = strideHW(layer.stride ?? 1);
  const pads = convPads(layer.padding, k, fail);
  const [oh, ow] = paddedOutput([h, w], k[0], k[1], [sh, sw], pads);
  if (oh < 1 || ow < 1) fail(`kernel ${k[0]}x${k[1]} does not fit the ${h}x${w} input`);
  return { outShape: [oh, ow, layer.filters], conv: { kh: k[0], kw: k[1], sh, sw, pads } };
}

/** y[oh, ow, co] = b[co] + the sum over the window and every input channel ci of x[ih, iw, ci] * w[co, kh, kw, ci]. */
function forwardF32(n: Node, [x]: Float32Array[], p: LayerParams | undefined): Float32Array {
  const [H, W, C] = n.inShapes[0]!;
  const [OH, OW, CO] = n.outShape;
  const a = n.conv!;
  const { weight: w, bias: b } = p!;
  const y = new Float32Array(OH * OW * CO);
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++)
      for (let co = 0; co < CO; co++) {
        let acc = b[co]!;
        for (let kh = 0; kh < a.kh; kh++) {
          const ih = oh * a.sh - a.pads[0] + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < a.kw; kw++) {
            const iw = ow * a.sw - a.pads[1] + kw;
            if (iw < 0 || iw >= W) continue;
            const xb = (ih * W + iw) * C;
            const wb = ((co * a.kh + kh) * a.kw + kw) * C;
            for (let ci = 0; ci < C; ci++) acc += x[xb + ci]! * w[wb + ci]!;
          }
        }
        y[(oh * OW + ow) * CO + co] = acc;
      }
  return y;
}

/** Transposes forward: each output gradient adds to its bias, its weights' (times the input) and its inputs' (times the weight). */
function backwardF32(n: Node, { x: [x], gy, params, wantInputGrad }: FloatBackwardArgs): FloatGradients {
  const [H, W, C] = n.inShapes[0]!;
  const [OH, OW, CO] = n.outShape;
  const a = n.conv!;
  const w = params!.weight;
  const gw = new Float32Array(w.length);
  const gb = new Float32Array(CO);
  const gx = wantInputGrad ? new Float32Array(H * W * C) : null;
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++)
      for (let co = 0; co < CO; co++) {
        const g = gy[(oh * OW + ow) * CO + co]!;
        if (g === 0) continue;
        gb[co]! += g;
        for (let kh = 0; kh < a.kh; kh++) {
          const ih = oh * a.sh - a.pads[0] + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < a.kw; kw++) {
            const iw = ow * a.sw - a.pads[1] + kw;
            if (iw < 0 || iw >= W) continue;
            const xb = (ih * W + iw) * C;
            const wb = ((co * a.kh + kh) * a.kw + kw) * C;
            for (let ci = 0; ci < C; ci++) {
              gw[wb + ci]! += g * x[xb + ci]!;
              if (gx) gx[xb + ci]! += g * w[wb + ci]!;
            }
          }
        }
      }
  return { inputs: [gx], params: { gw, gb } };
}

export const conv2d: OpDef<Conv2dLayer> = {
  kind: 'conv2d',
  layerOp: 'conv2d',
  layer: conv2dLayer,
  matches: (layer) => layer.groups !== 'depthwise',
  arity: 1,
  shape: (layer, [x], fail) => convShape(layer, x!, fail),
  weights: { input: (n) => n.inShapes[0]!, window: (n) => n.conv!, depthwise: false },
  streamable: true,
  float: { forward: forwardF32, backward: backwardF32 },
  program: { forward: ['forward', 'saveSlice'], backward: ['mask', 'inputGrad', 'weightGrad', 'biasGrad'] },
  codegen: { forward: convForward, forwardRows: rowsCall, inputGrad: convInputGrad, ...paramStepsCode() },
};
