/**
 * mul: the element-wise product of two tensors, the second either of the first's shape or
 * one value per channel, [1, 1, C], broadcast over every position (squeeze-excitation:
 * x * HardSigmoid(conv(GAP(x)))), with a fused activation. mul(x, x) is allowed.
 *
 * int8 forward (TFLite MUL's int8 arithmetic, with this project's one rounding rule):
 *   y = clamp(zy + requant((a - za) * (b - zb), s_a * s_b / s_y), lo, hi)
 * one fixed-point multiplier prepared at quantisation (fixedpoint.ts), the product exact in
 * i32 (|.| <= 255 * 255). Kernels mulForwardS8 / mulBackwardF32 (assembly/kernels/mul.ts,
 * records in mul-kernels.ts); SIMD and scalar builds give the same bytes.
 *
 * Backward: da = gy * b, db = gy * a (per channel: summed over the positions), each from the
 * other operand's saved int8 values, dequantised. So both inputs' activations stay alive
 * until the input gradient runs (program.inputGradReads), where something below trains: for
 * squeeze-excitation that is the block's input (H*W*C bytes, which a conv above would keep
 * for its weight gradient anyway) and the C-byte gate; nothing is saved when nothing below
 * trains. Element-wise: its output may overwrite the first operand (the in-place pass never
 * picks the smaller per-channel one). Tests: test/ops/mul.test.ts.
 */
import { z } from 'zod';
import type { EmitContext } from '../codegen/context.js';
import { count } from '../codegen/geometry.js';
import type { StepOf } from '../codegen/steps/types.js';
import type { Node, Shape } from '../ir/graph.js';
import type { Activation } from '../ir/model.js';
import { quantizeMultiplier, type FixedMultiplier } from '../quantize/fixedpoint.js';
import { userName } from '../validate.js';
import { targetPositions } from './gradient-pass.js';
import { activation, layerSchema } from './layer-fields.js';
import { MUL_BACKWARD_KERNEL, MUL_FORWARD_KERNEL, MUL_KERNELS } from './mul-kernels.js';
import type { OpDef } from './types.js';

export interface MulLayer {
  op: 'mul';
  name?: string;
  /** The two tensors: the second of the first's shape, or [1, 1, C] (one value per channel of the first). */
  inputs: [string, string];
  activation?: Activation;
}

const mulLayer = layerSchema<MulLayer>()(
  z.strictObject({
    op: z.literal('mul'),
    name: userName.optional(),
    inputs: z.tuple([userName, userName], { error: 'expected the names of the two tensors to multiply' }),
    activation: activation.optional(),
  }),
);

/** The second operand is one value per channel (its shape [1, 1, C], the first's is not). */
export function perChannel(n: Pick<Node, 'inShapes'>): boolean {
  const [a, b] = n.inShapes as [Shape, Shape];
  return b[0] * b[1] === 1 && a[0] * a[1] !== 1;
}

/** Positions and channels the kernels walk: [H*W, C] when broadcasting, else one run of every element. */
function walk(n: Node): { P: number; C: number } {
  const [h, w, c] = n.inShapes[0]!;
  return perChannel(n) ? { P: h * w, C: c } : { P: 1, C: count(n) };
}

function forwardCode(s: StepOf<'forward'>, c: EmitContext, m: FixedMultiplier): string {
  const n = s.node;
  const [a, b] = [n.inputs[0]!, n.inputs[1]!];
  const clamp = c.clamp(n);
  const record = {
    a: c.act(a),
    za: c.zp(a),
    b: c.act(b),
    zb: c.zp(b),
    perChannel: perChannel(n),
    m: m.m,
    n: m.n,
    y: c.act(n.output),
    zy: c.zp(n.output),
    lo: clamp.lo,
    hi: clamp.hi,
    ...walk(n),
  };
  return `${c.callKernel(MUL_FORWARD_KERNEL, record)}; // ${c.label(n)}`;
}

/** One call per operand that needs a gradient: gy times the other operand. */
function inputGradCode(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const bcast = perChannel(n);
  const calls = targetPositions(s, c).map((pos, k) => {
    const other = n.inputs[1 - pos]!;
    const record = {
      gy: c.grad(n.output),
      other: c.act(other),
      zo: c.zp(other),
      so: c.scale(other),
      otherPerChannel: bcast && pos === 0,
      gx: c.grad(s.targets[k]!),
      sumPositions: bcast && pos === 1,
      ...walk(n),
      accumulate: s.accumulate[k]!,
    };
    return `${c.callKernel(MUL_BACKWARD_KERNEL, record)};`;
  });
  return `${calls.join(' ')} // ${c.label(n)}`;
}

export const mul: OpDef<MulLayer, FixedMultiplier> = {
  kind: 'mul',
  layerOp: 'mul',
  layer: mulLayer,
  arity: 2,
  shape(_layer, [a, b], fail) {
    const [h, w, c] = a!;
    const same = b![0] === h && b![1] === w && b![2] === c;
    const channelwise = b![0] === 1 && b![1] === 1 && b![2] === c;
    if (!same && !channelwise) fail(`mul needs equal shapes or a second input of one value per channel [1,1,${c}], got [${a}] and [${b}]`, 'put the full-size tensor first');
    return { outShape: [h, w, c] };
  },
  elementwise: true,
  prepare: (_n, [qa, qb], qout) => quantizeMultiplier((qa!.scale * qb!.scale) / qout.scale),
  float: {
    forward(n, [a, b]) {
      // Loops, not Float32Array.from(a, fn) (V8's iterator path, several times slower); same values.
      const C = perChannel(n) ? b!.length : a!.length;
      const y = new Float32Array(a!.length);
      for (let i = 0; i < y.length; i++) y[i] = a![i]! * b![i % C]!;
      return y;
    },
    backward(n, { x: [a, b], gy, wantInputGrad }) {
      if (!wantInputGrad) return { inputs: [null, null] };
      const C = perChannel(n) ? b!.length : a!.length;
      const ga = new Float32Array(gy.length);
      for (let i = 0; i < ga.length; i++) ga[i] = gy[i]! * b![i % C]!;
      // Per channel: summed over the positions in order, in float64 (rounded once at the end).
      const sums = new Float64Array(C);
      for (let i = 0; i < gy.length; i++) sums[i % C]! += gy[i]! * a![i]!;
      return { inputs: [ga, Float32Array.from(sums)] };
    },
  },
  program: { forward: ['forward'], backward: ['mask', 'inputGrad'], inputGradReads: { inputs: [0, 1] } },
  codegen: { forward: forwardCode, inputGrad: inputGradCode },
  kernels: MUL_KERNELS,
};
