/**
 * The generated code and quantisation of the average pools: avgpool and globalavgpool run
 * on one kernel pair (assembly/kernels/pool.ts), told apart by the window they pass.
 */
import type { EmitContext } from '../codegen/context.js';
import type { StepOf } from '../codegen/steps/types.js';
import type { Node } from '../ir/graph.js';
import { quantizeMultiplier, type FixedMultiplier } from '../quantize/fixedpoint.js';
import type { QTensor } from '../quantize/quantize.js';

/** A pool's window as the kernels take it: ph x pw positions, stride (a global pool: one window over the whole input). */
export interface PoolWindow {
  ph: number;
  pw: number;
  stride: number;
}

/** The rescale of a pool's sum of ph*pw int8 values to its output: s_in / (s_out * ph * pw). */
export function poolRescale(window: (n: Node) => PoolWindow) {
  return (n: Node, [qin]: QTensor[], qout: QTensor): FixedMultiplier => {
    const { ph, pw } = window(n);
    return quantizeMultiplier(qin!.scale / (qout.scale * (ph * pw)));
  };
}

/** The forward and input-gradient code of a pool with this window. */
export function poolCode(window: (n: Node) => PoolWindow) {
  return {
    forward(s: StepOf<'forward'>, c: EmitContext, m: FixedMultiplier): string {
      const n = s.node;
      const x = n.inputs[0]!;
      const pg = window(n);
      const [H, W, C] = n.inShapes[0]!;
      const pool = { PH: pg.ph, PW: pg.pw, stride: pg.stride, m: m.m, n: m.n };
      const out = { y: c.act(n.output), OH: n.outShape[0], OW: n.outShape[1], zy: c.zp(n.output) };
      return `${c.call('avgpoolForwardS8', { x: c.act(x), H, W, C, zx: c.zp(x), ...out, ...pool })}; // ${c.label(n)}`;
    },
    inputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
      const n = s.node;
      const pg = window(n);
      const [H, W, C] = n.inShapes[0]!;
      const pool = { PH: pg.ph, PW: pg.pw, stride: pg.stride };
      const into = { gx: c.grad(s.targets[0]!), H, W, C, accumulate: s.accumulate[0]! };
      return `${c.call('avgpoolBackwardF32', { gy: c.grad(n.output), OH: n.outShape[0], OW: n.outShape[1], ...into, ...pool })}; // ${c.label(n)}`;
    },
  };
}
