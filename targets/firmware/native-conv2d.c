/*
 * Native int8 conv2d / dense forward (host/firmware/native-kernels.ts): the firmware's
 * Z_tt_nativeZ_conv2dForwardS8 / conv2dForwardRowsS8 in place of the wasm2c translation
 * of assembly/kernels/conv2d.ts (qs8_conv2d_fwd_rows__scalar). Same bytes: the sums are
 * int32 with wrap-around, as in WASM, so their order is free (here: SMLAD pairs where the
 * core has the DSP extension); the requantisation is assembly/kernels/requant.ts's rule
 * step for step, with WASM's shift-count masking.
 */
#include <stdint.h>
#include <string.h>

#include "runtime.h"
#include "tt-config.h"
#include "tt-memory.h"
#include "tt-kernel-records.h"
#include "native-memory.h"

#if defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#endif

/* requant.ts: clamp(zp + ((acc * m + 2^(n-1)) >> n), lo, hi) in i64; WASM masks shift
 * counts to 6 bits and wraps the add, so do we (n = 0 gives 1 << 63, as there). */
static inline int32_t requant(int32_t acc, int32_t m, int32_t n, int32_t zp, int32_t lo, int32_t hi) {
  const int64_t p = (int64_t)acc * (int64_t)m;
  const int64_t s = (int64_t)((uint64_t)p + ((uint64_t)1 << ((uint32_t)(n - 1) & 63u)));
  const int64_t v = (int64_t)((uint64_t)(s >> ((uint32_t)n & 63u)) + (uint64_t)(int64_t)zp);
  if (v < (int64_t)lo) return lo;
  if (v > (int64_t)hi) return hi;
  return (int32_t)v;
}

/* sum_{i<n} (x[i] - zx) * w[i], wrapping like WASM's i32 add. */
static inline int32_t dot_s8(const uint8_t* x, const uint8_t* w, int32_t n, int32_t zx) {
  int32_t acc = 0;
  int32_t i = 0;
#if defined(__ARM_FEATURE_SIMD32)
  /* x - zx stays within 16 bits for an int8 zero point: two lanes per SMLAD. */
  if (zx >= -128 && zx <= 127) {
    const int16x2_t zz = (int16x2_t)(((uint32_t)zx & 0xffffu) | ((uint32_t)zx << 16));
    for (; i + 4 <= n; i += 4) {
      const uint32_t xv = tt_ld_u32(x + i);
      const uint32_t wv = tt_ld_u32(w + i);
      const int16x2_t x02 = __ssub16(__sxtb16((int8x4_t)xv), zz);
      const int16x2_t x13 = __ssub16(__sxtb16((int8x4_t)((xv >> 8) | (xv << 24))), zz);
      acc = __smlad(x02, __sxtb16((int8x4_t)wv), acc);
      acc = __smlad(x13, __sxtb16((int8x4_t)((wv >> 8) | (wv << 24))), acc);
    }
  }
#endif
  for (; i < n; i++) acc = (int32_t)((uint32_t)acc + (uint32_t)(((int32_t)(int8_t)x[i] - zx) * (int32_t)(int8_t)w[i]));
  return acc;
}

/* The record's buffers, each translated once with its whole extent checked. */
typedef struct {
  const uint8_t *x, *w, *w2, *bias, *mult, *shift;
  uint8_t* y;
} conv_buffers_t;

static conv_buffers_t conv_buffers(const tt_conv_forward_t* r) {
  const int32_t taps = r->KH * r->KW;
  const int32_t first = r->split == 0 ? r->C : r->split;
  /* Depthwise reads input channel co for output channel co. */
  if (r->depthwise && r->CO != r->C) tt_memory_fault(r->x, 0, 0);
  if (r->split < 0 || r->split > r->C || taps < 0) tt_memory_fault(r->w, 0, 0);
  const int32_t groups = r->depthwise ? 1 : r->CO;
  conv_buffers_t b;
  b.x = tt_native_in(r->x, tt_extent(r->in_ring ? r->in_ring : r->H, r->W, r->C, 1));
  b.w = tt_native_in(r->w, tt_extent(groups, taps, first, 1));
  b.w2 = r->split ? tt_native_in(r->w2, tt_extent(groups, taps, r->C - first, 1)) : 0;
  b.bias = tt_native_in(r->bias, tt_extent(r->CO, 1, 1, 4));
  b.mult = tt_native_in(r->mult, tt_extent(r->CO, 1, 1, 4));
  b.shift = tt_native_in(r->shift, tt_extent(r->CO, 1, 1, 4));
  b.y = tt_native_out(r->y, tt_extent(r->out_ring ? r->out_ring : r->OH, r->OW, r->CO, 1));
  return b;
}

/* One output channel's sum at output pixel (oh, ow): the taps inside the input, as the WASM kernel skips padding. */
static inline int32_t conv_sum(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t oh, int32_t ow, int32_t co) {
  const int32_t C = r->C, KH = r->KH, KW = r->KW, taps = KH * KW;
  int32_t acc = tt_ld_i32(b->bias + 4 * co);
  for (int32_t kh = 0; kh < KH; kh++) {
    const int32_t ih = oh * r->stride - r->pad + kh;
    if (ih < 0 || ih >= r->H) continue;
    const int32_t xSlot = r->in_ring == 0 ? ih : ih % r->in_ring;
    for (int32_t kw = 0; kw < KW; kw++) {
      const int32_t iw = ow * r->stride - r->pad + kw;
      if (iw < 0 || iw >= r->W) continue;
      const uint8_t* xp = b->x + (xSlot * r->W + iw) * C;
      const int32_t tap = (co * KH + kh) * KW + kw;
      if (r->depthwise) {
        const int32_t wv = (r->split == 0 || co < r->split) ? (int8_t)b->w[tap] : (int8_t)b->w2[tap - r->split * taps];
        acc = (int32_t)((uint32_t)acc + (uint32_t)(((int32_t)(int8_t)xp[co] - r->zx) * wv));
      } else if (r->split == 0) {
        acc = (int32_t)((uint32_t)acc + (uint32_t)dot_s8(xp, b->w + tap * C, C, r->zx));
      } else {
        acc = (int32_t)((uint32_t)acc + (uint32_t)dot_s8(xp, b->w + tap * r->split, r->split, r->zx));
        acc = (int32_t)((uint32_t)acc + (uint32_t)dot_s8(xp + r->split, b->w2 + tap * (C - r->split), C - r->split, r->zx));
      }
    }
  }
  return acc;
}

void Z_tt_nativeZ_conv2dForwardRowsS8(struct Z_tt_native_instance_t* env, u32 record, u32 ohBegin, u32 ohEnd) {
  (void)env;
  const tt_conv_forward_t r = TT_NATIVE_RECORD(tt_conv_forward_t, record);
  const int32_t begin = (int32_t)ohBegin, end = (int32_t)ohEnd;
  if (begin >= end) return;
  /* Rows outside [0, OH) would index past a whole-tensor output. */
  if (begin < 0 || end > r.OH) tt_memory_fault(r.y, 0, 1);
  const conv_buffers_t b = conv_buffers(&r);
  for (int32_t oh = begin; oh < end; oh++) {
    const int32_t ySlot = r.out_ring == 0 ? oh : oh % r.out_ring;
    for (int32_t ow = 0; ow < r.OW; ow++) {
      uint8_t* yrow = b.y + (ySlot * r.OW + ow) * r.CO;
      for (int32_t co = 0; co < r.CO; co++) {
        const int32_t acc = conv_sum(&r, &b, oh, ow, co);
        yrow[co] = (uint8_t)(int8_t)requant(acc, tt_ld_i32(b.mult + 4 * co), tt_ld_i32(b.shift + 4 * co), r.zy, r.lo, r.hi);
      }
    }
  }
}

void Z_tt_nativeZ_conv2dForwardS8(struct Z_tt_native_instance_t* env, u32 record) {
  const tt_conv_forward_t r = TT_NATIVE_RECORD(tt_conv_forward_t, record);
  Z_tt_nativeZ_conv2dForwardRowsS8(env, record, 0, (u32)r.OH);
}
