/**
 * The training steps that are the compiler's own, whatever the op: what forward saves for
 * backward, the loss, clamp masks and the fused pool/head backward. (Each op writes its own
 * forward, input-gradient and parameter steps: compiler/ops/.)
 */
import { passHi, type EmitContext } from '../context.js';
import { count, inGeom } from '../geometry.js';
import { f32 } from '../literals.js';
import type { StepOf } from './types.js';

export function saveSlice(s: StepOf<'saveSlice'>, c: EmitContext): string {
  const n = s.node;
  const [H, W, C] = inGeom(n);
  return `saveChannelsS8(${c.act(n.inputs[0]!)}, ${H * W}, ${C}, ${s.channels}, ${c.mem(s.writes[0]!)}); // ${c.label(n)}: input channels the weight gradient needs`;
}

export function saveMask(s: StepOf<'saveMask'>, c: EmitContext): string {
  const n = s.node;
  return `saveMaskBits(${c.act(n.output)}, ${count(n)}, ${c.clamp(n).lo}, ${passHi(c, n)}, ${c.mem(s.writes[0]!)}); // ${c.label(n)}`;
}

/** Softmax cross-entropy on the int8 logits; the template declares `loss` and `label`. */
export function loss(_s: StepOf<'loss'>, c: EmitContext): string {
  const t = c.logits;
  return `loss = softmaxCrossEntropyS8(${c.act(t)}, ${c.q.graph.classes}, ${f32(c.scale(t))}, ${c.zp(t)}, label, ${c.grad(t)});`;
}

export function mask(s: StepOf<'mask'>, c: EmitContext): string {
  const n = s.node;
  return s.fromBits
    ? `clampBackwardBitsF32(${c.grad(n.output)}, ${c.mem(s.reads[0]!)}, ${count(n)}); // ${c.label(n)}`
    : `clampBackwardF32(${c.grad(n.output)}, ${c.act(n.output)}, ${count(n)}, ${c.clamp(n).lo}, ${passHi(c, n)}); // ${c.label(n)}`;
}

export function gapHeadBackward(s: StepOf<'gapHeadBackward'>, c: EmitContext): string {
  const h = s.head;
  const sl = c.slot(h);
  const P = h.outShape[0] * h.outShape[1];
  const bits = c.memOf(s.reads, 'mask');
  const bg = c.memOf(s.writes, 'bgrad');
  const into = `${s.target ? c.grad(s.target) : 0}, ${s.accumulate}, ${bg}, ${c.mem(s.writes[s.writes.length - 1]!)}`;
  const what = `${c.label(s.node)} + ${c.label(h)}`;
  if (sl.nz) {
    return `sparseGapHeadBackwardF32(${c.grad(s.node.output)}, ${P}, ${h.outShape[2]}, ${bits}, ${sl.nz}, ${sl.nzFormat}, ${sl.wScale}, ${h.inShapes[0]![2]}, ${into}); // ${what} (sparse)`;
  }
  return (
    `gapHeadBackwardF32(${c.grad(s.node.output)}, ${P}, ${h.outShape[2]}, ${bits}, ${sl.wq}, ${sl.wScale}, ${h.inShapes[0]![2]}, ` + `${sl.wq2}, ${sl.split}, ${into}); // ${what}`
  );
}
