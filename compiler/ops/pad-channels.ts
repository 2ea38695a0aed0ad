/**
 * padchannels: zero channels appended to a feature map ({ "op": "padchannels", "after": k }:
 * [H, W, C] -> [H, W, C + k]). What TFLite's PAD on the channel axis does in the shortcut of
 * a residual block whose conv branch has more channels (BlazeFace, MediaPipe's hand recrop
 * model), so that the ADD after it joins [C + k] with [C + k]. Only appended channels: a
 * model that pads channels before its own (or pads height and width too in the same PAD) is
 * refused by the importers with that reason.
 *
 * int8: the first C channels are the input on the output's grid, y = zy + requant(x - zx,
 * s_x / s_y) with the one rounding rule, or copied when the grids are one (a TFLite PAD keeps
 * its input's scale and zero point, so an imported model's pad copies); the appended
 * channels hold zy, the output's real 0. No activation of its own.
 *
 * Backward: the input's gradient is the output gradient's first C channels (concat's
 * backward kernel for its first input, offset 0): it reads no forward value, so nothing is
 * kept for it. Not in place: the output is wider than its input. Kernels padChannelsForwardS8
 * (assembly/kernels/pad-channels.ts, record in pad-channels-kernels.ts) and
 * concatBackwardF32. Tests: test/ops/pad-channels.test.ts.
 */
import { z } from 'zod';
import type { EmitContext } from '../codegen/context.js';
import type { StepOf } from '../codegen/steps/types.js';
import { LIMITS } from '../ir/limits.js';
import { quantizeMultiplier } from '../quantize/fixedpoint.js';
import { positiveInt, userName } from '../validate.js';
import { CONCAT_BACKWARD_KERNEL } from './concat-kernels.js';
import type { ConcatPart } from './concat.js';
import { inputs, layerSchema } from './layer-fields.js';
import { PAD_CHANNELS_FORWARD_KERNEL } from './pad-channels-kernels.js';
import type { OpDef } from './types.js';

export interface PadChannelsLayer {
  op: 'padchannels';
  name?: string;
  inputs?: string[];
  /** How many zero channels follow the input's. */
  after: number;
}

const padChannelsLayer = layerSchema<PadChannelsLayer>()(
  z.strictObject({ op: z.literal('padchannels'), name: userName.optional(), inputs: inputs.optional(), after: positiveInt(LIMITS.maxChannels) }),
);

function forwardCode(s: StepOf<'forward'>, c: EmitContext, part: ConcatPart): string {
  const n = s.node;
  const [h, w, CO] = n.outShape;
  const x = n.inputs[0]!;
  const record = { x: c.act(x), zx: c.zp(x), copy: part.copy, m: part.m, n: part.n, y: c.act(n.output), zy: c.zp(n.output), P: h * w, C: n.inShapes[0]![2], CO };
  return `${c.callKernel(PAD_CHANNELS_FORWARD_KERNEL, record)}; // ${c.label(n)}`;
}

function inputGradCode(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const [h, w, CO] = n.outShape;
  const record = { gy: c.grad(n.output), gx: c.grad(s.targets[0]!), P: h * w, C: n.inShapes[0]![2], CO, offset: 0, accumulate: s.accumulate[0]! };
  return `${c.callKernel(CONCAT_BACKWARD_KERNEL, record)}; // ${c.label(n)}`;
}

export const padChannels: OpDef<PadChannelsLayer, ConcatPart> = {
  kind: 'padchannels',
  layerOp: 'padchannels',
  layer: padChannelsLayer,
  arity: 1,
  shape(l, [[h, w, c]], fail) {
    if (c + l.after > LIMITS.maxChannels) fail(`padchannels makes ${c + l.after} channels, more than ${LIMITS.maxChannels}`);
    return { outShape: [h, w, c + l.after] };
  },
  prepare: (_n, [q], qout) => ({ copy: q!.scale === qout.scale && q!.zp === qout.zp, ...quantizeMultiplier(q!.scale / qout.scale) }),
  float: {
    forward(n, [x]) {
      const [h, w, CO] = n.outShape;
      const C = n.inShapes[0]![2];
      const y = new Float32Array(h * w * CO);
      for (let p = 0; p < h * w; p++) y.set(x!.subarray(p * C, (p + 1) * C), p * CO);
      return y;
    },
    backward(n, { gy, wantInputGrad }) {
      if (!wantInputGrad) return { inputs: [null] };
      const [h, w, CO] = n.outShape;
      const C = n.inShapes[0]![2];
      const g = new Float32Array(h * w * C);
      for (let p = 0; p < h * w; p++) g.set(gy.subarray(p * CO, p * CO + C), p * C);
      return { inputs: [g] };
    },
  },
  program: { forward: ['forward'], backward: ['inputGrad'] },
  codegen: { forward: forwardCode, inputGrad: inputGradCode },
  kernels: [PAD_CHANNELS_FORWARD_KERNEL, CONCAT_BACKWARD_KERNEL],
};
