// Reference kernels of pruned frozen 1x1 layers: the dense 1x1 loops on the weights the
// non-zero list decodes to (a missing entry is a zero weight), so they are checked
// against what the dense layer would compute, not against another walk of the list.
//
// Non-zero list (sparse.ts, compiler/sparse/nzlist.ts): i32 offs[CO + 1], then the
// indices (u8 when format bit 1 is set, else u16), then the int8 values; format bit 0:
// entries are channel pairs (index j = channels 2j and 2j + 1, two values each).
// Float order as the dense kernels: per pixel, output channels ascending, every input
// channel including the zero weights (g * 0 = +-0 terms), zero g skipped.

import { headGrad__ref, zeroF32__ref } from './common';
import { qs8_requant__ref } from './requant';
import { SparseForwardRecord, SparseGapHeadRecord, SparseInputGradRecord } from '../records';

/** The decoded int8 weight of (co, ci): a linear search of channel co's entries. */
function sparseWeight__ref(nz: usize, format: i32, CO: i32, co: i32, ci: i32): i32 {
  const pairs = (format & 1) != 0;
  const idxBytes: i32 = (format & 2) != 0 ? 1 : 2;
  const nnz = load<i32>(nz + (<usize>CO << 2));
  const idx = nz + (<usize>(CO + 1) << 2);
  const val = idx + <usize>(nnz * idxBytes);
  const want = pairs ? ci >> 1 : ci;
  for (let k = load<i32>(nz + (<usize>co << 2)); k < load<i32>(nz + (<usize>(co + 1) << 2)); k++) {
    const i = idxBytes == 1 ? <i32>load<u8>(idx + <usize>k) : <i32>load<u16>(idx + (<usize>k << 1));
    if (i != want) continue;
    return pairs ? <i32>load<i8>(val + <usize>(2 * k + (ci & 1))) : <i32>load<i8>(val + <usize>k);
  }
  return 0;
}

function forwardPixels__ref(r: SparseForwardRecord, x: usize, y: usize, P: i32): void {
  for (let p = 0; p < P; p++)
    for (let co = 0; co < r.CO; co++) {
      let acc = load<i32>(r.bias + (<usize>co << 2));
      for (let ci = 0; ci < r.CI; ci++) acc += (<i32>load<i8>(x + <usize>(p * r.CI + ci)) - r.zx) * sparseWeight__ref(r.nz, r.format, r.CO, co, ci);
      const m = load<i32>(r.mult + (<usize>co << 2));
      store<i8>(y + <usize>(p * r.CO + co), <i8>qs8_requant__ref(<i64>acc * <i64>m, load<i32>(r.shift + (<usize>co << 2)), r.zy, r.lo, r.hi));
    }
}

/** sparse1x1ForwardS8: all P pixels. */
export function qs8_sparse1x1_fwd__ref(record: usize): void {
  const r = changetype<SparseForwardRecord>(record);
  forwardPixels__ref(r, r.x, r.y, r.P);
}

/** sparse1x1ForwardRowS8: the W pixels of row `row`, in ring slots row % inRing / row % outRing (0: whole tensor). */
export function qs8_sparse1x1_fwd_row__ref(record: usize, row: i32): void {
  const r = changetype<SparseForwardRecord>(record);
  const xRow = r.inRing == 0 ? row : row % r.inRing;
  const yRow = r.outRing == 0 ? row : row % r.outRing;
  forwardPixels__ref(r, r.x + <usize>(xRow * r.W * r.CI), r.y + <usize>(yRow * r.W * r.CO), r.W);
}

/** gx[p] (+)= sum over co of (gy[p, co] * wScale[co]) * w[co, :], the dense order. */
function inputGradPixel__ref(nz: usize, format: i32, wScale: usize, CO: i32, CI: i32, gyp: usize, gxp: usize): void {
  for (let co = 0; co < CO; co++) {
    const g = load<f32>(gyp + (<usize>co << 2)) * load<f32>(wScale + (<usize>co << 2));
    if (g == 0) continue;
    for (let ci = 0; ci < CI; ci++) {
      const q = gxp + (<usize>ci << 2);
      store<f32>(q, load<f32>(q) + g * <f32>sparseWeight__ref(nz, format, CO, co, ci));
    }
  }
}

/** sparse1x1BackwardInputF32. */
export function f32_sparse1x1_igrad__ref(record: usize): void {
  const r = changetype<SparseInputGradRecord>(record);
  if (!r.accumulate) zeroF32__ref(r.gx, r.P * r.CI);
  for (let p = 0; p < r.P; p++) inputGradPixel__ref(r.nz, r.format, r.wScale, r.CO, r.CI, r.gy + (<usize>(p * r.CO) << 2), r.gx + (<usize>(p * r.CI) << 2));
}

/** sparseGapHeadBackwardF32: as f32_gap_head_bwd__ref with the decoded head; r.scratch holds one position's head gradient. */
export function f32_sparse_gap_head_bwd__ref(record: usize): void {
  const r = changetype<SparseGapHeadRecord>(record);
  if (r.gx != 0 && !r.accumulate) zeroF32__ref(r.gx, r.P * r.CI);
  if (r.bgrad != 0) zeroF32__ref(r.bgrad, r.CO);
  for (let p = 0; p < r.P; p++) {
    for (let co = 0; co < r.CO; co++) {
      const g = headGrad__ref(r.gpool, r.P, r.bits, r.CO, p, co);
      store<f32>(r.scratch + (<usize>co << 2), g);
      if (r.bgrad != 0) store<f32>(r.bgrad + (<usize>co << 2), load<f32>(r.bgrad + (<usize>co << 2)) + g);
    }
    if (r.gx != 0) inputGradPixel__ref(r.nz, r.format, r.wScale, r.CO, r.CI, r.scratch, r.gx + (<usize>(p * r.CI) << 2));
  }
}
