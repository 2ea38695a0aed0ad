// Table activations (compiler/ops/table-activation.ts): sigmoid, hardsigmoid, hardswish,
// silu, leakyrelu. Every int8 element-wise function is a 256-entry table made at compile
// time, so forward is one load per element and backward one multiply.
//
// One loop for the scalar and the SIMD builds: a lookup is a load per byte either way
// (wasm SIMD has no gather; a swizzle over sixteen 16-byte slices costs more than it
// saves here), so the two builds are the same code and bit-identical by construction.

import { TableBackwardRecord, TableForwardRecord } from './records';

/** y[i] = table[x[i] + 128]. In place (y == x) is fine: each element is read before it is written. */
export function tableForwardS8(record: usize): void {
  const r = changetype<TableForwardRecord>(record);
  const x = r.x; const y = r.y; const count = r.count; const table = r.table + 128;
  for (let i = 0; i < count; i++) {
    store<i8>(y + <usize>i, load<i8>(table + <usize>(<isize>load<i8>(x + <usize>i))));
  }
}

/** gx[i] (+)= gy[i] * table[at[i] + 128]; gx may be gy. */
export function tableBackwardF32(record: usize): void {
  const r = changetype<TableBackwardRecord>(record);
  const gy = r.gy; const at = r.at; const gx = r.gx; const count = r.count; const table = r.table + (128 << 2);
  const accumulate = r.accumulate;
  for (let i = 0; i < count; i++) {
    const d = load<f32>(table + (<usize>(<isize>load<i8>(at + <usize>i)) << 2));
    const g = load<f32>(gy + (<usize>i << 2)) * d;
    const p = gx + (<usize>i << 2);
    store<f32>(p, accumulate ? load<f32>(p) + g : g);
  }
}
