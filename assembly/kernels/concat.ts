// Concatenation along channels (compiler/ops/concat.ts), one call per input: its C channels
// go to channels [offset, offset + C) of each output position, requantised onto the output's
// grid with the one rounding rule (compiler/quantize/fixedpoint.ts), or copied when the
// grids are one (TFLite's int8 models give every input the output's); backward copies (or
// adds) that slice of the output gradient to the input's.
//
// One loop for the scalar and SIMD builds: the copies are memory.copy (bulk memory) and a
// requantised input is an s_x / s_y rescale near 1, whose shift (< 32) the exact SIMD
// requantisation (requant-simd.ts) does not take; so both builds are the same code.

import { ConcatBackwardRecord, ConcatForwardRecord } from './records';
import { requantSum } from './requant';

export function concatForwardS8(record: usize): void {
  const r = changetype<ConcatForwardRecord>(record);
  const x = r.x; const zx = r.zx; const m = r.m; const n = r.n; const zy = r.zy;
  const P = r.P; const C = r.C; const CO = r.CO;
  const y = r.y + <usize>r.offset;
  for (let p = 0; p < P; p++) {
    const xp = x + <usize>(p * C); const yp = y + <usize>(p * CO);
    if (r.copy) {
      memory.copy(yp, xp, <usize>C);
      continue;
    }
    for (let c = 0; c < C; c++) {
      store<i8>(yp + <usize>c, <i8>requantSum(<i64>(<i32>load<i8>(xp + <usize>c) - zx) * <i64>m, n, zy, -128, 127));
    }
  }
}

export function concatBackwardF32(record: usize): void {
  const r = changetype<ConcatBackwardRecord>(record);
  const gx = r.gx; const P = r.P; const C = r.C; const CO = r.CO; const accumulate = r.accumulate;
  const gy = r.gy + (<usize>r.offset << 2);
  for (let p = 0; p < P; p++) {
    const src = gy + (<usize>(p * CO) << 2); const dst = gx + (<usize>(p * C) << 2);
    if (!accumulate) {
      memory.copy(dst, src, <usize>C << 2);
      continue;
    }
    for (let c = 0; c < C; c++) {
      const q = dst + (<usize>c << 2);
      store<f32>(q, load<f32>(q) + load<f32>(src + (<usize>c << 2)));
    }
  }
}
