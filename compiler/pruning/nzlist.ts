/**
 * Non-zero lists of pruned 1x1 weights, in the byte format the pruned kernels read
 * (assembly/kernels/sparse.ts): i32 offs[CO + 1], idx[nnz] (u8 when every index fits,
 * else u16: 2 bytes per non-zero instead of 3 where CI <= 256), i8 val[nnz * B].
 * Unstructured (B = 1): one entry per non-zero weight. Pairs (B = 2): one entry per
 * input-channel pair (2j, 2j + 1) with any non-zero weight; an odd CI gets a phantom
 * last channel whose weight is 0. Entries are in ascending channel order (the kernels'
 * exact fallback for non-finite gradients relies on it).
 */

export type PruneStructure = 'unstructured' | 'pairs';

/** Bytes of scratch the SIMD kernels need for CI input channels (forward and input gradient). */
export function prunedScratchBytes(CI: number): number {
  // input tile (16 bytes a channel, pairs rounded up) + 256 bytes of output staging
  return 16 * CI + 16 + 256;
}

/** The kernels' `format` argument: bit 0 = pairs, bit 1 = u8 indices. */
export function nzFormat(CI: number, structure: PruneStructure): number {
  const units = structure === 'pairs' ? Math.ceil(CI / 2) : CI;
  return (structure === 'pairs' ? 1 : 0) | (units <= 256 ? 2 : 0);
}

/** Bytes of a list with `entries` entries. */
export function nzListBytes(CO: number, CI: number, structure: PruneStructure, entries: number): number {
  const ib = nzFormat(CI, structure) & 2 ? 1 : 2;
  return 4 * (CO + 1) + (ib + (structure === 'pairs' ? 2 : 1)) * entries;
}

/** Entries (non-zeros, or non-zero pairs) of int8 weights [CO, CI]. */
export function countEntries(w: ArrayLike<number>, CO: number, CI: number, structure: PruneStructure): number {
  let n = 0;
  for (let co = 0; co < CO; co++) {
    const r = co * CI;
    if (structure === 'pairs') {
      for (let c = 0; c < CI; c += 2) if (w[r + c] !== 0 || (c + 1 < CI && w[r + c + 1] !== 0)) n++;
    } else {
      for (let c = 0; c < CI; c++) if (w[r + c] !== 0) n++;
    }
  }
  return n;
}

/** Encodes int8 weights [CO, CI] (row-major) into the kernels' list format. */
export function encodeNzList(w: ArrayLike<number>, CO: number, CI: number, structure: PruneStructure): Uint8Array {
  const pairs = structure === 'pairs';
  const nnz = countEntries(w, CO, CI, structure);
  const B = pairs ? 2 : 1;
  const ib = nzFormat(CI, structure) & 2 ? 1 : 2;
  const idxAt = 4 * (CO + 1);
  const valAt = idxAt + ib * nnz;
  const out = new Uint8Array(valAt + B * nnz);
  const dv = new DataView(out.buffer);
  let k = 0;
  for (let co = 0; co < CO; co++) {
    dv.setInt32(4 * co, k, true);
    const r = co * CI;
    const step = pairs ? 2 : 1;
    for (let c = 0; c < CI; c += step) {
      const a = w[r + c]!;
      const b = pairs && c + 1 < CI ? w[r + c + 1]! : 0;
      if (a === 0 && b === 0) continue;
      if (a === -128 || b === -128) throw new Error('sparse list: weight -128 (the kernels need symmetric int8 weights)');
      if (ib === 1) dv.setUint8(idxAt + k, pairs ? c >> 1 : c);
      else dv.setUint16(idxAt + 2 * k, pairs ? c >> 1 : c, true);
      dv.setInt8(valAt + B * k, a);
      if (pairs) dv.setInt8(valAt + 2 * k + 1, b);
      k++;
    }
  }
  dv.setInt32(4 * CO, k, true);
  if (CI > 0xffff * (pairs ? 2 : 1)) throw new Error(`sparse list: ${CI} input channels do not fit u16 indices`);
  return out;
}
