/**
 * The generated code of the ops with weights: conv2d, depthwiseConv2d and dense all run on
 * one kernel family (assembly/kernels/conv2d.ts, stepping by update.ts; a frozen pointwise layer on
 * sparse.ts), told apart by the geometry they pass (codegen/geometry.ts: kGeom ends with
 * the depthwise flag; dense is a 1x1 conv over a 1x1 image of its flattened input). Each
 * op's module takes the functions here for its OpDef.codegen.
 */
import type { Node } from '../ir/graph.js';
import { inputScale, scratchOf, type EmitContext } from '../codegen/context.js';
import { inGeom, kGeom, kShape, outGeom } from '../codegen/geometry.js';
import type { StepOf } from '../codegen/steps/types.js';

/** Pruned frozen 1x1 layers run on the sparse kernels (assembly/kernels/sparse.ts) from their non-zero list. */
export function sparseForward(c: EmitContext, n: Node, x: string, P: string | number, y: string, scratch: number): string {
  const sl = c.slot(n);
  const clamp = c.clamp(n);
  return (
    `sparse1x1ForwardS8(${x}, ${P}, ${inGeom(n)[2]}, ${c.zp(n.inputs[0]!)}, ${sl.nz}, ${sl.nzFormat}, ${sl.bq}, ${sl.mult}, ${sl.shift}, ` +
    `${y}, ${n.outShape[2]}, ${c.zp(n.output)}, ${clamp.lo}, ${clamp.hi}, ${scratch})`
  );
}

/** conv2d, depthwise and dense (a 1x1 conv), dense or sparse kernels. */
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

/** Arguments of conv2dForwardRowsS8 for node n reading `x` and writing `y`, up to the row range. */
export function convRowArgs(c: EmitContext, n: Node, x: number, y: number): string {
  const sl = c.slot(n);
  const clamp = c.clamp(n);
  return (
    `${x}, ${inGeom(n).join(', ')}, ${c.zp(n.inputs[0]!)}, ${sl.wq}, ${sl.bq}, ${sl.mult}, ${sl.shift}, ` +
    `${y}, ${outGeom(n)}, ${c.zp(n.output)}, ${clamp.lo}, ${clamp.hi}, ${kGeom(n)}, ${sl.wq2}, ${sl.split}`
  );
}

/** One output row of a streamed conv (a sparse 1x1 reads just input row `row`). */
export function rowsCall(c: EmitContext, n: Node, x: number, y: number, row: string, inRing: number, outRing: number, scratch: number): string {
  if (!c.slot(n).nz) return `conv2dForwardRowsS8(${convRowArgs(c, n, x, y)}, ${row}, ${row} + 1, ${inRing}, ${outRing})`;
  const [, W, C] = n.inShapes[0]!;
  const at = (base: number, ring: number, bytes: number): string => `${base} + <usize>((${ring ? `(${row}) % ${ring}` : row}) * ${bytes})`;
  return sparseForward(c, n, at(x, inRing, W * C), W, at(y, outRing, W * n.outShape[2]), scratch);
}

/** Input gradient on the sparse kernels, or the general case. */
export function convInputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const sl = c.slot(n);
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

// Parameter steps: weight and bias updates fused into backward, or (no reordering) their
// gradients into wgrad/bgrad buffers applied by later steps. Update kernels read the
// template's `lr`, MOMENTUM, QAS and ROUNDING_RNG.

/** Arguments both weight-gradient kernels start with: output gradient, the saved input and its quantisation. */
function weightGradHead(s: StepOf<'weightUpdate' | 'weightGrad'>, c: EmitContext): string {
  const n = s.node;
  const [H, W] = inGeom(n);
  return `${c.grad(n.output)}, ${outGeom(n)}, ${c.mem(s.x)}, ${H}, ${W}, ${s.xChannels}, ${c.zp(n.inputs[0]!)}, ${inputScale(c, n)}`;
}

export function weightUpdate(s: StepOf<'weightUpdate'>, c: EmitContext): string {
  const n = s.node;
  const sl = c.slot(n);
  return `conv2dWeightUpdateS8(${weightGradHead(s, c)}, ${sl.wq}, ${sl.wScale}, ${sl.velW}, ${kGeom(n)}, ${s.channels}, lr, MOMENTUM, QAS, ROUNDING_RNG); // ${c.label(n)}`;
}

export function weightGrad(s: StepOf<'weightGrad'>, c: EmitContext): string {
  return `conv2dWeightGradF32(${weightGradHead(s, c)}, ${kGeom(s.node)}, ${s.channels}, ${c.mem(s.writes[0]!)}); // ${c.label(s.node)}`;
}

export function applyWeight(s: StepOf<'applyWeight'>, c: EmitContext): string {
  const n = s.node;
  const sl = c.slot(n);
  return (
    `applyWeightUpdateS8(${c.mem(s.reads[0]!)}, ${s.gradChannels}, ${n.outShape[2]}, ${kShape(n)}, ${sl.wq}, ${sl.wScale}, ${sl.velW}, ` +
    `${s.channels}, lr, MOMENTUM, QAS, ROUNDING_RNG); // ${c.label(n)}`
  );
}

/** The arguments both bias-update kernels end with (closing the call and its comment). */
function biasUpdateTail(c: EmitContext, n: Node): string {
  const sl = c.slot(n);
  return `${sl.bq}, ${sl.wScale}, ${inputScale(c, n)}, ${sl.velB}, lr, MOMENTUM, QAS, ROUNDING_RNG); // ${c.label(n)}`;
}

export function biasUpdate(s: StepOf<'biasUpdate'>, c: EmitContext): string {
  const n = s.node;
  return `biasUpdateAllS32(${c.grad(n.output)}, ${n.outShape[0] * n.outShape[1]}, ${n.outShape[2]}, ${biasUpdateTail(c, n)}`;
}

export function biasGrad(s: StepOf<'biasGrad'>, c: EmitContext): string {
  const n = s.node;
  return `biasGradF32(${c.grad(n.output)}, ${n.outShape[0] * n.outShape[1]}, ${n.outShape[2]}, ${c.mem(s.writes[0]!)}); // ${c.label(n)}`;
}

export function applyBias(s: StepOf<'applyBias'>, c: EmitContext): string {
  return `applyBiasUpdateS32(${c.mem(s.reads[0]!)}, ${s.node.outShape[2]}, ${biasUpdateTail(c, s.node)}`;
}

/**
 * The code of the parameter steps, the same for every op with weights. A function, not a
 * constant: op modules are evaluated inside import cycles (they use the compiler's helpers,
 * which dispatch through the registry), where only function declarations are ready.
 */
export function paramStepsCode() {
  return { weightUpdate, weightGrad, applyWeight, biasUpdate, biasGrad, applyBias };
}
