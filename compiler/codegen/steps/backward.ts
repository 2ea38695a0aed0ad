/**
 * Backward steps other than parameter updates: what forward saves for backward, the
 * loss, clamp masks, the fused pool/head backward and input gradients (float32).
 */
import { passHi, scratchOf, type EmitContext } from '../context.js';
import { count, inGeom, inShape, kernelShape, outShape, poolGeom } from '../geometry.js';
import type { StepOf } from './types.js';

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

/** Softmax cross-entropy on the int8 logits; the template declares `loss` and `label`. */
export function loss(_s: StepOf<'loss'>, c: EmitContext): string {
  const t = c.logits;
  return `loss = ${c.call('softmaxCrossEntropyS8', { logits: c.act(t), count: c.q.graph.classes, scale: c.scale(t), zp: c.zp(t), grad: c.grad(t) }, 'label')};`;
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

/** conv2d and dense: in place (depthwise), on the sparse kernels, or the general case. */
export function convInputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const sl = c.slot(n);
  const gy = c.grad(n.output);
  if (s.inPlace) {
    const k = n.conv!;
    const [H, W, C] = n.inShapes[0]!;
    const weights = { w: sl.wq, wScale: sl.wScale, KH: k.kh, KW: k.kw, pad: k.pad, w2: sl.wq2, split: sl.split };
    return `${c.call('depthwiseBackwardInputInPlaceF32', { g: gy, H, W, C, ...weights, scratch: c.mem(s.writes[1]!) })}; // ${c.label(n)}: in place`;
  }
  const into = { gx: c.grad(s.targets[0]!), accumulate: s.accumulate[0]! };
  if (sl.nz) {
    const weights = { nz: sl.nz, format: sl.nzFormat!, wScale: sl.wScale, CO: n.outShape[2], CI: inGeom(n)[2] };
    return `${c.call('sparse1x1BackwardInputF32', { ...weights, gy, P: n.outShape[0] * n.outShape[1], ...into, scratch: scratchOf(c, s) })}; // ${c.label(n)} (sparse)`;
  }
  const weights = { w: sl.wq, wScale: sl.wScale, w2: sl.wq2, split: sl.split };
  return `${c.call('conv2dBackwardInputF32', { gy, ...outShape(n), ...weights, ...inShape(n), ...kernelShape(n), ...into })}; // ${c.label(n)}`;
}

export function poolInputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const pg = poolGeom(n);
  const [H, W, C] = n.inShapes[0]!;
  const window = { PH: pg.ph, PW: pg.pw, stride: pg.stride };
  const call = c.call('avgpoolBackwardF32', {
    gy: c.grad(n.output),
    OH: n.outShape[0],
    OW: n.outShape[1],
    gx: c.grad(s.targets[0]!),
    H,
    W,
    C,
    ...window,
    accumulate: s.accumulate[0]!,
  });
  return `${call}; // ${c.label(n)}`;
}

/** add, relu, relu6: the output gradient passes to each input (a clamp's mask was applied by its mask step). */
export function passInputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const calls = s.targets.map((t, k) => `${c.call('gradInto', { src: c.grad(n.output), dst: c.grad(t), count: count(n), accumulate: s.accumulate[k]! })};`);
  return `${calls.join(' ')} // ${c.label(n)}`;
}

export function inputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  switch (s.node.op) {
    case 'conv2d':
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
