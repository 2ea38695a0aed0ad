/**
 * depthwiseConv2d: one KHxKW filter per channel, int8 weights [C, KH, KW, 1] (symmetric, per
 * channel), an int32 bias, a fused activation. In a model file: a `conv2d` layer with
 * `groups: 'depthwise'` (its matches() rule), so its label in generated code and the
 * manifest says conv2d.
 *
 * Kernels: the conv family in assembly/kernels/conv2d.ts with its depthwise flag set
 * (codegen/geometry.ts kernelShape), whose SIMD paths for 3x3 are depthwise3x3RowsS8,
 * depthwise3x3InputGradF32 and depthwise3x3WeightGrads; and its own in-place input
 * gradient, depthwiseBackwardInputInPlaceF32. Its trained channels are its channels, so its
 * weights split along their first axis (memory/layout.ts splitWeights). Passes: it streams
 * row by row when frozen (stream-frozen-chains); a frozen stride-1 same-size one computes
 * its input gradient in place over its output gradient (in-place-depthwise-grad).
 * Tests: test/ops/depthwise-conv2d.test.ts; docs/anatomy-of-an-op.md walks through it all.
 */
import type { EmitContext } from '../codegen/context.js';
import type { StepOf } from '../codegen/steps/types.js';
import type { Node } from '../ir/graph.js';
import type { LayerParams } from '../ir/params.js';
import { conv2dLayer, type Conv2dLayer } from './conv2d-layer.js';
import { convForward, convInputGrad, paramStepsCode, rowsCall } from './conv-kernels.js';
import { convShape } from './conv2d.js';
import type { FloatBackwardArgs, FloatGradients, OpDef } from './types.js';

// The float reference walks the window as conv2d.ts does; its own loops, so that each
// reads as the plain definition of its op (TFLM keeps the two reference kernels apart too).

/** y[oh, ow, c] = b[c] + the sum over the window of x[ih, iw, c] * w[c, kh, kw]: channel c reads only channel c. */
function forwardF32(n: Node, [x]: Float32Array[], p: LayerParams | undefined): Float32Array {
  const [H, W, C] = n.inShapes[0]!;
  const [OH, OW] = n.outShape;
  const a = n.conv!;
  const { weight: w, bias: b } = p!;
  const y = new Float32Array(OH * OW * C);
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++)
      for (let c = 0; c < C; c++) {
        let acc = b[c]!;
        for (let kh = 0; kh < a.kh; kh++) {
          const ih = oh * a.sh - a.pads[0] + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < a.kw; kw++) {
            const iw = ow * a.sw - a.pads[1] + kw;
            if (iw < 0 || iw >= W) continue;
            acc += x[(ih * W + iw) * C + c]! * w[(c * a.kh + kh) * a.kw + kw]!;
          }
        }
        y[(oh * OW + ow) * C + c] = acc;
      }
  return y;
}

/** Transposes forward, channel by channel. */
function backwardF32(n: Node, { x: [x], gy, params, wantInputGrad }: FloatBackwardArgs): FloatGradients {
  const [H, W, C] = n.inShapes[0]!;
  const [OH, OW] = n.outShape;
  const a = n.conv!;
  const w = params!.weight;
  const gw = new Float32Array(w.length);
  const gb = new Float32Array(C);
  const gx = wantInputGrad ? new Float32Array(H * W * C) : null;
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++)
      for (let c = 0; c < C; c++) {
        const g = gy[(oh * OW + ow) * C + c]!;
        if (g === 0) continue;
        gb[c]! += g;
        for (let kh = 0; kh < a.kh; kh++) {
          const ih = oh * a.sh - a.pads[0] + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < a.kw; kw++) {
            const iw = ow * a.sw - a.pads[1] + kw;
            if (iw < 0 || iw >= W) continue;
            const xi = (ih * W + iw) * C + c;
            const wi = (c * a.kh + kh) * a.kw + kw;
            gw[wi]! += g * x[xi]!;
            if (gx) gx[xi]! += g * w[wi]!;
          }
        }
      }
  return { inputs: [gx], params: { gw, gb } };
}

/**
 * In place (passes/in-place-depthwise-grad.ts): the input gradient overwrites the output
 * gradient, keeping kh - pad rows of it in scratch; otherwise the conv kernels' general case.
 */
function inputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  if (!s.inPlace) return convInputGrad(s, c);
  const n = s.node;
  const sl = c.slot(n);
  const k = n.conv!;
  const [H, W, C] = n.inShapes[0]!;
  const weights = { w: sl.wq, wScale: sl.wScale, KH: k.kh, KW: k.kw, pad: k.pads[0], w2: sl.wq2, split: sl.split };
  return `${c.call('depthwiseBackwardInputInPlaceF32', { g: c.grad(n.output), H, W, C, ...weights, scratch: c.mem(s.writes[1]!) })}; // ${c.label(n)}: in place`;
}

export const depthwiseConv2d: OpDef<Conv2dLayer> = {
  kind: 'depthwiseConv2d',
  layerOp: 'conv2d',
  layer: conv2dLayer,
  matches: (layer) => layer.groups === 'depthwise',
  arity: 1,
  shape(layer, [x], fail) {
    if (layer.filters !== x[2]) fail(`a depthwise conv keeps the channel count: filters must be ${x[2]}`);
    return convShape(layer, x!, fail);
  },
  weights: { input: (n) => n.inShapes[0]!, window: (n) => n.conv!, depthwise: true },
  streamable: true,
  float: { forward: forwardF32, backward: backwardF32 },
  program: { forward: ['forward', 'saveSlice'], backward: ['mask', 'inputGrad', 'weightGrad', 'biasGrad'] },
  codegen: { forward: convForward, forwardRows: rowsCall, inputGrad, ...paramStepsCode() },
};
