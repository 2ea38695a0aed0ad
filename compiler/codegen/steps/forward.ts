/** Forward steps: one kernel call per node, int8 in and int8 out. */
import type { Node } from '../../ir/graph.js';
import { scratchOf, type EmitContext } from '../context.js';
import { count, inGeom, inShape, kernelShape, outShape, poolGeom } from '../geometry.js';
import type { StepOf } from './types.js';

/** The record of a pruned frozen 1x1 layer on the sparse kernels (assembly/kernels/sparse.ts), but where it reads and writes. */
export function sparseForwardFields(c: EmitContext, n: Node, scratch: number) {
  const sl = c.slot(n);
  const clamp = c.clamp(n);
  const weights = { CI: inGeom(n)[2], zx: c.zp(n.inputs[0]!), nz: sl.nz!, format: sl.nzFormat!, bias: sl.bq, mult: sl.mult, shift: sl.shift };
  return { ...weights, CO: n.outShape[2], zy: c.zp(n.output), lo: clamp.lo, hi: clamp.hi, scratch };
}

/** The record of a conv2d / dense forward (assembly/kernels/conv2d.ts), but where it reads and writes. */
export function convForwardFields(c: EmitContext, n: Node) {
  const sl = c.slot(n);
  const clamp = c.clamp(n);
  const input = { ...inShape(n), zx: c.zp(n.inputs[0]!), w: sl.wq, bias: sl.bq, mult: sl.mult, shift: sl.shift };
  return { ...input, ...outShape(n), zy: c.zp(n.output), lo: clamp.lo, hi: clamp.hi, ...kernelShape(n), w2: sl.wq2, split: sl.split };
}

/** conv2d and dense (a 1x1 conv), dense or sparse kernels. */
export function convForward(s: StepOf<'forward'>, c: EmitContext): string {
  const n = s.node;
  const [x, y] = [c.act(n.inputs[0]!), c.act(n.output)];
  if (c.slot(n).nz) {
    return `${c.call('sparse1x1ForwardS8', { ...sparseForwardFields(c, n, scratchOf(c, s)), x, P: n.outShape[0] * n.outShape[1], y })}; // ${c.label(n)} (sparse)`;
  }
  return `${c.call('conv2dForwardS8', { ...convForwardFields(c, n), x, y })}; // ${c.label(n)}`;
}

export function addForward(s: StepOf<'forward'>, c: EmitContext): string {
  const n = s.node;
  const [a, b] = [n.inputs[0]!, n.inputs[1]!];
  const m = c.q.adds.get(n.name)!;
  const clamp = c.clamp(n);
  const inputs = { a: c.act(a), za: c.zp(a), ma: m.ma, b: c.act(b), zb: c.zp(b), mb: m.mb };
  return `${c.call('addS8', { ...inputs, n: m.n, y: c.act(n.output), zy: c.zp(n.output), lo: clamp.lo, hi: clamp.hi, count: count(n) })}; // ${c.label(n)}`;
}

/** avgpool and globalavgpool (one window over the whole input). */
export function poolForward(s: StepOf<'forward'>, c: EmitContext): string {
  const n = s.node;
  const x = n.inputs[0]!;
  const m = c.q.pools.get(n.name)!;
  const pg = poolGeom(n);
  const [H, W, C] = n.inShapes[0]!;
  const window = { PH: pg.ph, PW: pg.pw, stride: pg.stride, m: m.m, n: m.n };
  return `${c.call('avgpoolForwardS8', { x: c.act(x), H, W, C, zx: c.zp(x), y: c.act(n.output), OH: n.outShape[0], OW: n.outShape[1], zy: c.zp(n.output), ...window })}; // ${c.label(n)}`;
}

/** relu and relu6: a clamp to the output's int8 range. */
export function clampForward(s: StepOf<'forward'>, c: EmitContext): string {
  const n = s.node;
  const clamp = c.clamp(n);
  return `${c.call('clampS8', { x: c.act(n.inputs[0]!), y: c.act(n.output), count: count(n), lo: clamp.lo, hi: clamp.hi })}; // ${c.label(n)}`;
}

export function forward(s: StepOf<'forward'>, c: EmitContext): string {
  switch (s.node.op) {
    case 'conv2d':
    case 'dense':
      return convForward(s, c);
    case 'add':
      return addForward(s, c);
    case 'avgpool':
    case 'globalavgpool':
      return poolForward(s, c);
    case 'relu':
    case 'relu6':
      return clampForward(s, c);
    case 'flatten':
      return `// ${c.label(s.node)}: flatten is a view`;
  }
}
