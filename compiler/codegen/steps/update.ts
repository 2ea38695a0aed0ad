/**
 * Parameter steps: weight and bias updates fused into backward, or (no reordering) their
 * gradients into wgrad/bgrad buffers applied by later steps. Update kernels take the
 * template's `lr`, MOMENTUM, QAS and ROUNDING_RNG as their run-time arguments.
 */
import type { Node } from '../../ir/graph.js';
import { inputScale, type EmitContext } from '../context.js';
import { inGeom, kernelShape, kernelSize, outShape } from '../geometry.js';
import type { StepOf } from './types.js';

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
