/**
 * The float32 reference's parts that belong to no one op: the clamp every op may fuse
 * (and relu/relu6 are), and the loss. Each op's own forward and backward is in its module
 * (compiler/ops/<op>.ts, OpDef.float).
 */
import type { Activation } from '../ir/model.js';

export function activate(y: Float32Array, act: Activation): Float32Array {
  if (act === 'none') return y;
  const hi = act === 'relu6' ? 6 : Infinity;
  for (let i = 0; i < y.length; i++) y[i] = Math.min(Math.max(y[i]!, 0), hi);
  return y;
}

/** Gradient through a clamp, from the clamped output: passes where 0 < y < hi. */
export function activationBackward(gy: Float32Array, y: Float32Array, act: Activation): Float32Array {
  if (act === 'none') return gy;
  const hi = act === 'relu6' ? 6 : Infinity;
  const g = new Float32Array(gy.length);
  for (let i = 0; i < gy.length; i++) g[i] = y[i]! > 0 && y[i]! < hi ? gy[i]! : 0;
  return g;
}

/** Softmax cross-entropy on logits: loss and d(loss)/d(logits). */
export function softmaxCrossEntropy(logits: Float32Array, label: number): { loss: number; grad: Float32Array } {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  const grad = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    grad[i] = Math.exp(logits[i]! - max);
    sum += grad[i]!;
  }
  for (let i = 0; i < logits.length; i++) grad[i]! /= sum;
  const loss = -Math.log(Math.max(grad[label]!, 1e-30));
  grad[label]! -= 1;
  return { loss, grad };
}
