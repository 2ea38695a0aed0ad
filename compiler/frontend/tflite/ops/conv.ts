/**
 * CONV_2D and DEPTHWISE_CONV_2D -> conv2d (groups 1 or 'depthwise').
 *
 * Weight layouts: CONV_2D's filter is [Cout, KH, KW, Cin] (OHWI), which is tinytrain's
 * conv layout as it is; DEPTHWISE_CONV_2D's is [1, KH, KW, C] and becomes [C, KH, KW, 1].
 * A depthwise conv on one input channel with a depth multiplier M (a first layer on a
 * mono spectrogram or a grey image) is a dense conv with M filters: [1, KH, KW, M] read as
 * [M, KH, KW, 1] is the same weights, so it imports as one. Depth multipliers above 1 on
 * more channels (Cout = M * Cin) are grouped convs tinytrain has no layer for; they are refused.
 */
import { constInput, opError, outputTensor, checkSameDomain, produce, tensorText, windowInput, type OpCall } from '../context.js';
import { BuiltinOptions, CONV_2D_OPTIONS, DEPTHWISE_CONV_2D_OPTIONS } from '../schema.js';
import { fusedActivation, options } from './options.js';
import { layerParams } from './params.js';
import { foldPad, windowOf } from './window.js';

/** [1, KH, KW, C] -> [C, KH, KW, 1]. */
function depthwiseToTinytrain(kh: number, kw: number, ch: number): (w: Float32Array) => Float32Array {
  return (w) => {
    const out = new Float32Array(w.length);
    for (let p = 0; p < kh * kw; p++) for (let k = 0; k < ch; k++) out[k * kh * kw + p] = w[p * ch + k]!;
    return out;
  };
}

function convLike(c: OpCall, depthwise: boolean): void {
  const x = windowInput(c);
  const w = constInput(c, 1, 'filter');
  if (!w) throw opError(c, 'the filter (input 1) is missing');
  if (w.shape.length !== 4) throw opError(c, `filter ${tensorText(w)} has shape [${w.shape}], expected rank 4`);
  const [d0, kh, kw, d3] = w.shape as [number, number, number, number];
  const cin = x.shape.c;
  if (depthwise && d0 !== 1) throw opError(c, `filter ${tensorText(w)} has shape [${w.shape}], expected [1, KH, KW, C]`);
  // One input channel: every output channel reads it, so this is a dense conv (see above).
  const oneChannel = depthwise && cin === 1;
  if (depthwise && !oneChannel && d3 !== cin) {
    throw opError(
      c,
      `depth multiplier ${d3 / cin} (${cin} input channels, ${d3} outputs) is not supported`,
      'tinytrain depthwise convs have one filter per channel (depth_multiplier 1; any multiplier on a single input channel imports as a dense conv)',
    );
  }
  if (!depthwise && d3 !== cin) {
    const grouped = cin % d3 === 0 ? ` (a grouped conv, ${cin / d3} groups)` : '';
    throw opError(c, `filter ${tensorText(w)} takes ${d3} input channels, the input has ${cin}${grouped}`, 'tinytrain convs are dense (groups 1) or depthwise');
  }
  const cout = depthwise ? d3 : d0;
  const f = depthwise ? DEPTHWISE_CONV_2D_OPTIONS : CONV_2D_OPTIONS;
  const o = depthwise ? options(c, BuiltinOptions.DepthwiseConv2DOptions, 'DepthwiseConv2DOptions') : options(c, BuiltinOptions.Conv2DOptions, 'Conv2DOptions');
  if (x.pre) foldPad(c, 'conv', x.pre, false);
  const win = windowOf(c, o, f, x.shape, kh, kw, x.pre);
  const activation = fusedActivation(c, o.int8(f.fusedActivation));
  checkSameDomain(c, [x.tensor], outputTensor(c));
  const params = layerParams(c, x, w, constInput(c, 2, 'bias'), cout, depthwise ? 3 : 0, depthwise ? depthwiseToTinytrain(kh, kw, cout) : (a) => a);
  produce(
    c,
    { kind: 'conv2d', inputs: [x.act], activation, conv: { kh, kw, sh: win.sh, sw: win.sw, pads: win.pads, depthwise: depthwise && !oneChannel, filters: cout }, ...params },
    { kind: 'map', h: win.oh, w: win.ow, c: cout },
  );
}

export const conv2d = (c: OpCall): void => convLike(c, false);
export const depthwiseConv2d = (c: OpCall): void => convLike(c, true);
