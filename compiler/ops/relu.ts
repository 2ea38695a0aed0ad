/**
 * relu and relu6 as layers of their own: a clamp of the input to [0, inf) or [0, 6]. The
 * same clamp as a conv's, dense's or add's fused activation, so their rules are the ones
 * every clamp has: its int8 bounds in quantisation (QuantModel.clamps), its mask step in
 * backward (clampBackwardF32 from the int8 output, or from 1-bit masks: the bit-masks pass).
 *
 * Kernels: clampS8 (assembly/kernels/eltwise.ts) forward; backward, after the mask, passes
 * the gradient on with gradInto (gradient-pass.ts). Passes: element-wise, so its output may
 * overwrite a dead input (in-place-elementwise). Tests: test/ops/relu.test.ts.
 */
import type { EmitContext } from '../codegen/context.js';
import { count } from '../codegen/geometry.js';
import type { StepOf } from '../codegen/steps/types.js';
import { activate, activationBackward } from '../float/kernels.js';
import type { Activation } from '../ir/model.js';
import { passInputGrad } from './gradient-pass.js';
import { plainLayer, type PlainLayer } from './layer-fields.js';
import type { OpDef } from './types.js';

/** A clamp to the output's int8 range (its bounds are the quantised clamp, QuantModel.clamps). */
function forwardCode(s: StepOf<'forward'>, c: EmitContext): string {
  const n = s.node;
  const clamp = c.clamp(n);
  return `${c.call('clampS8', { x: c.act(n.inputs[0]!), y: c.act(n.output), count: count(n), lo: clamp.lo, hi: clamp.hi })}; // ${c.label(n)}`;
}

function clampOp<K extends 'relu' | 'relu6'>(kind: K): OpDef<PlainLayer<K>> {
  const clamp: Activation = kind;
  return {
    kind,
    layerOp: kind,
    layer: plainLayer(kind),
    arity: 1,
    shape: (_layer, [[h, w, c]]) => ({ outShape: [h, w, c] }),
    clamp,
    elementwise: true,
    sharesInputQuant: true,
    float: {
      forward: (_n, [x]) => activate(x!.slice(), clamp),
      /** Passes where the output is strictly inside the clamp. */
      backward: (_n, { y, gy, wantInputGrad }) => ({ inputs: [wantInputGrad ? activationBackward(gy, y, clamp) : null] }),
    },
    program: { forward: ['forward'], backward: ['mask', 'inputGrad'] },
    codegen: { forward: forwardCode, inputGrad: passInputGrad },
  };
}

export const relu = clampOp('relu');
export const relu6 = clampOp('relu6');
