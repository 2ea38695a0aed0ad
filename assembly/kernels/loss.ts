// The losses on int8 outputs (dequantised), each returning the loss and writing
// d(loss)/d(outputs) as float32:
//   softmax cross-entropy against a class label: grad = softmax - onehot;
//   sigmoid binary cross-entropy against K targets in {0, 1}, on the logits (the model's
//     sigmoid is not run in training), averaged over K as PyTorch's BCEWithLogitsLoss does:
//     loss = mean(max(z, 0) - z y + log(1 + exp(-|z|))), grad = (sigmoid(z) - y) / K;
//   mean squared error against K real targets (MSELoss, mean): grad = 2 (v - y) / K.

import { LossRecord, TargetLossRecord } from './records';

export function softmaxCrossEntropyS8(record: usize, label: i32): f32 {
  const r = changetype<LossRecord>(record);
  const logits = r.logits; const count = r.count; const scale = r.scale; const zp = r.zp; const grad = r.grad;
  let max: f32 = -Infinity;
  for (let i = 0; i < count; i++) {
    const v = <f32>(<i32>load<i8>(logits + <usize>i) - zp) * scale;
    if (v > max) max = v;
  }
  let sum: f32 = 0;
  for (let i = 0; i < count; i++) {
    const e = Mathf.exp(<f32>(<i32>load<i8>(logits + <usize>i) - zp) * scale - max);
    store<f32>(grad + (<usize>i << 2), e);
    sum += e;
  }
  const inv: f32 = 1.0 / sum;
  for (let i = 0; i < count; i++) {
    const p = grad + (<usize>i << 2);
    store<f32>(p, load<f32>(p) * inv);
  }
  const pl = grad + (<usize>label << 2);
  const prob = load<f32>(pl);
  store<f32>(pl, prob - 1.0);
  return -Mathf.log(prob > 1e-30 ? prob : <f32>1e-30);
}

export function sigmoidBceS8(record: usize): f32 {
  const r = changetype<TargetLossRecord>(record);
  const logits = r.logits; const count = r.count; const scale = r.scale; const zp = r.zp; const grad = r.grad; const target = r.target;
  const perOutput: f32 = 1.0 / <f32>count;
  let sum: f32 = 0;
  for (let i = 0; i < count; i++) {
    const z = <f32>(<i32>load<i8>(logits + <usize>i) - zp) * scale;
    const y = load<f32>(target + (<usize>i << 2));
    // exp of minus |z| only: neither the loss nor sigmoid(z) can overflow.
    const e = Mathf.exp(-Mathf.abs(z));
    const p: f32 = z >= 0 ? <f32>1.0 / (<f32>1.0 + e) : e / (<f32>1.0 + e);
    sum += (z > 0 ? z : <f32>0) - z * y + Mathf.log1p(e);
    store<f32>(grad + (<usize>i << 2), (p - y) * perOutput);
  }
  return sum * perOutput;
}

export function meanSquaredErrorS8(record: usize): f32 {
  const r = changetype<TargetLossRecord>(record);
  const logits = r.logits; const count = r.count; const scale = r.scale; const zp = r.zp; const grad = r.grad; const target = r.target;
  const perOutput: f32 = 1.0 / <f32>count;
  let sum: f32 = 0;
  for (let i = 0; i < count; i++) {
    const d = <f32>(<i32>load<i8>(logits + <usize>i) - zp) * scale - load<f32>(target + (<usize>i << 2));
    sum += d * d;
    store<f32>(grad + (<usize>i << 2), <f32>2.0 * d * perOutput);
  }
  return sum * perOutput;
}
