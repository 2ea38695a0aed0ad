// Reference losses on int8 outputs. Softmax cross-entropy: Float order is the shipped one (max,
// then exp(v - max) summed in index order, then each exp times 1 / sum): the same bits.

import { LossRecord, TargetLossRecord } from '../records';

function logit__ref(r: LossRecord, i: i32): f32 {
  return <f32>(<i32>load<i8>(r.logits + <usize>i) - r.zp) * r.scale;
}

/** softmaxCrossEntropyS8: grad = softmax - onehot(label); returns -log(p_label), p_label floored at 1e-30. */
export function f32_softmax_xent__ref(record: usize, label: i32): f32 {
  const r = changetype<LossRecord>(record);
  let top: f32 = -Infinity;
  for (let i = 0; i < r.count; i++) if (logit__ref(r, i) > top) top = logit__ref(r, i);
  let sum: f32 = 0;
  for (let i = 0; i < r.count; i++) sum += Mathf.exp(logit__ref(r, i) - top);
  const inv: f32 = 1.0 / sum;
  for (let i = 0; i < r.count; i++) store<f32>(r.grad + (<usize>i << 2), Mathf.exp(logit__ref(r, i) - top) * inv);
  const prob = load<f32>(r.grad + (<usize>label << 2));
  store<f32>(r.grad + (<usize>label << 2), prob - 1.0);
  // (a NaN probability takes the floor too, as in the shipped comparison)
  return -Mathf.log(prob > <f32>1e-30 ? prob : <f32>1e-30);
}

function target__ref(r: TargetLossRecord, i: i32): f32 {
  return load<f32>(r.target + (<usize>i << 2));
}

function output__ref(r: TargetLossRecord, i: i32): f32 {
  return <f32>(<i32>load<i8>(r.logits + <usize>i) - r.zp) * r.scale;
}

/** sigmoidBceS8: per output max(z, 0) - z y + log1p(exp(-|z|)), grad (sigmoid(z) - y) / K; returns the mean. */
export function f32_sigmoid_bce__ref(record: usize): f32 {
  const r = changetype<TargetLossRecord>(record);
  const k: f32 = 1.0 / <f32>r.count;
  let sum: f32 = 0;
  for (let i = 0; i < r.count; i++) {
    const z = output__ref(r, i);
    const e = Mathf.exp(-Mathf.abs(z));
    const sigmoid: f32 = z >= 0 ? <f32>1.0 / (<f32>1.0 + e) : e / (<f32>1.0 + e);
    sum += Mathf.max(z, 0) - z * target__ref(r, i) + Mathf.log1p(e);
    store<f32>(r.grad + (<usize>i << 2), (sigmoid - target__ref(r, i)) * k);
  }
  return sum * k;
}

/** meanSquaredErrorS8: mean of (v - y)^2, grad 2 (v - y) / K. */
export function f32_mse__ref(record: usize): f32 {
  const r = changetype<TargetLossRecord>(record);
  const k: f32 = 1.0 / <f32>r.count;
  let sum: f32 = 0;
  for (let i = 0; i < r.count; i++) {
    const d = output__ref(r, i) - target__ref(r, i);
    sum += d * d;
    store<f32>(r.grad + (<usize>i << 2), <f32>2.0 * d * k);
  }
  return sum * k;
}
