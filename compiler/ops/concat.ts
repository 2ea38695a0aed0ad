/**
 * concat: 2 to 8 tensors of one height and width joined along their channels (HWC's last
 * axis), in input order: Inception/Fire modules, DenseNet-like blocks. concat(x, x) is allowed.
 *
 * int8: each input requantised onto the output's grid, y = zy + requant(x - zx, s_x / s_y),
 * with the one rounding rule (a fixed-point multiplier per input, prepared), or copied when
 * its grid is the output's (same scale and zero point: what TFLite's int8 converter gives
 * every input of a CONCATENATION, so an imported model's concat is plain copies). A model
 * built here calibrates each input and the output separately, so its inputs are rescaled.
 * No activation of its own (the inputs' activations are already applied).
 *
 * Not zero-copy: each input is copied into the output buffer by its own kernel call (the
 * planner does not place the inputs inside the output), so the output is a buffer of its
 * own, H*W*sum(C) bytes, alive with its inputs while forward runs.
 *
 * Backward: each input's gradient is its channels of the output gradient (copied, or added
 * when a tensor is joined twice); it reads no forward value, so nothing is kept for it.
 * Kernels concatForwardS8 / concatBackwardF32 (assembly/kernels/concat.ts, records in
 * concat-kernels.ts). Tests: test/ops/concat.test.ts.
 */
import { z } from 'zod';
import type { EmitContext } from '../codegen/context.js';
import type { StepOf } from '../codegen/steps/types.js';
import type { Node } from '../ir/graph.js';
import { quantizeMultiplier, type FixedMultiplier } from '../quantize/fixedpoint.js';
import { userName } from '../validate.js';
import { CONCAT_BACKWARD_KERNEL, CONCAT_FORWARD_KERNEL, CONCAT_KERNELS } from './concat-kernels.js';
import { targetPositions } from './gradient-pass.js';
import { layerSchema, manyInputs } from './layer-fields.js';
import type { OpDef } from './types.js';

export interface ConcatLayer {
  op: 'concat';
  name?: string;
  /** The tensors to join, 2 to 8, of one height and width; their channels follow each other in this order. */
  inputs: string[];
}

const concatLayer = layerSchema<ConcatLayer>()(z.strictObject({ op: z.literal('concat'), name: userName.optional(), inputs: manyInputs }));

/** How one input reaches the output's grid: copied, or requantised by m. */
export interface ConcatPart extends FixedMultiplier {
  copy: boolean;
}

/** The first output channel of each input. */
function offsets(n: Node): number[] {
  let at = 0;
  return n.inShapes.map(([, , c]) => {
    const o = at;
    at += c;
    return o;
  });
}

function forwardCode(s: StepOf<'forward'>, c: EmitContext, parts: readonly ConcatPart[]): string {
  const n = s.node;
  const [h, w, CO] = n.outShape;
  const at = offsets(n);
  const calls = n.inputs.map((t, i) => {
    const { copy, m, n: shift } = parts[i]!;
    const record = { x: c.act(t), zx: c.zp(t), copy, m, n: shift, y: c.act(n.output), zy: c.zp(n.output), P: h * w, C: n.inShapes[i]![2], CO, offset: at[i]! };
    return `${c.callKernel(CONCAT_FORWARD_KERNEL, record)};`;
  });
  return `${calls.join(' ')} // ${c.label(n)}`;
}

function inputGradCode(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const [h, w, CO] = n.outShape;
  const at = offsets(n);
  const calls = targetPositions(s, c).map((pos, k) => {
    const record = { gy: c.grad(n.output), gx: c.grad(s.targets[k]!), P: h * w, C: n.inShapes[pos]![2], CO, offset: at[pos]!, accumulate: s.accumulate[k]! };
    return `${c.callKernel(CONCAT_BACKWARD_KERNEL, record)};`;
  });
  return `${calls.join(' ')} // ${c.label(n)}`;
}

export const concat: OpDef<ConcatLayer, ConcatPart[]> = {
  kind: 'concat',
  layerOp: 'concat',
  layer: concatLayer,
  arity: { min: 2, max: 8 },
  shape(_layer, shapes, fail) {
    const [h, w] = shapes[0]!;
    const other = shapes.find(([hi, wi]) => hi !== h || wi !== w);
    if (other) fail(`concat joins channels of tensors of one height and width, got [${shapes[0]}] and [${other}]`);
    return { outShape: [h, w, shapes.reduce((sum, [, , c]) => sum + c, 0)] };
  },
  prepare: (_n, inputs, qout) => inputs.map((q) => ({ copy: q.scale === qout.scale && q.zp === qout.zp, ...quantizeMultiplier(q.scale / qout.scale) })),
  float: {
    forward(n, xs) {
      const [h, w, CO] = n.outShape;
      const y = new Float32Array(h * w * CO);
      const at = offsets(n);
      xs.forEach((x, i) => {
        const C = n.inShapes[i]![2];
        for (let p = 0; p < h * w; p++) y.set(x.subarray(p * C, (p + 1) * C), p * CO + at[i]!);
      });
      return y;
    },
    backward(n, { gy, wantInputGrad }) {
      if (!wantInputGrad) return { inputs: n.inputs.map(() => null) };
      const [h, w, CO] = n.outShape;
      const at = offsets(n);
      return {
        inputs: n.inShapes.map(([, , C], i) => {
          const g = new Float32Array(h * w * C);
          for (let p = 0; p < h * w; p++) g.set(gy.subarray(p * CO + at[i]!, p * CO + at[i]! + C), p * C);
          return g;
        }),
      };
    },
  },
  program: { forward: ['forward'], backward: ['inputGrad'] },
  codegen: { forward: forwardCode, inputGrad: inputGradCode },
  kernels: CONCAT_KERNELS,
};
