/**
 * The training steps that are the compiler's own, whatever the op: what forward saves for
 * backward, the loss, clamp masks and the fused pool/head backward. (Each op writes its own
 * forward, input-gradient and parameter steps: compiler/ops/.)
 */
import { passHi, type EmitContext } from '../context.js';
import { count, inGeom } from '../geometry.js';
import type { StepOf } from './types.js';
import { targetKind } from '../../loss.js';

export function saveSlice(s: StepOf<'saveSlice'>, c: EmitContext): string {
  const n = s.node;
  const [H, W, C] = inGeom(n);
  const call = c.call('saveChannelsS8', { x: c.act(n.inputs[0]!), P: H * W, C, K: s.channels, out: c.mem(s.writes[0]!) });
  return `${call}; // ${c.label(n)}: input channels the weight gradient needs`;
}

export function saveMask(s: StepOf<'saveMask'>, c: EmitContext): string {
  const n = s.node;
  return `${c.call('saveMaskBits', { y: c.act(n.output), count: count(n), lo: c.clamp(n).lo, hi: passHi(c, n), bits: c.mem(s.writes[0]!) })}; // ${c.label(n)}`;
}

/**
 * The program's loss on the int8 outputs (compiler/loss.ts); the template declares `loss`
 * and `label`. A target-value loss reads the K float32 targets the host wrote to the target
 * buffer; one-output bce stores the label there as its target first.
 */
export function loss(_s: StepOf<'loss'>, c: EmitContext): string {
  const t = c.logits;
  const outputs = { logits: c.act(t), count: c.q.graph.classes, scale: c.scale(t), zp: c.zp(t), grad: c.grad(t) };
  const kind = c.p.loss;
  if (kind === 'softmax-ce') return `loss = ${c.call('softmaxCrossEntropyS8', outputs, 'label')};`;
  const call = c.call(kind === 'bce' ? 'sigmoidBceS8' : 'meanSquaredErrorS8', { ...outputs, target: c.target });
  return targetKind(kind, outputs.count) === 'label' ? `store<f32>(${c.target}, <f32>label); loss = ${call};` : `loss = ${call};`;
}

export function mask(s: StepOf<'mask'>, c: EmitContext): string {
  const n = s.node;
  const call = s.fromBits
    ? c.call('clampBackwardBitsF32', { g: c.grad(n.output), bits: c.mem(s.reads[0]!), count: count(n) })
    : c.call('clampBackwardF32', { g: c.grad(n.output), y: c.act(n.output), count: count(n), lo: c.clamp(n).lo, hi: passHi(c, n) });
  return `${call}; // ${c.label(n)}`;
}

export function gapHeadBackward(s: StepOf<'gapHeadBackward'>, c: EmitContext): string {
  const h = s.head;
  const sl = c.slot(h);
  const pool = { gpool: c.grad(s.node.output), P: h.outShape[0] * h.outShape[1], CO: h.outShape[2], bits: c.memOf(s.reads, 'mask'), wScale: sl.wScale, CI: h.inShapes[0]![2] };
  const into = { gx: s.target ? c.grad(s.target) : 0, accumulate: s.accumulate, bgrad: c.memOf(s.writes, 'bgrad'), scratch: c.mem(s.writes[s.writes.length - 1]!) };
  const what = `${c.label(s.node)} + ${c.label(h)}`;
  if (sl.nz) return `${c.call('sparseGapHeadBackwardF32', { ...pool, nz: sl.nz, format: sl.nzFormat!, ...into })}; // ${what} (sparse)`;
  return `${c.call('gapHeadBackwardF32', { ...pool, w: sl.wq, w2: sl.wq2, split: sl.split, ...into })}; // ${what}`;
}
