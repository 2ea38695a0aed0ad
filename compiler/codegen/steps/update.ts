/**
 * Parameter steps: weight and bias updates fused into backward, or (no reordering) their
 * gradients into wgrad/bgrad buffers applied by later steps. Update kernels read the
 * template's `lr`, MOMENTUM, QAS and ROUNDING_RNG.
 */
import type { Node } from '../../ir/graph.js';
import { inputScale, type EmitContext } from '../context.js';
import { inGeom, kGeom, kShape, outGeom } from '../geometry.js';
import type { StepOf } from './types.js';

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
