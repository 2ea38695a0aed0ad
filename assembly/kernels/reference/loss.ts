// Reference softmax cross-entropy on int8 logits. Float order is the shipped one (max,
// then exp(v - max) summed in index order, then each exp times 1 / sum): the same bits.

import { LossRecord } from '../records';

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
