/**
 * prelu: y = x for x > 0, alpha * x otherwise, with alpha a tensor of slopes
 * ({ "op": "prelu", "alpha": [0.25, 0.1, ...] }): one slope for every element, one per
 * channel (the usual case: TFLite's [1, 1, C], ONNX's [C, 1, 1], PyTorch's nn.PReLU(C)), or
 * one per element (HWC order). The slopes are constants of the layer: compiled into the
 * frozen image and not trained (training them is not implemented).
 *
 * int8 forward (TFLite's reference PRELU arithmetic: one multiplier s_x / s_y above the
 * input's zero point and s_x * alpha / s_y below it, with this project's one rounding rule):
 *   v = x - zx;  y = clamp(zy + ((v * m + 2^(n-1)) >> n)),  m = v > 0 ? mPos : mNeg[slope]
 * Per channel rather than one 256-entry table per layer (table-activation.ts): C tables of
 * 256 bytes would cost 64 KB of Flash for one 256-channel layer, and PReLU networks have
 * dozens of them; these multipliers cost 4 bytes per slope. |v| <= 255, so every multiplier
 * is kept within 2^22 on one shift n shared by the layer (n <= 30): v * m + 2^(n-1) < 2^31,
 * the whole requantisation runs in 32-bit lanes, and the SIMD build does four channels per
 * i32x4 with exactly the scalar build's integers. The multipliers' precision is then at
 * least 21 bits for the largest, which moves the result only where v * s_x * alpha / s_y is
 * within 255 * 2^-(n+1) output steps of a rounding tie (about 6e-5 steps at n = 21).
 * Against TFLite (which rounds twice, ties away from zero, with 31-bit multipliers and int8
 * slopes) on the same input: at most one output step apart, and only near a tie.
 *
 * Backward: gx = gy where the int8 input is above its zero point, gy * alpha elsewhere
 * (alpha at 0, PyTorch's and TF.js's rule), from the saved int8 input (one byte per element,
 * kept until backward like any saved activation; program.inputGradReads) and a float32
 * table of the slopes in the frozen image. Element-wise: its output may overwrite a dead
 * input (in-place pass). Kernels preluForwardS8 / preluBackwardF32 (assembly/kernels/prelu.ts,
 * records in prelu-kernels.ts). Tests: test/ops/prelu.test.ts.
 */
import { z } from 'zod';
import type { EmitContext } from '../codegen/context.js';
import type { StepOf } from '../codegen/steps/types.js';
import { TinytrainError } from '../errors.js';
import type { FnAttrs, Node } from '../ir/graph.js';
import { LIMITS } from '../ir/limits.js';
import type { QTensor } from '../quantize/quantize.js';
import { real, userName } from '../validate.js';
import { inputs, layerSchema } from './layer-fields.js';
import { PRELU_BACKWARD_KERNEL, PRELU_FORWARD_KERNEL, PRELU_KERNELS } from './prelu-kernels.js';
import type { OpDef } from './types.js';

export interface PreluLayer {
  op: 'prelu';
  name?: string;
  inputs?: string[];
  /** The slopes below 0: one value (every element), C values (one per channel) or H * W * C (one per element, HWC order). */
  alpha: number[];
}

const preluLayer = layerSchema<PreluLayer>()(
  z.strictObject({
    op: z.literal('prelu'),
    name: userName.optional(),
    inputs: inputs.optional(),
    alpha: z
      .array(real, { error: 'expected a list of slopes (numbers)' })
      .min(1, { error: 'expected at least one slope' })
      .max(LIMITS.maxTensorElements, { error: `expected at most ${LIMITS.maxTensorElements} slopes` }),
  }),
);

/** What prepare makes: the multipliers of the int8 forward, and the slopes the backward reads. */
export interface PreluData {
  /** Multiplier above the input's zero point, on shift n. */
  mPos: number;
  /** The shift every multiplier of the layer shares. */
  n: number;
  /** One multiplier per slope, on shift n: [C], or [H * W * C] when perElement. */
  mNeg: Int32Array;
  /** The float32 slopes, as mNeg. */
  slopes: Float32Array;
  /** One slope per element (else one per channel). */
  perElement: boolean;
}

/** The largest multiplier magnitude: v * m with |v| <= 255 and 2^(n-1) <= 2^29 stay below 2^31. */
const M_LIMIT = 2 ** 22;

const slopesOf = (n: Node): readonly number[] => n.fn!.slopes!;

/** One slope per element of the node's input rather than one per channel (or one for all). */
function perElement(n: Pick<Node, 'inShapes'>, slopes: number): boolean {
  const [h, w, c] = n.inShapes[0]!;
  return h * w > 1 && slopes === h * w * c;
}

/** The slope of element i of an [.., C] tensor. */
function slopeAt(slopes: readonly number[], C: number): (i: number) => number {
  if (slopes.length === 1) return () => slopes[0]!;
  if (slopes.length === C) return (i) => slopes[i % C]!;
  return (i) => slopes[i]!;
}

/**
 * The slopes an importer found, HWC, one per element of an [h, w, c] tensor, in the layer's
 * shortest form: one value when they are all equal, one per channel when every position
 * has the same, else all of them.
 */
export function compactSlopes(full: ArrayLike<number>, [h, w, c]: readonly [number, number, number]): number[] {
  const v = Array.from(full, (x) => Math.fround(x));
  if (v.every((x) => x === v[0])) return [v[0]!];
  const channel = v.slice(0, c);
  for (let p = 1; p < h * w; p++) for (let k = 0; k < c; k++) if (v[p * c + k] !== channel[k]) return v;
  return channel;
}

/** The int8 forward's multipliers and the backward's slopes, from the input's and output's quantisation. */
export function preluMultipliers(n: Pick<Node, 'inShapes' | 'fn'>, qin: QTensor, qout: QTensor): PreluData {
  const slopes = n.fn!.slopes!;
  const [h, w, c] = n.inShapes[0]!;
  const each = perElement(n, slopes.length);
  const at = slopeAt(slopes, c);
  const table = Float32Array.from({ length: each ? h * w * c : c }, (_, i) => at(i));
  const pos = qin.scale / qout.scale;
  const neg = Array.from(table, (a) => pos * a);
  const largest = neg.reduce((m, v) => Math.max(m, Math.abs(v)), pos);
  // The largest magnitude in [2^21, 2^22]; smaller ones as they come (no shift above 30, so 2^(n-1) <= 2^29).
  const shift = Math.min(30, 21 - Math.floor(Math.log2(largest)));
  if (!(shift >= 1)) {
    throw new TinytrainError(
      `prelu: the requantisation multiplier ${largest} (input scale x largest slope / output scale) is too large (>= 2^21): the model's quantisation scales are inconsistent`,
      "check the model's calibration ranges and quantization scales (an output scale far smaller than its input's)",
    );
  }
  const fixed = (m: number): number => Math.max(-M_LIMIT, Math.min(M_LIMIT, Math.round(m * 2 ** shift)));
  return { mPos: fixed(pos), n: shift, mNeg: Int32Array.from(neg, fixed), slopes: table, perElement: each };
}

function forwardCode(s: StepOf<'forward'>, c: EmitContext, d: PreluData): string {
  const n = s.node;
  const [h, w, ch] = n.inShapes[0]!;
  const x = n.inputs[0]!;
  const record = {
    x: c.act(x),
    zx: c.zp(x),
    y: c.act(n.output),
    zy: c.zp(n.output),
    mPos: d.mPos,
    n: d.n,
    mNeg: c.constants(n)[0]!,
    slopeStep: d.perElement ? ch : 0,
    P: h * w,
    C: ch,
  };
  return `${c.callKernel(PRELU_FORWARD_KERNEL, record)}; // ${c.label(n)}`;
}

function inputGradCode(s: StepOf<'inputGrad'>, c: EmitContext, d: PreluData): string {
  const n = s.node;
  const [h, w, ch] = n.inShapes[0]!;
  const x = n.inputs[0]!;
  const record = {
    gy: c.grad(n.output),
    x: c.act(x),
    zx: c.zp(x),
    slopes: c.constants(n)[1]!,
    slopeStep: d.perElement ? ch : 0,
    gx: c.grad(s.targets[0]!),
    P: h * w,
    C: ch,
    accumulate: s.accumulate[0]!,
  };
  return `${c.callKernel(PRELU_BACKWARD_KERNEL, record)}; // ${c.label(n)}`;
}

export const prelu: OpDef<PreluLayer, PreluData> = {
  kind: 'prelu',
  layerOp: 'prelu',
  layer: preluLayer,
  arity: 1,
  shape(l, [[h, w, c]], fail) {
    const k = l.alpha.length;
    if (k !== 1 && k !== c && k !== h * w * c) {
      fail(`prelu has ${k} slopes for an input of [${h},${w},${c}]`, `give 1 slope, one per channel (${c}) or one per element (${h * w * c}, HWC order)`);
    }
    const fn: FnAttrs = { alpha: 0, beta: 0, slopes: Array.from(Float32Array.from(l.alpha)) };
    return { outShape: [h, w, c], fn };
  },
  elementwise: true,
  prepare: (n, [qin], qout) => preluMultipliers(n, qin!, qout),
  constants: (d) => [d.mNeg, d.slopes],
  float: {
    // alpha and x are float32: their product in float64 is exact, rounded once into the output (TF.js's float32 multiply);
    // x itself at 0, as TF.js and TFLite (no -0 from a negative slope).
    forward(n, [x]) {
      const at = slopeAt(slopesOf(n), n.inShapes[0]![2]);
      return Float32Array.from(x!, (v, i) => (v < 0 ? at(i) * v : v));
    },
    backward(n, { x: [x], gy, wantInputGrad }) {
      if (!wantInputGrad) return { inputs: [null] };
      const at = slopeAt(slopesOf(n), n.inShapes[0]![2]);
      return { inputs: [Float32Array.from(gy, (g, i) => (x![i]! > 0 ? g : at(i) * g))] };
    },
  },
  program: { forward: ['forward'], backward: ['inputGrad'], inputGradReads: { inputs: [0] } },
  codegen: { forward: forwardCode, inputGrad: inputGradCode },
  kernels: PRELU_KERNELS,
};
