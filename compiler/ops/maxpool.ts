/**
 * maxpool: the largest value of each PH x PW window (`size`: one number for a square window,
 * or [PH, PW]; `stride` likewise, defaulting to the size per axis), per channel; padding
 * 'valid' (windows inside the input), 'same' (TF's: ceil(H / SH) x ceil(W / SW) outputs, the
 * padding of each axis split with the smaller half before) or per side [top, left, bottom,
 * right] (ONNX's pads; each side less than the window along its axis, so every window holds
 * an input). Padded positions are never the max (as -inf padding, what TF and ONNX do).
 *
 * Ties: the first max in row-major window order (kh, then kw), as TF and ONNX, in the float
 * reference and in the int8 kernels alike; the gradient goes to that one input.
 *
 * int8: the max of the int8 values, so the output shares the input's quantisation (no
 * requantisation, no constants to prepare).
 *
 * Backward reads a mask the forward writes, not the input: one byte per output element, the
 * index of its window's argmax (kh * PW + kw, so windows of up to 256 positions: 16x16,
 * 3x85, 1x256). That is OH*OW*C bytes live from forward to backward against the input's
 * H*W*C: a quarter for the usual 2x2 stride-2 pool, never more (every output has its own
 * window, so OH*OW <= H*W with either padding); and the tensor below, unread in backward,
 * keeps its 1-bit clamp mask instead of its int8 values.
 *
 * Kernels: maxpoolForwardS8 / maxpoolBackwardF32 (assembly/kernels/maxpool.ts, records in
 * maxpool-kernels.ts). Tests: test/ops/maxpool.test.ts.
 */
import { z } from 'zod';
import type { EmitContext } from '../codegen/context.js';
import type { StepOf } from '../codegen/steps/types.js';
import { shapeSize, type Node } from '../ir/graph.js';
import { userName } from '../validate.js';
import { inputs, layerSchema } from './layer-fields.js';
import { explicitPads, type Pads } from './padding.js';
import { poolShape, poolSize, poolStride, type PoolSize } from './pool-shape.js';
import { MAXPOOL_BACKWARD_KERNEL, MAXPOOL_FORWARD_KERNEL, MAXPOOL_KERNELS } from './maxpool-kernels.js';
import type { FloatBackwardArgs, FloatGradients, OpDef } from './types.js';

export interface MaxpoolLayer {
  op: 'maxpool';
  name?: string;
  inputs?: string[];
  /** Window rows and columns: one number for both, or [PH, PW]. */
  size: PoolSize;
  /** One stride for both axes, or [SH, SW]. Default: the size. */
  stride?: PoolSize;
  /** 'valid' (default): only windows inside the input; 'same': ceil(H / SH) x ceil(W / SW) outputs, as TF; or per side [top, left, bottom, right]. */
  padding?: 'valid' | 'same' | Pads;
}

const maxpoolLayer = layerSchema<MaxpoolLayer>()(
  z.strictObject({
    op: z.literal('maxpool'),
    name: userName.optional(),
    inputs: inputs.optional(),
    size: poolSize,
    stride: poolStride.optional(),
    padding: z.union([z.literal('valid'), z.literal('same'), explicitPads], { error: "expected 'valid', 'same' or [top, left, bottom, right]" }).optional(),
  }),
);

/** The most positions a window may have: its argmax index kh * PW + kw must fit the mask's byte. */
const MAX_POSITIONS = 256;

/** A node's window: PH x PW positions, strides per axis and the padding before each axis. */
interface Window {
  ph: number;
  pw: number;
  sh: number;
  sw: number;
  padH: number;
  padW: number;
}

function windowOf(n: Node): Window {
  const { ph, pw, sh, sw, pads } = n.pool!;
  return { ph, pw, sh, sw, padH: pads[0], padW: pads[1] };
}

/** For each output element, the input element that is its window's first max (row-major window order). */
function argmaxes(n: Node, x: Float32Array): Int32Array {
  const [H, W, C] = n.inShapes[0]!;
  const [OH, OW] = n.outShape;
  const { ph, pw, sh, sw, padH, padW } = windowOf(n);
  const at = new Int32Array(OH * OW * C);
  for (let oh = 0; oh < OH; oh++)
    for (let ow = 0; ow < OW; ow++)
      for (let c = 0; c < C; c++) {
        let best = -1;
        for (let kh = 0; kh < ph; kh++) {
          const ih = oh * sh - padH + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < pw; kw++) {
            const iw = ow * sw - padW + kw;
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
  const { ph, pw, sh, sw, padH, padW } = windowOf(n);
  return { PH: ph, PW: pw, strideH: sh, strideW: sw, padH, padW };
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
  shape(layer, [x], fail) {
    const [ph, pw] = typeof layer.size === 'number' ? [layer.size, layer.size] : layer.size;
    if (ph * pw > MAX_POSITIONS) {
      fail(
        `the maxpool window ${ph}x${pw} has ${ph * pw} positions, more than ${MAX_POSITIONS}`,
        "its backward keeps each window's argmax in one byte (16x16 at most, or e.g. 8x32)",
      );
    }
    return poolShape(layer, x!, fail, "padding 'same' pools over the edge");
  },
  sharesInputQuant: true,
  float: { forward: forwardF32, backward: backwardF32 },
  program: { forward: ['forward'], backward: ['inputGrad'], inputGradReads: { mask: (n) => shapeSize(n.outShape) } },
  codegen,
  kernels: MAXPOOL_KERNELS,
};
