/**
 * The generated code and quantisation of the average pools: avgpool and globalavgpool run
 * on one kernel pair (assembly/kernels/pool.ts), told apart by the window they pass.
 */
import type { EmitContext } from '../codegen/context.js';
import type { StepOf } from '../codegen/steps/types.js';
import type { Node } from '../ir/graph.js';
import { quantizeMultiplier, type FixedMultiplier } from '../quantize/fixedpoint.js';
import type { QTensor } from '../quantize/quantize.js';
import { NO_PADS, type Pads } from './padding.js';

/**
 * A pool's window as the kernels take it: ph x pw positions, strides between rows (sh) and
 * columns (sw), padding per side (a global pool: one window over the whole input, no
 * padding); `byValidTaps`: a window that hangs over the edge divides by the inputs it holds
 * (TFLite, ONNX count_include_pad 0), not by ph * pw.
 */
export interface PoolWindow {
  ph: number;
  pw: number;
  sh: number;
  sw: number;
  pads: Pads;
  byValidTaps: boolean;
}

/** A window over the whole input (global pooling). */
export function wholeInput(n: Node): PoolWindow {
  return { ph: n.inShapes[0]![0], pw: n.inShapes[0]![1], sh: 1, sw: 1, pads: NO_PADS, byValidTaps: false };
}

/**
 * A pool's rescales: `m` of a full window's sum (s_in / (s_out * ph * pw)); `byCount`, for
 * a padded pool dividing by its valid taps, the multiplier and shift of a sum of k values
 * at entry k - 1 (int32 pairs), which the kernel picks by each window's count. `mean`:
 * input and output share one quantisation, so no rescale is needed and the kernel takes
 * TFLite's integer mean instead (the raw window sum divided by the window's size, 1, or
 * by the inputs it holds, 2, rounded half away from zero), as TFLite's int8 AVERAGE_POOL_2D
 * computes it; m and byCount are then unused. (A pool counting padding in its divisor keeps
 * the rescale: TFLite has no such pool.)
 */
export interface PoolRescale {
  m: FixedMultiplier;
  byCount?: Int32Array;
  mean?: 1 | 2;
}

/** Whether some window of this pool divides by fewer than ph * pw values. */
function countsVary(w: PoolWindow): boolean {
  return w.byValidTaps && w.pads.some((p) => p > 0);
}

export function poolRescale(window: (n: Node) => PoolWindow) {
  return (n: Node, [qin]: QTensor[], qout: QTensor): PoolRescale => {
    const w = window(n);
    const m = quantizeMultiplier(qin!.scale / (qout.scale * (w.ph * w.pw)));
    // TFLite's integer mean where it applies: one quantisation, and every window either full or divided by the inputs it holds
    if (qin!.scale === qout.scale && qin!.zp === qout.zp && (countsVary(w) || !w.pads.some((p) => p > 0))) return { m, mean: countsVary(w) ? 2 : 1 };
    if (!countsVary(w)) return { m };
    const byCount = new Int32Array(2 * w.ph * w.pw);
    for (let k = 1; k <= w.ph * w.pw; k++) {
      const mk = quantizeMultiplier(qin!.scale / (qout.scale * k));
      byCount[2 * (k - 1)] = mk.m;
      byCount[2 * (k - 1) + 1] = mk.n;
    }
    return { m, byCount };
  };
}

/** The window fields both kernels' records share. */
function windowFields(pg: PoolWindow) {
  return { PH: pg.ph, PW: pg.pw, strideH: pg.sh, strideW: pg.sw, padH: pg.pads[0], padW: pg.pads[1] };
}

/** The forward and input-gradient code of a pool with this window. */
export function poolCode(window: (n: Node) => PoolWindow) {
  return {
    forward(s: StepOf<'forward'>, c: EmitContext, d: PoolRescale): string {
      const n = s.node;
      const x = n.inputs[0]!;
      const [H, W, C] = n.inShapes[0]!;
      const pool = { ...windowFields(window(n)), m: d.m.m, n: d.m.n, counts: d.byCount ? c.constants(n)[0]! : 0, mean: d.mean ?? 0 };
      const out = { y: c.act(n.output), OH: n.outShape[0], OW: n.outShape[1], zy: c.zp(n.output) };
      return `${c.call('avgpoolForwardS8', { x: c.act(x), H, W, C, zx: c.zp(x), ...out, ...pool })}; // ${c.label(n)}`;
    },
    inputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
      const n = s.node;
      const pg = window(n);
      const [H, W, C] = n.inShapes[0]!;
      const pool = { ...windowFields(pg), byValidTaps: countsVary(pg) };
      const into = { gx: c.grad(s.targets[0]!), H, W, C, accumulate: s.accumulate[0]! };
      return `${c.call('avgpoolBackwardF32', { gy: c.grad(n.output), OH: n.outShape[0], OW: n.outShape[1], ...into, ...pool })}; // ${c.label(n)}`;
    },
  };
}
