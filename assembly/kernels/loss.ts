// Softmax cross-entropy on int8 logits (dequantised): returns the loss and writes
// d(loss)/d(logits) = softmax - onehot as float32.

import { LossRecord } from './records';

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
