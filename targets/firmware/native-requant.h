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

/* The rule for one int32 accumulator: |acc * m| < 2^62, so for 33 <= n <= 62 (the usual
 * case: scales below 1/2 give n >= 32, fixedpoint.ts) only the product's high word h
 * matters: with p = h 2^32 + l (0 <= l < 2^32), floor((p + 2^(n-1)) / 2^n) =
 * floor((h + 2^(n-33)) / 2^(n-32)), as l / 2^32 < 1 cannot carry past an integer; h + 2^(n-33)
 * stays within int32 (|h| <= 2^30). That is one SMULL, an add and a 32-bit shift instead
 * of a 64-bit variable shift. Other n take the general path (same bytes either way). */
static inline int32_t requant(int32_t acc, int32_t m, int32_t n, int32_t zp, int32_t lo, int32_t hi) {
  const int64_t p = (int64_t)acc * (int64_t)m;
  /* |the shifted value| <= 2^30, so with |zp| < 2^30 its sum with zp and the clamp stay in int32 too. */
  if ((uint32_t)(n - 33) < 30u && (uint32_t)zp + (1u << 30) < (1u << 31)) {
    const int32_t h = (int32_t)((uint64_t)p >> 32);
    const int32_t v = ((h + (1 << (n - 33))) >> (n - 32)) + zp;
    if (v < lo) return lo;
    if (v > hi) return hi;
    return v;
  }
  return requant_sum(p, n, zp, lo, hi);
}

/* The high-word rule above prepared once per channel, for kernels that requantise many
 * outputs of the same channel: for 33 <= n <= 62, ((h + 2^(n-33)) >> s) + zp =
 * (h + 2^(n-33) + zp 2^s) >> s with s = n - 32 (adding a multiple of 2^s commutes with
 * the floor), and while that rounding term stays below 2^30 in magnitude its sum with
 * |h| <= 2^30 stays in int32. So an output is SMULL, ADD, ASR and the clamp. */
typedef struct {
  int32_t m, R, s;
} requant_fast_t;

/* Prepares q for multiplier m, shift n, zero point zp; returns 0 when the channel must take requant(). */
static inline int requant_fast_prepare(int32_t m, int32_t n, int32_t zp, requant_fast_t* q) {
  if ((uint32_t)(n - 33) >= 30u) return 0;
  const int64_t t = ((int64_t)1 << (n - 33)) + (int64_t)zp * ((int64_t)1 << (n - 32));
  if (t <= -(1 << 30) || t >= (1 << 30)) return 0;
  q->m = m;
  q->R = (int32_t)t;
  q->s = n - 32;
  return 1;
}

/* requant() before the clamp, for a prepared channel. */
static inline int32_t requant_fast(int32_t acc, const requant_fast_t* q) {
  return ((int32_t)((uint64_t)((int64_t)acc * (int64_t)q->m) >> 32) + q->R) >> q->s;
}

#endif
