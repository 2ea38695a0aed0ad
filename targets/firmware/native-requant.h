/*
 * assembly/kernels/requant.ts's one requantisation rule, for the native kernels:
 *   y = clamp(zp + ((p + 2^(n-1)) >> n), lo, hi), 64-bit, arithmetic shift.
 * WASM masks i64 shift counts to 6 bits and wraps the add; so do these (n = 0 gives
 * 1 << 63, as there), so every n gives WASM's bytes.
 */
#ifndef TT_NATIVE_REQUANT_H
#define TT_NATIVE_REQUANT_H

#include <stdint.h>

static inline int32_t requant_sum(int64_t p, int32_t n, int32_t zp, int32_t lo, int32_t hi) {
  const int64_t s = (int64_t)((uint64_t)p + ((uint64_t)1 << ((uint32_t)(n - 1) & 63u)));
  const int64_t v = (int64_t)((uint64_t)(s >> ((uint32_t)n & 63u)) + (uint64_t)(int64_t)zp);
  if (v < (int64_t)lo) return lo;
  if (v > (int64_t)hi) return hi;
  return (int32_t)v;
}

static inline int32_t requant(int32_t acc, int32_t m, int32_t n, int32_t zp, int32_t lo, int32_t hi) {
  return requant_sum((int64_t)acc * (int64_t)m, n, zp, lo, hi);
}

#endif
