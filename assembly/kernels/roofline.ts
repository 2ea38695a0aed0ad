// Roofline probes: the best int8 multiply-accumulate rate WASM SIMD reaches in this
// engine, measured on data that stays in L1 so memory bandwidth plays no part. Not used
// by runtimes; the kernel benchmark (bench/kernels.ts) compares real kernels against it.

/**
 * `reps` passes of a register-blocked 2x4 block of dot products (2 "pixels" x 4 "output
 * channels") over n int16 values (n a multiple of 8): 8 independent accumulators keep
 * the multiply-add units busy without a dependency chain, and 6 operand vectors fit in
 * the remaining registers (x86-64 has 16). x holds 2 rows and w 4 rows of n i16. Returns
 * a checksum so the work cannot be optimised away. MACs = reps * 8 * n.
 */
export function rooflineDot2x4S16(x: usize, w: usize, n: i32, reps: i32): i32 {
  let sum: i32 = 0;
  if (ASC_FEATURE_SIMD) {
    const rowBytes = <usize>n << 1;
    for (let r = 0; r < reps; r++) {
      let a00 = i32x4.splat(0); let a01 = i32x4.splat(0); let a02 = i32x4.splat(0); let a03 = i32x4.splat(0);
      let a10 = i32x4.splat(0); let a11 = i32x4.splat(0); let a12 = i32x4.splat(0); let a13 = i32x4.splat(0);
      for (let i: usize = 0; i < rowBytes; i += 16) {
        const x0 = v128.load(x + i);
        const x1 = v128.load(x + rowBytes + i);
        const w0 = v128.load(w + i);
        const w1 = v128.load(w + rowBytes + i);
        const w2 = v128.load(w + 2 * rowBytes + i);
        const w3 = v128.load(w + 3 * rowBytes + i);
        a00 = i32x4.add(a00, i32x4.dot_i16x8_s(x0, w0));
        a01 = i32x4.add(a01, i32x4.dot_i16x8_s(x0, w1));
        a02 = i32x4.add(a02, i32x4.dot_i16x8_s(x0, w2));
        a03 = i32x4.add(a03, i32x4.dot_i16x8_s(x0, w3));
        a10 = i32x4.add(a10, i32x4.dot_i16x8_s(x1, w0));
        a11 = i32x4.add(a11, i32x4.dot_i16x8_s(x1, w1));
        a12 = i32x4.add(a12, i32x4.dot_i16x8_s(x1, w2));
        a13 = i32x4.add(a13, i32x4.dot_i16x8_s(x1, w3));
      }
      const t = i32x4.add(i32x4.add(i32x4.add(a00, a01), i32x4.add(a02, a03)), i32x4.add(i32x4.add(a10, a11), i32x4.add(a12, a13)));
      sum += i32x4.extract_lane(t, 0) + i32x4.extract_lane(t, 3);
    }
  }
  return sum;
}

/** The same 2x4 block over int8 data widened on load (load8x8_s), as real int8 kernels must. MACs = reps * 8 * n. */
export function rooflineDot2x4S8(x: usize, w: usize, n: i32, reps: i32): i32 {
  let sum: i32 = 0;
  if (ASC_FEATURE_SIMD) {
    const row = <usize>n;
    for (let r = 0; r < reps; r++) {
      let a00 = i32x4.splat(0); let a01 = i32x4.splat(0); let a02 = i32x4.splat(0); let a03 = i32x4.splat(0);
      let a10 = i32x4.splat(0); let a11 = i32x4.splat(0); let a12 = i32x4.splat(0); let a13 = i32x4.splat(0);
      for (let i: usize = 0; i < row; i += 8) {
        const x0 = v128.load8x8_s(x + i);
        const x1 = v128.load8x8_s(x + row + i);
        const w0 = v128.load8x8_s(w + i);
        a00 = i32x4.add(a00, i32x4.dot_i16x8_s(x0, w0));
        a10 = i32x4.add(a10, i32x4.dot_i16x8_s(x1, w0));
        const w1 = v128.load8x8_s(w + row + i);
        a01 = i32x4.add(a01, i32x4.dot_i16x8_s(x0, w1));
        a11 = i32x4.add(a11, i32x4.dot_i16x8_s(x1, w1));
        const w2 = v128.load8x8_s(w + 2 * row + i);
        a02 = i32x4.add(a02, i32x4.dot_i16x8_s(x0, w2));
        a12 = i32x4.add(a12, i32x4.dot_i16x8_s(x1, w2));
        const w3 = v128.load8x8_s(w + 3 * row + i);
        a03 = i32x4.add(a03, i32x4.dot_i16x8_s(x0, w3));
        a13 = i32x4.add(a13, i32x4.dot_i16x8_s(x1, w3));
      }
      const t = i32x4.add(i32x4.add(i32x4.add(a00, a01), i32x4.add(a02, a03)), i32x4.add(i32x4.add(a10, a11), i32x4.add(a12, a13)));
      sum += i32x4.extract_lane(t, 0) + i32x4.extract_lane(t, 3);
    }
  }
  return sum;
}

/** 3x4 block over int16 (12 accumulators: at the register limit). MACs = reps * 12 * n. */
export function rooflineDot3x4S16(x: usize, w: usize, n: i32, reps: i32): i32 {
  let sum: i32 = 0;
  if (ASC_FEATURE_SIMD) {
    const rowBytes = <usize>n << 1;
    for (let r = 0; r < reps; r++) {
      let a00 = i32x4.splat(0); let a01 = i32x4.splat(0); let a02 = i32x4.splat(0); let a03 = i32x4.splat(0);
      let a10 = i32x4.splat(0); let a11 = i32x4.splat(0); let a12 = i32x4.splat(0); let a13 = i32x4.splat(0);
      let a20 = i32x4.splat(0); let a21 = i32x4.splat(0); let a22 = i32x4.splat(0); let a23 = i32x4.splat(0);
      for (let i: usize = 0; i < rowBytes; i += 16) {
        const x0 = v128.load(x + i);
        const x1 = v128.load(x + rowBytes + i);
        const x2 = v128.load(x + 2 * rowBytes + i);
        let wv = v128.load(w + i);
        a00 = i32x4.add(a00, i32x4.dot_i16x8_s(x0, wv)); a10 = i32x4.add(a10, i32x4.dot_i16x8_s(x1, wv)); a20 = i32x4.add(a20, i32x4.dot_i16x8_s(x2, wv));
        wv = v128.load(w + rowBytes + i);
        a01 = i32x4.add(a01, i32x4.dot_i16x8_s(x0, wv)); a11 = i32x4.add(a11, i32x4.dot_i16x8_s(x1, wv)); a21 = i32x4.add(a21, i32x4.dot_i16x8_s(x2, wv));
        wv = v128.load(w + 2 * rowBytes + i);
        a02 = i32x4.add(a02, i32x4.dot_i16x8_s(x0, wv)); a12 = i32x4.add(a12, i32x4.dot_i16x8_s(x1, wv)); a22 = i32x4.add(a22, i32x4.dot_i16x8_s(x2, wv));
        wv = v128.load(w + 3 * rowBytes + i);
        a03 = i32x4.add(a03, i32x4.dot_i16x8_s(x0, wv)); a13 = i32x4.add(a13, i32x4.dot_i16x8_s(x1, wv)); a23 = i32x4.add(a23, i32x4.dot_i16x8_s(x2, wv));
      }
      const t = i32x4.add(i32x4.add(i32x4.add(a00, a01), i32x4.add(a02, a03)), i32x4.add(i32x4.add(a10, a11), i32x4.add(a12, a13)));
      const u = i32x4.add(i32x4.add(a20, a21), i32x4.add(a22, a23));
      sum += i32x4.extract_lane(t, 0) + i32x4.extract_lane(u, 3);
    }
  }
  return sum;
}
