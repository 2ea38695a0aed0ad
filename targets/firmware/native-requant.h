/*
 * assembly/kernels/requant.ts's one requantisation rule (TFLite's MultiplyByQuantizedMultiplier,
 * compiler/quantize/fixedpoint.ts), for the native kernels: on a 64-bit product p with shift n,
 *   n <= 31: (p + 2^(n-1)) >> n
 *   n >  31: t = (p + 2^30) >> 31, then (t + 2^(n-32) - [t < 0]) >> (n - 31)
 * then the zero point and the clamp. WASM masks i64 shift counts to 6 bits and wraps the
 * adds; so do these, so every n gives WASM's bytes.
 */
#ifndef TT_NATIVE_REQUANT_H
#define TT_NATIVE_REQUANT_H

#include <stdint.h>

static inline int64_t tt_wrap_add64(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t tt_pow2_64(int32_t e) { return (int64_t)((uint64_t)1 << ((uint32_t)e & 63u)); }

/* The rule's rounding shift of p, before the zero point and the clamp. */
static inline int64_t round_shift(int64_t p, int32_t n) {
  if (n <= 31) return tt_wrap_add64(p, tt_pow2_64(n - 1)) >> ((uint32_t)n & 63u);
  const int64_t t = tt_wrap_add64(p, (int64_t)1 << 30) >> 31;
  return tt_wrap_add64(tt_wrap_add64(t, tt_pow2_64(n - 32)), t >> 63) >> ((uint32_t)(n - 31) & 63u);
}

static inline int32_t requant_sum(int64_t p, int32_t n, int32_t zp, int32_t lo, int32_t hi) {
  const int64_t v = tt_wrap_add64(round_shift(p, n), (int64_t)zp);
  if (v < (int64_t)lo) return lo;
  if (v > (int64_t)hi) return hi;
  return (int32_t)v;
}

/* The rule's first rounding for |acc| < 2^30 and n >= 32: t = (acc m + 2^30) >> 31 is the
 * rounded high word of (2 acc) m, one SMMULR where the core has the DSP extension (GCC
 * builds the C form from four instructions); |t| <= |acc| as m < 2^31. */
static inline int32_t requant_high(int32_t acc, int32_t m) {
  const int32_t twice = (int32_t)((uint32_t)acc << 1);
#if defined(__ARM_FEATURE_DSP)
  int32_t t;
  __asm__("smmulr %0, %1, %2" : "=r"(t) : "r"(twice), "r"(m));
  return t;
#else
  return (int32_t)((uint64_t)((int64_t)twice * (int64_t)m + (int64_t)0x80000000) >> 32);
#endif
}

/* The rule for one int32 accumulator. For |acc| < 2^30, 32 <= n <= 62 (the usual case:
 * scales below 1/2 give n >= 32, fixedpoint.ts) and |zp| < 2^30 it runs in int32:
 * (t + (t >> 31) + 2^(s-1)) >> s with s = n - 31, whose terms stay below 2^31 in magnitude
 * together (|t| < 2^30, 2^(s-1) <= 2^30), then zp (the result is below 2^30 in magnitude).
 * Other cases take the general path (same bytes either way). */
static inline int32_t requant(int32_t acc, int32_t m, int32_t n, int32_t zp, int32_t lo, int32_t hi) {
  if ((uint32_t)(acc + (1 << 30)) < (1u << 31) && (uint32_t)(n - 32) < 31u && (uint32_t)zp + (1u << 30) < (1u << 31)) {
    const int32_t t = requant_high(acc, m);
    const int32_t s = n - 31;
    const int32_t v = ((t + (t >> 31) + (1 << (s - 1))) >> s) + zp;
    if (v < lo) return lo;
    if (v > hi) return hi;
    return v;
  }
  return requant_sum((int64_t)acc * (int64_t)m, n, zp, lo, hi);
}

/* The int32 rule above prepared once per channel, for kernels that requantise many outputs
 * of the same channel: with R = 2^(s-1) + zp 2^s an output is LSL, SMMULR, two ADDs, ASR
 * and the clamp. Valid while every accumulator of the channel is below 2^30 in magnitude,
 * which the caller proves from the channel's bias and tap count (acc_bound). */
typedef struct {
  int32_t m, R, s;
} requant_fast_t;

/* The largest |acc| of a channel with bias `bias` summing `terms` products of int8 weights
 * and zero-point-shifted int8 inputs (|w| <= 128, |x - zx| <= 255). */
static inline int64_t acc_bound(int32_t bias, int32_t terms) {
  const int64_t b = bias < 0 ? -(int64_t)bias : (int64_t)bias;
  return b + (int64_t)terms * 255 * 128;
}

/* Prepares q for multiplier m, shift n, zero point zp and accumulators up to `bound` in
 * magnitude; returns 0 when the channel must take requant(). */
static inline int requant_fast_prepare(int32_t m, int32_t n, int32_t zp, int64_t bound, requant_fast_t* q) {
  if ((uint32_t)(n - 32) >= 31u || bound >= (1 << 30)) return 0;
  const int32_t s = n - 31;
  const int64_t t = ((int64_t)1 << (s - 1)) + (int64_t)zp * ((int64_t)1 << s);
  if (t <= -(1 << 30) || t >= (1 << 30)) return 0;
  q->m = m;
  q->R = (int32_t)t;
  q->s = s;
  return 1;
}

/* requant() before the clamp, for a prepared channel. */
static inline int32_t requant_fast(int32_t acc, const requant_fast_t* q) {
  const int32_t t = requant_high(acc, q->m);
  return (t + (t >> 31) + q->R) >> q->s;
}

#endif
