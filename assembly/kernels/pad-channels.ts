// Zero channels appended (compiler/ops/pad-channels.ts): at each position the input's C
// channels, copied or requantised onto the output's grid with the one rounding rule
// (compiler/quantize/fixedpoint.ts), then CO - C bytes of the output's zero point (real 0).
// The backward is concat's (concatBackwardF32 at offset 0).
//
// One loop for the scalar and SIMD builds, as concat's: copies and fills are bulk memory
// operations, and an s_x / s_y rescale near 1 has a shift (< 32) that the exact SIMD
// requantisation (requant-simd.ts) does not take.

import { PadChannelsForwardRecord } from './records';
import { requantSum } from './requant';

export function padChannelsForwardS8(record: usize): void {
  const r = changetype<PadChannelsForwardRecord>(record);
  const x = r.x; const zx = r.zx; const m = r.m; const n = r.n; const y = r.y; const zy = r.zy;
  const P = r.P; const C = r.C; const CO = r.CO;
  for (let p = 0; p < P; p++) {
    const xp = x + <usize>(p * C); const yp = y + <usize>(p * CO);
    if (r.copy) {
      memory.copy(yp, xp, <usize>C);
    } else {
      for (let c = 0; c < C; c++) {
        store<i8>(yp + <usize>c, <i8>requantSum(<i64>(<i32>load<i8>(xp + <usize>c) - zx) * <i64>m, n, zy, -128, 127));
      }
    }
    memory.fill(yp + <usize>C, <u8>zy, <usize>(CO - C));
  }
}
