/** Forward steps: one kernel call per node, int8 in and int8 out. */
import type { Node } from '../../ir/graph.js';
import { scratchOf, type EmitContext } from '../context.js';
import { count, inGeom, kGeom, outGeom, poolGeom } from '../geometry.js';
import type { StepOf } from './types.js';

/** Pruned frozen 1x1 layers run on the sparse kernels (assembly/kernels/sparse.ts) from their non-zero list. */
export function sparseForward(c: EmitContext, n: Node, x: string, P: string | number, y: string, scratch: number): string {
  const sl = c.slot(n);
  const clamp = c.clamp(n);
  return (
    `sparse1x1ForwardS8(${x}, ${P}, ${inGeom(n)[2]}, ${c.zp(n.inputs[0]!)}, ${sl.nz}, ${sl.nzFormat}, ${sl.bq}, ${sl.mult}, ${sl.shift}, ` +
    `${y}, ${n.outShape[2]}, ${c.zp(n.output)}, ${clamp.lo}, ${clamp.hi}, ${scratch})`
  );
}

/** conv2d and dense (a 1x1 conv), dense or sparse kernels. */
export function convForward(s: StepOf<'forward'>, c: EmitContext): string {
  const n = s.node;
  const x = n.inputs[0]!;
  const sl = c.slot(n);
  const clamp = c.clamp(n);
  if (sl.nz) return `${sparseForward(c, n, String(c.act(x)), n.outShape[0] * n.outShape[1], String(c.act(n.output)), scratchOf(c, s))}; // ${c.label(n)} (sparse)`;
  return (
    `conv2dForwardS8(${c.act(x)}, ${inGeom(n).join(', ')}, ${c.zp(x)}, ${sl.wq}, ${sl.bq}, ${sl.mult}, ${sl.shift}, ` +
    `${c.act(n.output)}, ${outGeom(n)}, ${c.zp(n.output)}, ${clamp.lo}, ${clamp.hi}, ${kGeom(n)}, ${sl.wq2}, ${sl.split}); // ${c.label(n)}`
  );
}

export function addForward(s: StepOf<'forward'>, c: EmitContext): string {
  const n = s.node;
  const [a, b] = [n.inputs[0]!, n.inputs[1]!];
  const m = c.q.adds.get(n.name)!;
  const clamp = c.clamp(n);
  return (
    `addS8(${c.act(a)}, ${c.zp(a)}, ${m.ma}, ${c.act(b)}, ${c.zp(b)}, ${m.mb}, ${m.n}, ${c.act(n.output)}, ${c.zp(n.output)}, ` +
    `${clamp.lo}, ${clamp.hi}, ${count(n)}); // ${c.label(n)}`
  );
}

/** avgpool and globalavgpool (one window over the whole input). */
export function poolForward(s: StepOf<'forward'>, c: EmitContext): string {
  const n = s.node;
  const x = n.inputs[0]!;
  const m = c.q.pools.get(n.name)!;
  const pg = poolGeom(n);
  const [H, W, C] = n.inShapes[0]!;
  return (
    `avgpoolForwardS8(${c.act(x)}, ${H}, ${W}, ${C}, ${c.zp(x)}, ${c.act(n.output)}, ${n.outShape[0]}, ${n.outShape[1]}, ` +
    `${c.zp(n.output)}, ${pg.ph}, ${pg.pw}, ${pg.stride}, ${m.m}, ${m.n}); // ${c.label(n)}`
  );
}

/** relu and relu6: a clamp to the output's int8 range. */
export function clampForward(s: StepOf<'forward'>, c: EmitContext): string {
  const n = s.node;
  const clamp = c.clamp(n);
  return `clampS8(${c.act(n.inputs[0]!)}, ${c.act(n.output)}, ${count(n)}, ${clamp.lo}, ${clamp.hi}); // ${c.label(n)}`;
}

export function forward(s: StepOf<'forward'>, c: EmitContext): string {
  switch (s.node.op) {
    case 'conv2d':
    case 'depthwiseConv2d':
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
