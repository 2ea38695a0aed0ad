/**
 * Backward steps other than parameter updates: what forward saves for backward, the
 * loss, clamp masks, the fused pool/head backward and input gradients (float32).
 */
import { passHi, scratchOf, type EmitContext } from '../context.js';
import { count, inGeom, kGeom, outGeom, poolGeom } from '../geometry.js';
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

/** conv2d and dense: in place (depthwise), on the sparse kernels, or the general case. */
export function convInputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const sl = c.slot(n);
  if (s.inPlace) {
    const k = n.conv!;
    const [H, W, C] = n.inShapes[0]!;
    return (
      `depthwiseBackwardInputInPlaceF32(${c.grad(n.output)}, ${H}, ${W}, ${C}, ${sl.wq}, ${sl.wScale}, ${k.kh}, ${k.kw}, ${k.pad}, ` +
      `${sl.wq2}, ${sl.split}, ${c.mem(s.writes[1]!)}); // ${c.label(n)}: in place`
    );
  }
  if (sl.nz) {
    return (
      `sparse1x1BackwardInputF32(${c.grad(n.output)}, ${n.outShape[0] * n.outShape[1]}, ${n.outShape[2]}, ${sl.nz}, ${sl.nzFormat}, ${sl.wScale}, ` +
      `${c.grad(s.targets[0]!)}, ${inGeom(n)[2]}, ${s.accumulate[0]}, ${scratchOf(c, s)}); // ${c.label(n)} (sparse)`
    );
  }
  return (
    `conv2dBackwardInputF32(${c.grad(n.output)}, ${outGeom(n)}, ${sl.wq}, ${sl.wScale}, ${c.grad(s.targets[0]!)}, ${inGeom(n).join(', ')}, ` +
    `${kGeom(n)}, ${s.accumulate[0]}, ${sl.wq2}, ${sl.split}); // ${c.label(n)}`
  );
}

export function poolInputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const pg = poolGeom(n);
  const [H, W, C] = n.inShapes[0]!;
  return (
    `avgpoolBackwardF32(${c.grad(n.output)}, ${n.outShape[0]}, ${n.outShape[1]}, ${c.grad(s.targets[0]!)}, ${H}, ${W}, ${C}, ` +
    `${pg.ph}, ${pg.pw}, ${pg.stride}, ${s.accumulate[0]}); // ${c.label(n)}`
  );
}

/** add, relu, relu6: the output gradient passes to each input (a clamp's mask was applied by its mask step). */
export function passInputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  return s.targets.map((t, k) => `gradInto(${c.grad(n.output)}, ${c.grad(t)}, ${count(n)}, ${s.accumulate[k]});`).join(' ') + ` // ${c.label(n)}`;
}

export function inputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  switch (s.node.op) {
    case 'conv2d':
    case 'depthwiseConv2d':
    case 'dense':
      return convInputGrad(s, c);
    case 'avgpool':
    case 'globalavgpool':
      return poolInputGrad(s, c);
    case 'add':
    case 'relu':
    case 'relu6':
      return passInputGrad(s, c);
    case 'flatten':
      return `// ${c.label(s.node)}: flatten is a view`;
  }
}
