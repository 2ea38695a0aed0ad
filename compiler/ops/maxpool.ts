/**
 * maxpool: the largest value of each size x size window (stride defaults to the size), per
 * channel; padding 'valid' (windows inside the input), 'same' (TF's: ceil(H / stride)
 * outputs, the padding split with the smaller half before) or per side [top, left, bottom,
 * right] (ONNX's pads; each side less than the size, so every window holds an input).
 * Padded positions are never the max (as -inf padding, what TF and ONNX do).
 *
 * Ties: the first max in row-major window order (kh, then kw), as TF and ONNX, in the float
 * reference and in the int8 kernels alike; the gradient goes to that one input.
 *
 * int8: the max of the int8 values, so the output shares the input's quantisation (no
 * requantisation, no constants to prepare).
 *
 * Backward reads a mask the forward writes, not the input: one byte per output element, the
 * index of its window's argmax (kh * size + kw, so windows up to 16x16). That is
 * OH*OW*C bytes live from forward to backward against the input's H*W*C: a quarter for
 * the usual 2x2 stride-2 pool, never more (every output has its own window, so OH*OW <=
 * H*W with either padding); and the tensor below, unread in backward, keeps its 1-bit
 * clamp mask instead of its int8 values.
 *
 * Kernels: maxpoolForwardS8 / maxpoolBackwardF32 (assembly/kernels/maxpool.ts, records in
 * maxpool-kernels.ts). Tests: test/ops/maxpool.test.ts.
 */
import { z } from 'zod';
import type { EmitContext } from '../codegen/context.js';
import type { StepOf } from '../codegen/steps/types.js';
import { shapeSize, type Node } from '../ir/graph.js';
import { LIMITS } from '../ir/limits.js';
import { positiveInt, userName } from '../validate.js';
import { inputs, layerSchema, stride } from './layer-fields.js';
import { explicitPads, NO_PADS, paddedOutput, padsText, type Pads } from './padding.js';
import { poolPads } from './pool-shape.js';
import { MAXPOOL_BACKWARD_KERNEL, MAXPOOL_FORWARD_KERNEL, MAXPOOL_KERNELS } from './maxpool-kernels.js';
import type { FloatBackwardArgs, FloatGradients, OpDef } from './types.js';

export interface MaxpoolLayer {
  op: 'maxpool';
  name?: string;
  inputs?: string[];
  /** Window rows and columns. */
  size: number;
  /** Default: the size. */
  stride?: number;
  /** 'valid' (default): only windows inside the input; 'same': ceil(H / stride) x ceil(W / stride) outputs, as TF; or per side [top, left, bottom, right]. */
  padding?: 'valid' | 'same' | Pads;
}

const maxpoolLayer = layerSchema<MaxpoolLayer>()(
  z.strictObject({
    op: z.literal('maxpool'),
    name: userName.optional(),
    inputs: inputs.optional(),
    size: positiveInt(LIMITS.maxSpatial),
    stride: stride.optional(),
    padding: z.union([z.literal('valid'), z.literal('same'), explicitPads], { error: "expected 'valid', 'same' or [top, left, bottom, right]" }).optional(),
  }),
);

/** The largest window whose argmax index fits the mask's byte. */
const MAX_SIZE = 16;

/** A node's window: size, stride and the padding before each axis. */
interface Window {
  size: number;
  stride: number;
  padH: number;
  padW: number;
}

function windowOf(n: Node): Window {
  const { size, stride, pads } = n.pool!;
  return { size, stride, padH: pads[0], padW: pads[1] };
}

/** For each output element, the input element that is its window's first max (row-major window order). */
function argmaxes(n: Node, x: Float32Array): Int32Array {
  const [H, W, C] = n.inShapes[0]!;
  const [OH, OW] = n.outShape;
  const { size, stride, padH, padW } = windowOf(n);
  const at = new Int32Array(OH * OW * C);
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++)
      for (let c = 0; c < C; c++) {
        let best = -1;
        for (let kh = 0; kh < size; kh++) {
          const ih = oh * stride - padH + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < size; kw++) {
            const iw = ow * stride - padW + kw;
            if (iw < 0 || iw >= W) continue;
            const i = (ih * W + iw) * C + c;
            if (best < 0 || x[i]! > x[best]!) best = i;
          }
        }
        at[(oh * OW + ow) * C + c] = best;
      }
  return at;
}

/** y[oh, ow, c] = the max of x over the window at (oh, ow), channel c. */
function forwardF32(n: Node, [x]: Float32Array[]): Float32Array {
  // A loop, not Float32Array.from(at, fn): V8's iterator path made this a tenth of pretraining a maxpool CNN.
  const at = argmaxes(n, x!);
  const y = new Float32Array(at.length);
  for (let o = 0; o < at.length; o++) y[o] = x![at[o]!]!;
  return y;
}

/** Each output gradient goes to its window's first max. */
function backwardF32(n: Node, { x: [x], gy, wantInputGrad }: FloatBackwardArgs): FloatGradients {
  if (!wantInputGrad) return { inputs: [null] };
  const gx = new Float32Array(shapeSize(n.inShapes[0]!));
  const at = argmaxes(n, x!);
  for (let o = 0; o < at.length; o++) gx[at[o]!]! += gy[o]!;
  return { inputs: [gx] };
}

/** The window fields both kernels' records share. */
function windowFields(n: Node) {
  const { size, stride, padH, padW } = windowOf(n);
  return { PH: size, PW: size, stride, padH, padW };
}

const codegen = {
  forward(s: StepOf<'forward'>, c: EmitContext): string {
    const n = s.node;
    const [H, W, C] = n.inShapes[0]!;
    const out = { y: c.act(n.output), OH: n.outShape[0], OW: n.outShape[1], mask: c.memOf(s.writes, 'save') };
    return `${c.callKernel(MAXPOOL_FORWARD_KERNEL, { x: c.act(n.inputs[0]!), H, W, C, ...out, ...windowFields(n) })}; // ${c.label(n)}`;
  },
  inputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
    const n = s.node;
    const [H, W, C] = n.inShapes[0]!;
    const from = { gy: c.grad(n.output), OH: n.outShape[0], OW: n.outShape[1], mask: c.memOf(s.reads, 'save') };
    const into = { gx: c.grad(s.targets[0]!), H, W, C, accumulate: s.accumulate[0]! };
    return `${c.callKernel(MAXPOOL_BACKWARD_KERNEL, { ...from, ...into, ...windowFields(n) })}; // ${c.label(n)}`;
  },
};

export const maxpool: OpDef<MaxpoolLayer> = {
  kind: 'maxpool',
  layerOp: 'maxpool',
  layer: maxpoolLayer,
  arity: 1,
  shape(layer, [[h, w, c]], fail) {
    const size = layer.size;
    const stride = layer.stride ?? size;
    if (size > MAX_SIZE) fail(`maxpool ${size}x${size} is larger than ${MAX_SIZE}x${MAX_SIZE}`, "its backward keeps each window's argmax in one byte");
    const pads = poolPads(layer.padding, [h, w], size, stride, fail);
    if (pads === NO_PADS && (size > h || size > w)) fail(`pool ${size} is larger than the ${h}x${w} input`, "padding 'same' pools over the edge");
    const [oh, ow] = paddedOutput([h, w], size, size, stride, pads);
    if (oh < 1 || ow < 1) fail(`pool ${size} does not fit the ${h}x${w} input padded by ${padsText(pads)}`);
    return { outShape: [oh, ow, c], pool: { size, stride, pads } };
  },
  sharesInputQuant: true,
  float: { forward: forwardF32, backward: backwardF32 },
  program: { forward: ['forward'], backward: ['inputGrad'], inputGradReads: { mask: (n) => shapeSize(n.outShape) } },
  codegen,
  kernels: MAXPOOL_KERNELS,
};
