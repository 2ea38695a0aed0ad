/**
 * add: the element-wise sum of two tensors of one shape (a residual connection), each
 * rescaled onto the output's quantisation, with a fused activation. add(x, x) is allowed.
 *
 * Kernels: addS8 (assembly/kernels/eltwise.ts) forward; backward passes the output gradient
 * to both inputs with gradInto (gradient-pass.ts). Passes: element-wise, so its output may
 * overwrite a dead input (in-place-elementwise). Tests: test/ops/add.test.ts.
 */
import type { EmitContext } from '../codegen/context.js';
import { count } from '../codegen/geometry.js';
import type { StepOf } from '../codegen/steps/types.js';
import { z } from 'zod';
import type { Activation } from '../ir/model.js';
import { quantizeAdd, type AddMultipliers } from '../quantize/fixedpoint.js';
import { userName } from '../validate.js';
import { passInputGrad } from './gradient-pass.js';
import { activation, layerSchema } from './layer-fields.js';
import type { OpDef } from './types.js';

export interface AddLayer {
  op: 'add';
  name?: string;
  inputs: [string, string];
  activation?: Activation;
}

const addLayer = layerSchema<AddLayer>()(
  z.strictObject({
    op: z.literal('add'),
    name: userName.optional(),
    inputs: z.tuple([userName, userName], { error: 'expected the names of the two tensors to add' }),
    activation: activation.optional(),
  }),
);

/** Both inputs rescaled onto a common grid, added, the sum rescaled onto the output and clamped, as TFLite's ADD (assembly/kernels/eltwise.ts). */
function forwardCode(s: StepOf<'forward'>, c: EmitContext, m: AddMultipliers): string {
  const n = s.node;
  const [a, b] = [n.inputs[0]!, n.inputs[1]!];
  const clamp = c.clamp(n);
  const inputs = { a: c.act(a), za: c.zp(a), ma: m.a.m, na: m.a.n, b: c.act(b), zb: c.zp(b), mb: m.b.m, nb: m.b.n };
  return `${c.call('addS8', { ...inputs, my: m.out.m, ny: m.out.n, y: c.act(n.output), zy: c.zp(n.output), lo: clamp.lo, hi: clamp.hi, count: count(n) })}; // ${c.label(n)}`;
}

export const add: OpDef<AddLayer, AddMultipliers> = {
  kind: 'add',
  layerOp: 'add',
  layer: addLayer,
  arity: 2,
  shape(_layer, [a, b], fail) {
    const [h, w, c] = a!;
    if (b![0] !== h || b![1] !== w || b![2] !== c) fail(`add needs equal shapes, got [${a}] and [${b}]`);
    return { outShape: [h, w, c] };
  },
  elementwise: true,
  prepare: (_n, [qa, qb], qout) => quantizeAdd(qa!.scale, qb!.scale, qout.scale),
  float: {
    forward(_n, [a, b]) {
      const y = new Float32Array(a!.length);
      for (let i = 0; i < y.length; i++) y[i] = a![i]! + b![i]!;
      return y;
    },
    /** The output gradient passes to each input unchanged (a copy each: add(x, x) adds the two). */
    backward: (_n, { gy, wantInputGrad }) => ({ inputs: wantInputGrad ? [gy.slice(), gy.slice()] : [null, null] }),
  },
  program: { forward: ['forward'], backward: ['mask', 'inputGrad'] },
  codegen: { forward: forwardCode, inputGrad: passInputGrad },
};
