/**
 * The float32 reference's parts that belong to no one op: the clamp every op may fuse
 * (and relu/relu6 are), and the losses (compiler/loss.ts; the same formulas as assembly/kernels/loss.ts, in float64). Each op's own forward and backward is in its module
 * (compiler/ops/<op>.ts, OpDef.float).
 */
import type { Activation } from '../ir/model.js';
import type { LossKind } from '../loss.js';

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

/** Sigmoid binary cross-entropy on logits against K targets in {0, 1}, the mean over K (PyTorch's BCEWithLogitsLoss): loss and d(loss)/d(logits). */
export function sigmoidBce(logits: Float32Array, target: ArrayLike<number>): { loss: number; grad: Float32Array } {
  const k = logits.length;
  let loss = 0;
  const grad = new Float32Array(k);
  for (let i = 0; i < k; i++) {
    const z = logits[i]!;
    const e = Math.exp(-Math.abs(z));
    const p = z >= 0 ? 1 / (1 + e) : e / (1 + e);
    loss += Math.max(z, 0) - z * target[i]! + Math.log1p(e);
    grad[i] = (p - target[i]!) / k;
  }
  return { loss: loss / k, grad };
}

/** Mean squared error over K outputs (PyTorch's MSELoss, mean): loss and d(loss)/d(outputs). */
export function meanSquaredError(outputs: Float32Array, target: ArrayLike<number>): { loss: number; grad: Float32Array } {
  const k = outputs.length;
  let loss = 0;
  const grad = new Float32Array(k);
  for (let i = 0; i < k; i++) {
    const d = outputs[i]! - target[i]!;
    loss += d * d;
    grad[i] = (2 * d) / k;
  }
  return { loss: loss / k, grad };
}

/** A sample's training target: its class label, or K values (a loss on target values; compiler/loss.ts). */
export type Target = number | ArrayLike<number>;

/** The loss `kind` of the outputs against the target (one-output bce: the label as the target). */
export function lossOf(kind: LossKind, outputs: Float32Array, target: Target): { loss: number; grad: Float32Array } {
  if (kind === 'softmax-ce') return softmaxCrossEntropy(outputs, target as number);
  const values = typeof target === 'number' ? [target] : target;
  return kind === 'bce' ? sigmoidBce(outputs, values) : meanSquaredError(outputs, values);
}
