/**
 * The generated code of the ops with weights: conv2d, depthwiseConv2d and dense all run on
 * one kernel family (assembly/kernels/conv2d.ts, stepping by update.ts; a frozen pointwise layer on
 * sparse.ts), told apart by the geometry in their records (codegen/geometry.ts: kernelShape
 * carries the depthwise flag; dense is a 1x1 conv over a 1x1 image of its flattened input).
 * Each call passes its parameter record (compiler/formats/kernel-records.ts, placed by
 * EmitContext.call). Each op's module takes the functions here for its OpDef.codegen.
 */
import type { Node } from '../ir/graph.js';
import { inputScale, scratchOf, type EmitContext } from '../codegen/context.js';
import { inGeom, inShape, kernelShape, kernelSize, outShape } from '../codegen/geometry.js';
import type { StepOf } from '../codegen/steps/types.js';

/** The record of a pruned frozen 1x1 layer on the sparse kernels (assembly/kernels/sparse.ts), but where it reads and writes. */
function sparseForwardFields(c: EmitContext, n: Node, scratch: number) {
  const sl = c.slot(n);
  const clamp = c.clamp(n);
  const weights = { CI: inGeom(n)[2], zx: c.zp(n.inputs[0]!), nz: sl.nz!, format: sl.nzFormat!, bias: sl.bq, mult: sl.mult, shift: sl.shift };
  return { ...weights, CO: n.outShape[2], zy: c.zp(n.output), lo: clamp.lo, hi: clamp.hi, scratch };
}

/** The record of a conv2d / depthwise / dense forward (assembly/kernels/conv2d.ts), but where it reads and writes. */
function convForwardFields(c: EmitContext, n: Node) {
  const sl = c.slot(n);
  const clamp = c.clamp(n);
  const input = { ...inShape(n), zx: c.zp(n.inputs[0]!), w: sl.wq, bias: sl.bq, mult: sl.mult, shift: sl.shift };
  return { ...input, ...outShape(n), zy: c.zp(n.output), lo: clamp.lo, hi: clamp.hi, ...kernelShape(n), w2: sl.wq2, split: sl.split };
}

/** conv2d, depthwise and dense (a 1x1 conv), dense or sparse kernels. */
export function convForward(s: StepOf<'forward'>, c: EmitContext): string {
  const n = s.node;
  const [x, y] = [c.act(n.inputs[0]!), c.act(n.output)];
  if (c.slot(n).nz) {
    return `${c.call('sparse1x1ForwardS8', { ...sparseForwardFields(c, n, scratchOf(c, s)), x, P: n.outShape[0] * n.outShape[1], y })}; // ${c.label(n)} (sparse)`;
  }
  return `${c.call('conv2dForwardS8', { ...convForwardFields(c, n), x, y })}; // ${c.label(n)}`;
}

/**
 * One output row of a streamed conv reading buffer `x` and writing `y`, rings of inRing /
 * outRing rows (0: the whole tensor); a sparse 1x1 reads just input row `row`.
 */
export function rowsCall(c: EmitContext, n: Node, x: number, y: number, row: string, inRing: number, outRing: number, scratch: number): string {
  if (!c.slot(n).nz) return c.call('conv2dForwardRowsS8', { ...convForwardFields(c, n), x, y, inRing, outRing }, row, `${row} + 1`);
  return c.call('sparse1x1ForwardRowS8', { ...sparseForwardFields(c, n, scratch), x, W: n.inShapes[0]![1], y, inRing, outRing }, row);
}

/** Input gradient on the sparse kernels, or the general case. */
export function convInputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
  const n = s.node;
  const sl = c.slot(n);
  const gy = c.grad(n.output);
  const into = { gx: c.grad(s.targets[0]!), accumulate: s.accumulate[0]! };
  if (sl.nz) {
    const weights = { nz: sl.nz, format: sl.nzFormat!, wScale: sl.wScale, CO: n.outShape[2], CI: inGeom(n)[2] };
    return `${c.call('sparse1x1BackwardInputF32', { ...weights, gy, P: n.outShape[0] * n.outShape[1], ...into, scratch: scratchOf(c, s) })}; // ${c.label(n)} (sparse)`;
  }
  const weights = { w: sl.wq, wScale: sl.wScale, w2: sl.wq2, split: sl.split };
  return `${c.call('conv2dBackwardInputF32', { gy, ...outShape(n), ...weights, ...inShape(n), ...kernelShape(n), ...into })}; // ${c.label(n)}`;
}

// Parameter steps: weight and bias updates fused into backward, or (no reordering) their
// gradients into wgrad/bgrad buffers applied by later steps. Update kernels take the
// template's `lr`, MOMENTUM, QAS and ROUNDING_RNG as their run-time arguments.

/** The optimizer's operands of every update kernel, as the template names them. */
const OPTIMIZER = ['lr', 'MOMENTUM', 'QAS', 'ROUNDING_RNG'] as const;

/** The fields both weight-gradient kernels start with: output gradient, the saved input and its quantisation, the kernel. */
function weightGradFields(s: StepOf<'weightUpdate' | 'weightGrad'>, c: EmitContext) {
  const n = s.node;
  const [H, W] = inGeom(n);
  const input = { x: c.mem(s.x), H, W, XC: s.xChannels, zx: c.zp(n.inputs[0]!), sx: inputScale(c, n) };
  return { gy: c.grad(n.output), ...outShape(n), ...input, ...kernelShape(n), K: s.channels };
}

export function weightUpdate(s: StepOf<'weightUpdate'>, c: EmitContext): string {
  const n = s.node;
  const sl = c.slot(n);
  return `${c.call('conv2dWeightUpdateS8', { ...weightGradFields(s, c), w: sl.wq, wScale: sl.wScale, vel: sl.velW }, ...OPTIMIZER)}; // ${c.label(n)}`;
}

export function weightGrad(s: StepOf<'weightGrad'>, c: EmitContext): string {
  return `${c.call('conv2dWeightGradF32', { ...weightGradFields(s, c), out: c.mem(s.writes[0]!) })}; // ${c.label(s.node)}`;
}

export function applyWeight(s: StepOf<'applyWeight'>, c: EmitContext): string {
  const n = s.node;
  const sl = c.slot(n);
  const slice = { w: sl.wq, wScale: sl.wScale, vel: sl.velW, K: s.channels };
  return `${c.call('applyWeightUpdateS8', { grad: c.mem(s.reads[0]!), GK: s.gradChannels, CO: n.outShape[2], ...kernelSize(n), ...slice }, ...OPTIMIZER)}; // ${c.label(n)}`;
}

/** The fields both bias-update kernels end with. */
function biasFields(c: EmitContext, n: Node) {
  const sl = c.slot(n);
  return { bias: sl.bq, wScale: sl.wScale, sx: inputScale(c, n), vel: sl.velB };
}

export function biasUpdate(s: StepOf<'biasUpdate'>, c: EmitContext): string {
  const n = s.node;
  return `${c.call('biasUpdateAllS32', { gy: c.grad(n.output), P: n.outShape[0] * n.outShape[1], CO: n.outShape[2], ...biasFields(c, n) }, ...OPTIMIZER)}; // ${c.label(n)}`;
}

export function biasGrad(s: StepOf<'biasGrad'>, c: EmitContext): string {
  const n = s.node;
  return `${c.call('biasGradF32', { gy: c.grad(n.output), P: n.outShape[0] * n.outShape[1], CO: n.outShape[2], out: c.mem(s.writes[0]!) })}; // ${c.label(n)}`;
}

export function applyBias(s: StepOf<'applyBias'>, c: EmitContext): string {
  return `${c.call('applyBiasUpdateS32', { grad: c.mem(s.reads[0]!), CO: s.node.outShape[2], ...biasFields(c, s.node) }, ...OPTIMIZER)}; // ${c.label(s.node)}`;
}

/**
 * The code of the parameter steps, the same for every op with weights. A function, not a
 * constant: op modules are evaluated inside import cycles (they use the compiler's helpers,
 * which dispatch through the registry), where only function declarations are ready.
 */
export function paramStepsCode() {
  return { weightUpdate, weightGrad, applyWeight, biasUpdate, biasGrad, applyBias };
}
