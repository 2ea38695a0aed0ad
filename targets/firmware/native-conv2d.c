/*
 * Native int8 conv2d / dense forward (host/firmware/native-kernels.ts): the firmware's
 * Z_tt_nativeZ_conv2dForwardS8 / conv2dForwardRowsS8 in place of the wasm2c translation
 * of assembly/kernels/conv2d.ts (qs8_conv2d_fwd_rows__scalar). Same bytes: the sums are
 * int32 with wrap-around, as in WASM, so their order is free (here: SMLAD pairs where the
 * core has the DSP extension); the requantisation is native-requant.h (requant.ts's rule).
 */
#include <stdint.h>
#include <string.h>

#include "runtime.h"
#include "tt-config.h"
#include "tt-memory.h"
#include "tt-kernel-records.h"
#include "native-memory.h"
#include "native-requant.h"
#include "native-kprof.h"

#if defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>

/* SXTB16 of v rotated by 8 (lanes 1 and 3) in one instruction; GCC does not fold the rotate into __sxtb16. */
static inline int16x2_t sxtb16_ror8(uint32_t v) {
  int16x2_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}

/* The four int8 lanes of a word as two int16 pairs, lanes (0, 2) and (1, 3), less the zero point zz in both halves. */
static inline int16x2_t lanes02(uint32_t v, int16x2_t zz) { return __ssub16(__sxtb16((int8x4_t)v), zz); }
static inline int16x2_t lanes13(uint32_t v, int16x2_t zz) { return __ssub16(sxtb16_ror8(v), zz); }

/* s + the four products of input pairs (x02, x13) with the weight word wv: two SMLADs. */
static inline int32_t mac4(int32_t s, int16x2_t x02, int16x2_t x13, uint32_t wv) {
  s = __smlad(x02, __sxtb16((int8x4_t)wv), s);
  return __smlad(x13, sxtb16_ror8(wv), s);
}

/* Two pixels (xa, xb) times two weight rows (wa, wb), n bytes each: acc[0] += xa.wa,
 * acc[1] += xa.wb, acc[2] += xb.wa, acc[3] += xb.wb. Each unpacked word serves two
 * products pairs, so a 16-MAC step is four loads, six unpacks and eight SMLADs. */
static inline void dot2x2_s8(const uint8_t* xa, const uint8_t* xb, const uint8_t* wa, const uint8_t* wb, int32_t n, int32_t zx, int32_t* acc) {
  int32_t s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
  int32_t i = 0;
  if (zx >= -128 && zx <= 127) {
    const int16x2_t zz = (int16x2_t)(((uint32_t)zx & 0xffffu) | ((uint32_t)zx << 16));
    for (; i + 4 <= n; i += 4) {
      const uint32_t av = tt_ld_u32(xa + i), bv = tt_ld_u32(xb + i), pv = tt_ld_u32(wa + i), qv = tt_ld_u32(wb + i);
      const int16x2_t a02 = lanes02(av, zz), a13 = lanes13(av, zz), b02 = lanes02(bv, zz), b13 = lanes13(bv, zz);
      const int16x2_t p02 = __sxtb16((int8x4_t)pv), p13 = sxtb16_ror8(pv), q02 = __sxtb16((int8x4_t)qv), q13 = sxtb16_ror8(qv);
      s0 = __smlad(a13, p13, __smlad(a02, p02, s0));
      s1 = __smlad(a13, q13, __smlad(a02, q02, s1));
      s2 = __smlad(b13, p13, __smlad(b02, p02, s2));
      s3 = __smlad(b13, q13, __smlad(b02, q02, s3));
    }
  }
  for (; i < n; i++) {
    const int32_t a = (int32_t)(int8_t)xa[i] - zx, bx = (int32_t)(int8_t)xb[i] - zx, p = (int32_t)(int8_t)wa[i], q = (int32_t)(int8_t)wb[i];
    s0 = (int32_t)((uint32_t)s0 + (uint32_t)(a * p));
    s1 = (int32_t)((uint32_t)s1 + (uint32_t)(a * q));
    s2 = (int32_t)((uint32_t)s2 + (uint32_t)(bx * p));
    s3 = (int32_t)((uint32_t)s3 + (uint32_t)(bx * q));
  }
  acc[0] = s0;
  acc[1] = s1;
  acc[2] = s2;
  acc[3] = s3;
}
#endif

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
      acc = mac4(acc, lanes02(xv, zz), lanes13(xv, zz), tt_ld_u32(w + i));
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
  tt_small(r->KH);
  tt_small(r->KW);
  const int32_t taps = r->KH * r->KW;
  const int32_t first = r->split == 0 ? r->C : r->split;
  /* Depthwise reads input channel co for output channel co. */
  if (r->depthwise && r->CO != r->C) tt_memory_fault(r->x, 0, 0);
  if (r->split < 0 || r->split > r->C || taps < 0) tt_memory_fault(r->w, 0, 0);
  tt_small(r->stride_h);
  tt_small(r->stride_w);
  tt_small(r->pad_h);
  tt_small(r->pad_w);
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

/* The taps of output pixel (oh, ow) inside the input (the WASM kernel skips padding taps):
 * kernel rows [kh0, kh1) and columns [kw0, kw1); input row ih0 + kh and column iw0 + kw.
 * `rows` caches each kernel row's input row (ring slot applied), or is 0 for kernels
 * taller than TT_MAX_KH, whose rows are found per use. */
#define TT_MAX_KH 16

/* The largest |accumulator| output channel co can reach: its bias and every tap of every
 * input channel (a bound for requant_fast_prepare, native-requant.h). */
static inline int64_t conv_acc_bound(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t co) {
  return acc_bound(tt_ld_i32(b->bias + 4 * co), r->KH * r->KW * (r->depthwise ? 1 : r->C));
}

typedef struct {
  int32_t kh0, kh1, kw0, kw1, ih0, iw0;
  const uint8_t* rows[TT_MAX_KH];
  int cached;
} window_t;

static inline int32_t clamp_lo(int32_t v) { return v < 0 ? 0 : v; }
static inline int32_t min32(int32_t a, int32_t b) { return a < b ? a : b; }

static inline const uint8_t* input_row(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t ih) {
  const int32_t slot = r->in_ring == 0 ? ih : ih % r->in_ring;
  return b->x + slot * r->W * r->C;
}

static inline const uint8_t* row_of(const tt_conv_forward_t* r, const conv_buffers_t* b, const window_t* win, int32_t kh) {
  return win->cached ? win->rows[kh] : input_row(r, b, win->ih0 + kh);
}

static void window_rows(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t oh, window_t* win) {
  win->ih0 = oh * r->stride_h - r->pad_h;
  win->kh0 = clamp_lo(-win->ih0);
  win->kh1 = min32(r->KH, r->H - win->ih0);
  win->cached = r->KH <= TT_MAX_KH;
  if (win->cached) {
    for (int32_t kh = win->kh0; kh < win->kh1; kh++) win->rows[kh] = input_row(r, b, win->ih0 + kh);
  }
}

static inline void window_cols(const tt_conv_forward_t* r, int32_t ow, window_t* win) {
  win->iw0 = ow * r->stride_w - r->pad_w;
  win->kw0 = clamp_lo(-win->iw0);
  win->kw1 = min32(r->KW, r->W - win->iw0);
}

/* Output row oh's first byte (its ring slot applied). */
static inline uint8_t* output_row(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t oh) {
  const int32_t slot = r->out_ring == 0 ? oh : oh % r->out_ring;
  return b->y + slot * r->OW * r->CO;
}

/* Dense (grouped = 1): two output channels at a time share each input load. */
static inline void dot2_s8(const uint8_t* x, const uint8_t* w0, const uint8_t* w1, int32_t n, int32_t zx, int32_t* a0, int32_t* a1) {
  int32_t s0 = *a0, s1 = *a1;
  int32_t i = 0;
#if defined(__ARM_FEATURE_SIMD32)
  if (zx >= -128 && zx <= 127) {
    const int16x2_t zz = (int16x2_t)(((uint32_t)zx & 0xffffu) | ((uint32_t)zx << 16));
    for (; i + 4 <= n; i += 4) {
      const uint32_t xv = tt_ld_u32(x + i);
      const int16x2_t x02 = lanes02(xv, zz), x13 = lanes13(xv, zz);
      s0 = mac4(s0, x02, x13, tt_ld_u32(w0 + i));
      s1 = mac4(s1, x02, x13, tt_ld_u32(w1 + i));
    }
  }
#endif
  for (; i < n; i++) {
    const int32_t xv = (int32_t)(int8_t)x[i] - zx;
    s0 = (int32_t)((uint32_t)s0 + (uint32_t)(xv * (int32_t)(int8_t)w0[i]));
    s1 = (int32_t)((uint32_t)s1 + (uint32_t)(xv * (int32_t)(int8_t)w1[i]));
  }
  *a0 = s0;
  *a1 = s1;
}

/* Four output channels at a time (weight rows w0, w0 + ws, w0 + 2 ws, w0 + 3 ws): each input word is unpacked once for four. */
static inline void dot4_s8(const uint8_t* x, const uint8_t* w0, int32_t ws, int32_t n, int32_t zx, int32_t* acc) {
  int32_t s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
  const uint8_t *w1 = w0 + ws, *w2 = w1 + ws, *w3 = w2 + ws;
  int32_t i = 0;
#if defined(__ARM_FEATURE_SIMD32)
  if (zx >= -128 && zx <= 127) {
    const int16x2_t zz = (int16x2_t)(((uint32_t)zx & 0xffffu) | ((uint32_t)zx << 16));
    for (; i + 4 <= n; i += 4) {
      const uint32_t xv = tt_ld_u32(x + i);
      const int16x2_t x02 = lanes02(xv, zz), x13 = lanes13(xv, zz);
      s0 = mac4(s0, x02, x13, tt_ld_u32(w0 + i));
      s1 = mac4(s1, x02, x13, tt_ld_u32(w1 + i));
      s2 = mac4(s2, x02, x13, tt_ld_u32(w2 + i));
      s3 = mac4(s3, x02, x13, tt_ld_u32(w3 + i));
    }
  }
#endif
  for (; i < n; i++) {
    const int32_t xv = (int32_t)(int8_t)x[i] - zx;
    s0 = (int32_t)((uint32_t)s0 + (uint32_t)(xv * (int32_t)(int8_t)w0[i]));
    s1 = (int32_t)((uint32_t)s1 + (uint32_t)(xv * (int32_t)(int8_t)w1[i]));
    s2 = (int32_t)((uint32_t)s2 + (uint32_t)(xv * (int32_t)(int8_t)w2[i]));
    s3 = (int32_t)((uint32_t)s3 + (uint32_t)(xv * (int32_t)(int8_t)w3[i]));
  }
  acc[0] = s0;
  acc[1] = s1;
  acc[2] = s2;
  acc[3] = s3;
}

/* Output channel co's sum over the window's taps (dense), its weights at w (first channels) and w2 (the rest). */
static inline int32_t dense_sum(const tt_conv_forward_t* r, const conv_buffers_t* b, const window_t* win, int32_t co) {
  const int32_t C = r->C, KH = r->KH, KW = r->KW, first = r->split == 0 ? C : r->split;
  int32_t acc = tt_ld_i32(b->bias + 4 * co);
  for (int32_t kh = win->kh0; kh < win->kh1; kh++) {
    if (first == C) {
      /* Unsplit: the window row's taps are one run of (kw1 - kw0) C bytes in the input and in the weights. */
      const int32_t tap = (co * KH + kh) * KW + win->kw0;
      const uint8_t* xp = row_of(r, b, win, kh) + (win->iw0 + win->kw0) * C;
      acc = (int32_t)((uint32_t)acc + (uint32_t)dot_s8(xp, b->w + tap * C, (win->kw1 - win->kw0) * C, r->zx));
      continue;
    }
    for (int32_t kw = win->kw0; kw < win->kw1; kw++) {
      const uint8_t* xp = row_of(r, b, win, kh) + (win->iw0 + kw) * C;
      const int32_t tap = (co * KH + kh) * KW + kw;
      acc = (int32_t)((uint32_t)acc + (uint32_t)dot_s8(xp, b->w + tap * first, first, r->zx));
      if (first < C) acc = (int32_t)((uint32_t)acc + (uint32_t)dot_s8(xp + first, b->w2 + tap * (C - first), C - first, r->zx));
    }
  }
  return acc;
}

/* Output channels co and co + 1 together. */
static inline void dense_sum2(const tt_conv_forward_t* r, const conv_buffers_t* b, const window_t* win, int32_t co, int32_t* a0, int32_t* a1) {
  const int32_t C = r->C, KH = r->KH, KW = r->KW, taps = KH * KW, first = r->split == 0 ? C : r->split;
  *a0 = tt_ld_i32(b->bias + 4 * co);
  *a1 = tt_ld_i32(b->bias + 4 * (co + 1));
  for (int32_t kh = win->kh0; kh < win->kh1; kh++) {
    if (first == C) {
      /* Unsplit: one run of (kw1 - kw0) C bytes per window row, as in dense_sum. */
      const int32_t tap = (co * KH + kh) * KW + win->kw0;
      const uint8_t* xp = row_of(r, b, win, kh) + (win->iw0 + win->kw0) * C;
      dot2_s8(xp, b->w + tap * C, b->w + (tap + taps) * C, (win->kw1 - win->kw0) * C, r->zx, a0, a1);
      continue;
    }
    for (int32_t kw = win->kw0; kw < win->kw1; kw++) {
      const uint8_t* xp = row_of(r, b, win, kh) + (win->iw0 + kw) * C;
      const int32_t tap = (co * KH + kh) * KW + kw;
      dot2_s8(xp, b->w + tap * first, b->w + (tap + taps) * first, first, r->zx, a0, a1);
      if (first < C) dot2_s8(xp + first, b->w2 + tap * (C - first), b->w2 + (tap + taps) * (C - first), C - first, r->zx, a0, a1);
    }
  }
}

/* Unsplit dense: output channels co .. co + 3 together, each window row one run of (kw1 - kw0) C bytes (dot4_s8 unpacks each input word once for the four). */
static inline void dense_sum4(const tt_conv_forward_t* r, const conv_buffers_t* b, const window_t* win, int32_t co, int32_t* acc) {
  const int32_t C = r->C, KH = r->KH, KW = r->KW, taps = KH * KW;
  for (int32_t k = 0; k < 4; k++) acc[k] = tt_ld_i32(b->bias + 4 * (co + k));
  for (int32_t kh = win->kh0; kh < win->kh1; kh++) {
    const int32_t tap = (co * KH + kh) * KW + win->kw0;
    const uint8_t* xp = row_of(r, b, win, kh) + (win->iw0 + win->kw0) * C;
    dot4_s8(xp, b->w + tap * C, taps * C, (win->kw1 - win->kw0) * C, r->zx, acc);
  }
}

static inline uint8_t requant_at(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t co, int32_t acc) {
  return (uint8_t)(int8_t)requant(acc, tt_ld_i32(b->mult + 4 * co), tt_ld_i32(b->shift + 4 * co), r->zy, r->lo, r->hi);
}

/* Depthwise 3x3, all nine taps inside the input, no split: every channel of one output pixel. */
static void depthwise3x3_inner(const tt_conv_forward_t* r, const conv_buffers_t* b, const window_t* win, uint8_t* yrow) {
  const int32_t C = r->C, zx = r->zx;
  const uint8_t* x0 = win->rows[0] + win->iw0 * C;
  const uint8_t* x1 = win->rows[1] + win->iw0 * C;
  const uint8_t* x2 = win->rows[2] + win->iw0 * C;
  const uint8_t* wc = b->w;
#define TT_TAP(xr, k, t) ((int32_t)(int8_t)(xr)[(k) * C + co] - zx) * (int32_t)(int8_t)wc[t]
  for (int32_t co = 0; co < C; co++, wc += 9) {
    uint32_t acc = (uint32_t)tt_ld_i32(b->bias + 4 * co);
    acc += (uint32_t)(TT_TAP(x0, 0, 0) + TT_TAP(x0, 1, 1) + TT_TAP(x0, 2, 2));
    acc += (uint32_t)(TT_TAP(x1, 0, 3) + TT_TAP(x1, 1, 4) + TT_TAP(x1, 2, 5));
    acc += (uint32_t)(TT_TAP(x2, 0, 6) + TT_TAP(x2, 1, 7) + TT_TAP(x2, 2, 8));
    yrow[co] = requant_at(r, b, co, (int32_t)acc);
  }
#undef TT_TAP
}

#if defined(__ARM_FEATURE_SIMD32)
/*
 * Depthwise 3x3 (no split) four channels at a time: one word load gives a tap's input for
 * channels c..c+3, SXTB16 splits it into the int16 pairs (c, c+2) and (c+1, c+3), and
 * SMLABB / SMLATT multiply each lane by its channel's weight (pairs packed once per group
 * and row, not per pixel). The zero point leaves the inner loop: sum over valid taps of
 * (x - zx) w = sum over all nine taps of x' w - zx (sum of the nine w), where a tap in
 * the padding reads x' = zx (a word of four zx bytes), so border pixels take the same
 * path with their padding taps pointed at that word. All of it is int32 arithmetic
 * modulo 2^32, as WASM's i32 sums are, so the bytes are the scalar kernel's.
 */
typedef struct {
  int32_t wE[9], wO[9]; /* tap t's weights of channels (c, c + 2) and (c + 1, c + 3), int16 pairs */
  int32_t base[4];      /* bias - zx * (the channel's nine weights summed) */
  requant_fast_t q[4];  /* the channels' requantisation, when `fast` */
  int fast;             /* all four channels prepared and the clamp is [-128, 127]: one SSAT */
  const conv_buffers_t* b; /* for requant() when not fast */
  int32_t c;               /* the group's first channel */
} dw_group_t;

static inline int32_t w8(const uint8_t* p) { return (int32_t)(int8_t)*p; }
static inline int32_t pair16(int32_t lo, int32_t hi) { return (int32_t)(((uint32_t)lo & 0xffffu) | ((uint32_t)hi << 16)); }

static void dw_group_init(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t c, dw_group_t* g) {
  const uint8_t* w = b->w + c * 9;
  g->b = b;
  g->c = c;
  g->fast = r->lo == -128 && r->hi == 127;
  /* The weight sums from the packed pairs: SADD16 lane-wise (nine int8 fit an int16). */
  int16x2_t sE = 0, sO = 0;
  for (int32_t t = 0; t < 9; t++) {
    g->wE[t] = pair16(w8(w + t), w8(w + 18 + t));
    g->wO[t] = pair16(w8(w + 9 + t), w8(w + 27 + t));
    sE = __sadd16(sE, g->wE[t]);
    sO = __sadd16(sO, g->wO[t]);
  }
  const int32_t sum[4] = {(int16_t)sE, (int16_t)sO, (int16_t)((uint32_t)sE >> 16), (int16_t)((uint32_t)sO >> 16)};
  for (int32_t k = 0; k < 4; k++) {
    g->base[k] = (int32_t)((uint32_t)tt_ld_i32(b->bias + 4 * (c + k)) - (uint32_t)r->zx * (uint32_t)sum[k]);
    g->fast &= requant_fast_prepare(tt_ld_i32(b->mult + 4 * (c + k)), tt_ld_i32(b->shift + 4 * (c + k)), r->zy, conv_acc_bound(r, b, c + k), &g->q[k]);
  }
}

/* One tap of four channels: xv holds the input bytes of channels c..c+3. */
static inline __attribute__((always_inline)) void dw_tap(uint32_t xv, int32_t wE, int32_t wO, int32_t* a) {
  const int32_t e = (int32_t)__sxtb16((int8x4_t)xv), o = (int32_t)sxtb16_ror8(xv);
  a[0] = __smlabb(e, wE, a[0]);
  a[2] = __smlatt(e, wE, a[2]);
  a[1] = __smlabb(o, wO, a[1]);
  a[3] = __smlatt(o, wO, a[3]);
}

/* A pixel whose nine taps are inside the input: x0..x2 point at its window's first column (channel c) in the three rows. */
static inline __attribute__((always_inline)) void dw_pixel_inner(const uint8_t* x0, const uint8_t* x1, const uint8_t* x2, int32_t C, const dw_group_t* g, int32_t* a) {
  for (int32_t k = 0; k < 4; k++) a[k] = g->base[k];
  dw_tap(tt_ld_u32(x0), g->wE[0], g->wO[0], a);
  dw_tap(tt_ld_u32(x0 + C), g->wE[1], g->wO[1], a);
  dw_tap(tt_ld_u32(x0 + 2 * C), g->wE[2], g->wO[2], a);
  dw_tap(tt_ld_u32(x1), g->wE[3], g->wO[3], a);
  dw_tap(tt_ld_u32(x1 + C), g->wE[4], g->wO[4], a);
  dw_tap(tt_ld_u32(x1 + 2 * C), g->wE[5], g->wO[5], a);
  dw_tap(tt_ld_u32(x2), g->wE[6], g->wO[6], a);
  dw_tap(tt_ld_u32(x2 + C), g->wE[7], g->wO[7], a);
  dw_tap(tt_ld_u32(x2 + 2 * C), g->wE[8], g->wO[8], a);
}

/* A pixel with taps in the padding: rows[kh] is 0 for a row outside the input, and those taps (and columns outside) read `pad`. */
static void dw_pixel_edge(const uint8_t* const* rows, int32_t iw0, int32_t W, int32_t C, int32_t c, const uint8_t* pad, const dw_group_t* g, int32_t* a) {
  for (int32_t k = 0; k < 4; k++) a[k] = g->base[k];
  for (int32_t kh = 0; kh < 3; kh++) {
    for (int32_t kw = 0; kw < 3; kw++) {
      const int32_t iw = iw0 + kw;
      const uint8_t* p = rows[kh] && iw >= 0 && iw < W ? rows[kh] + iw * C + c : pad;
      dw_tap(tt_ld_u32(p), g->wE[kh * 3 + kw], g->wO[kh * 3 + kw], a);
    }
  }
}

/* The four channels' outputs: fast, one SSAT each and one word store; else requant() per channel. */
static inline void dw_store(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t c, const dw_group_t* g, const int32_t* a, uint8_t* y) {
  if (g->fast) {
    const uint32_t v0 = (uint32_t)__ssat(requant_fast(a[0], &g->q[0]), 8), v1 = (uint32_t)__ssat(requant_fast(a[1], &g->q[1]), 8);
    const uint32_t v2 = (uint32_t)__ssat(requant_fast(a[2], &g->q[2]), 8), v3 = (uint32_t)__ssat(requant_fast(a[3], &g->q[3]), 8);
    const uint32_t word = (v0 & 0xffu) | ((v1 & 0xffu) << 8) | ((v2 & 0xffu) << 16) | (v3 << 24);
    memcpy(y, &word, 4);
    return;
  }
  for (int32_t k = 0; k < 4; k++) y[k] = requant_at(r, b, c + k, a[k]);
}

/*
 * The group's three input rows staged as words (four channels each) in a stack buffer,
 * padding columns and rows outside the input as the zx word: every pixel then reads its
 * nine words at fixed offsets, with no edge cases and no channel stride.
 */
#define DW_SPAN 132

/* One kernel row's three taps for two neighbouring pixels at stride 1 (windows at words 0 and 1 of xk). */
static inline __attribute__((always_inline)) void dw_row_pair(const uint32_t* xk, const int32_t* wE, const int32_t* wO, int32_t* a, int32_t* b) {
  const uint32_t v0 = xk[0], v1 = xk[1], v2 = xk[2], v3 = xk[3];
  dw_tap(v0, wE[0], wO[0], a);
  dw_tap(v1, wE[0], wO[0], b);
  dw_tap(v1, wE[1], wO[1], a);
  dw_tap(v2, wE[1], wO[1], b);
  dw_tap(v2, wE[2], wO[2], a);
  dw_tap(v3, wE[2], wO[2], b);
}

static void dw_row_staged(const tt_conv_forward_t* r, const uint8_t* const* rows, int32_t span, int32_t c, uint32_t pad, const dw_group_t* g, uint8_t* y) {
  const int32_t C = r->C, W = r->W, pw = r->pad_w, sw = r->stride_w;
  uint32_t buf[3][DW_SPAN];
  /* Columns j < j0 and j >= j1 are padding (input column j - pw outside [0, W)). */
  const int32_t j0 = min32(pw, span), j1 = min32(span, W + pw);
  for (int32_t kh = 0; kh < 3; kh++) {
    uint32_t* d = buf[kh];
    if (!rows[kh]) {
      for (int32_t j = 0; j < span; j++) d[j] = pad;
      continue;
    }
    for (int32_t j = 0; j < j0; j++) d[j] = pad;
    const uint8_t* src = rows[kh] + c + (j0 - pw) * C;
    for (int32_t j = j0; j < j1; j++, src += C) d[j] = tt_ld_u32(src);
    for (int32_t j = j1 > j0 ? j1 : j0; j < span; j++) d[j] = pad;
  }
  const uint32_t *x0 = buf[0], *x1 = buf[1], *x2 = buf[2];
  int32_t ow = 0;
  if (sw == 1) {
    /* Two pixels a pass: each weight pair is loaded once for both, and a row's four words
     * serve both windows (at stride 2, or written as loops, this measured worse). */
    for (; ow + 2 <= r->OW; ow += 2, x0 += 2, x1 += 2, x2 += 2, y += 2 * C) {
      int32_t a[4], b[4];
      for (int32_t k = 0; k < 4; k++) a[k] = b[k] = g->base[k];
      dw_row_pair(x0, g->wE, g->wO, a, b);
      dw_row_pair(x1, g->wE + 3, g->wO + 3, a, b);
      dw_row_pair(x2, g->wE + 6, g->wO + 6, a, b);
      dw_store(r, g->b, g->c, g, a, y);
      dw_store(r, g->b, g->c, g, b, y + C);
    }
  }
  for (; ow < r->OW; ow++, x0 += sw, x1 += sw, x2 += sw, y += C) {
    int32_t a[4];
    for (int32_t k = 0; k < 4; k++) a[k] = g->base[k];
    dw_tap(x0[0], g->wE[0], g->wO[0], a);
    dw_tap(x0[1], g->wE[1], g->wO[1], a);
    dw_tap(x0[2], g->wE[2], g->wO[2], a);
    dw_tap(x1[0], g->wE[3], g->wO[3], a);
    dw_tap(x1[1], g->wE[4], g->wO[4], a);
    dw_tap(x1[2], g->wE[5], g->wO[5], a);
    dw_tap(x2[0], g->wE[6], g->wO[6], a);
    dw_tap(x2[1], g->wE[7], g->wO[7], a);
    dw_tap(x2[2], g->wE[8], g->wO[8], a);
    dw_store(r, g->b, g->c, g, a, y);
  }
}

/* Output rows [begin, end) of a depthwise 3x3 conv without split (any stride and padding); returns 0 (nothing done) when zx is not an int8. */
static int depthwise3x3_rows_simd(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t begin, int32_t end);
#endif

/* Depthwise: channel co's sum over the window's taps. */
static inline int32_t depthwise_sum(const tt_conv_forward_t* r, const conv_buffers_t* b, const window_t* win, int32_t co) {
  const int32_t C = r->C, KW = r->KW, taps = r->KH * KW;
  const uint8_t* wc = (r->split == 0 || co < r->split) ? b->w + co * taps : b->w2 + (co - r->split) * taps;
  int32_t acc = tt_ld_i32(b->bias + 4 * co);
  for (int32_t kh = win->kh0; kh < win->kh1; kh++) {
    const uint8_t* xp = row_of(r, b, win, kh) + win->iw0 * C + co;
    for (int32_t kw = win->kw0; kw < win->kw1; kw++) {
      acc = (int32_t)((uint32_t)acc + (uint32_t)(((int32_t)(int8_t)xp[kw * C] - r->zx) * (int32_t)(int8_t)wc[kh * KW + kw]));
    }
  }
  return acc;
}


#if defined(__ARM_FEATURE_SIMD32)
/* Group g's four channels of the output row whose window is `win`, into yrow0 + g->c. */
static void dw_group_row(const tt_conv_forward_t* r, const window_t* win, const dw_group_t* g, uint32_t pad, uint8_t* yrow0) {
  const int32_t C = r->C, W = r->W, OW = r->OW, c = g->c;
  const uint8_t* rows[3];
  for (int32_t kh = 0; kh < 3; kh++) rows[kh] = kh >= win->kh0 && kh < win->kh1 ? win->rows[kh] : 0;
  /* Input columns the row's windows span, from -pad_w on: staged (dw_row_staged) when they fit DW_SPAN. */
  const int32_t span = (OW - 1) * r->stride_w + 3;
  if (span <= DW_SPAN) {
    dw_row_staged(r, rows, span, c, pad, g, yrow0 + c);
    return;
  }
  const int full = win->kh0 == 0 && win->kh1 == 3;
  for (int32_t ow = 0; ow < OW; ow++) {
    const int32_t iw0 = ow * r->stride_w - r->pad_w;
    int32_t a[4];
    if (full && iw0 >= 0 && iw0 + 3 <= W) dw_pixel_inner(rows[0] + iw0 * C + c, rows[1] + iw0 * C + c, rows[2] + iw0 * C + c, C, g, a);
    else dw_pixel_edge(rows, iw0, W, C, c, (const uint8_t*)&pad, g, a);
    dw_store(r, g->b, c, g, a, yrow0 + ow * C + c);
  }
}

/*
 * Group by group (four channels), each group's rows in order: a group's weight pairs and
 * requantisation are prepared once for all the rows of the call, not once per row (the
 * small late maps have few pixels a row to share that set-up). Every output byte is
 * computed as before; only the order in which independent outputs are written changes.
 */
__attribute__((noinline)) static int depthwise3x3_rows_simd(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t begin, int32_t end) {
  if (r->zx < -128 || r->zx > 127) return 0;
  const int32_t C = r->C, OW = r->OW;
  const uint32_t pad = ((uint32_t)r->zx & 0xffu) * 0x01010101u;
  window_t win;
  int32_t c = 0;
  for (; c + 4 <= C; c += 4) {
    dw_group_t g;
    dw_group_init(r, b, c, &g);
    for (int32_t oh = begin; oh < end; oh++) {
      window_rows(r, b, oh, &win);
      dw_group_row(r, &win, &g, pad, output_row(r, b, oh));
    }
  }
  /* The last C % 4 channels one at a time. */
  if (c < C) {
    for (int32_t oh = begin; oh < end; oh++) {
      window_rows(r, b, oh, &win);
      uint8_t* yrow0 = output_row(r, b, oh);
      for (int32_t ow = 0; ow < OW; ow++) {
        window_cols(r, ow, &win);
        for (int32_t co = c; co < C; co++) yrow0[ow * C + co] = requant_at(r, b, co, depthwise_sum(r, b, &win, co));
      }
    }
  }
  return 1;
}
#endif

#if defined(__ARM_FEATURE_SIMD32)
/* 1x1 with few input channels (C = 4 * words, words a constant: 2 or 4), no split: the
 * pixel's input is unpacked once into registers and every output channel takes one SMLAD
 * pair per input word. With C = 8 the general four-channel loop spends about as much on
 * its loop and spills as on the products (MBV2's b1_expand: 8.3 instructions per MAC). */
static inline __attribute__((always_inline)) void pointwise_pixel_few(const tt_conv_forward_t* r, const conv_buffers_t* b, const uint8_t* xp, uint8_t* yrow, int32_t co0, int32_t n, const int32_t words, int16x2_t zz) {
  int16x2_t x02[4], x13[4];
  for (int32_t j = 0; j < words; j++) {
    const uint32_t xv = tt_ld_u32(xp + 4 * j);
    x02[j] = lanes02(xv, zz);
    x13[j] = lanes13(xv, zz);
  }
  const uint8_t* wp = b->w + co0 * 4 * words;
  for (int32_t co = co0; co < co0 + n; co++, wp += 4 * words) {
    int32_t acc = tt_ld_i32(b->bias + 4 * co);
    for (int32_t j = 0; j < words; j++) acc = mac4(acc, x02[j], x13[j], tt_ld_u32(wp + 4 * j));
    yrow[co] = requant_at(r, b, co, acc);
  }
}

/*
 * The same with each output channel prepared once per row and block of PW_BLOCK channels
 * (pw_channel_t, on the stack): its weight words already split into SXTB16 lanes and its
 * requantisation in native-requant.h's prepared form. With C = 8 a channel's eight
 * products take four SMLADs, and the generic requantisation cost twice that.
 */
#define PW_BLOCK 16

typedef struct {
  int32_t bias;
  requant_fast_t q;
  int16x2_t w02[4], w13[4];
} pw_channel_t;

/* Prepares channels [co, co + n); returns 0 when one of them needs requant() or the clamp is wider than int8. */
static int pw_prepare(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t co, int32_t n, int32_t words, pw_channel_t* t) {
  if (r->lo < -128 || r->hi > 127 || r->lo > r->hi) return 0;
  for (int32_t k = 0; k < n; k++) {
    pw_channel_t* e = &t[k];
    e->bias = tt_ld_i32(b->bias + 4 * (co + k));
    if (!requant_fast_prepare(tt_ld_i32(b->mult + 4 * (co + k)), tt_ld_i32(b->shift + 4 * (co + k)), r->zy, conv_acc_bound(r, b, co + k), &e->q)) return 0;
    const uint8_t* wp = b->w + (co + k) * 4 * words;
    for (int32_t j = 0; j < words; j++) {
      const uint32_t wv = tt_ld_u32(wp + 4 * j);
      e->w02[j] = __sxtb16((int8x4_t)wv);
      e->w13[j] = sxtb16_ror8(wv);
    }
  }
  return 1;
}

/* One pixel's outputs of the n prepared channels t (words = C / 4, a constant). */
static inline __attribute__((always_inline)) void pw_pixel_prepared(const tt_conv_forward_t* r, const pw_channel_t* t, int32_t n, const uint8_t* xp, uint8_t* y, const int32_t words, int16x2_t zz) {
  int16x2_t x02[4], x13[4];
  for (int32_t j = 0; j < words; j++) {
    const uint32_t xv = tt_ld_u32(xp + 4 * j);
    x02[j] = lanes02(xv, zz);
    x13[j] = lanes13(xv, zz);
  }
  const int full = r->lo == -128 && r->hi == 127;
  for (int32_t k = 0; k < n; k++, t++) {
    int32_t acc = t->bias;
    for (int32_t j = 0; j < words; j++) {
      acc = __smlad(x02[j], t->w02[j], acc);
      acc = __smlad(x13[j], t->w13[j], acc);
    }
    int32_t v = __ssat(requant_fast(acc, &t->q), 8);
    if (!full) v = v < r->lo ? r->lo : v > r->hi ? r->hi : v;
    y[k] = (uint8_t)(int8_t)v;
  }
}

/* pw_pixel_prepared for two pixels of C = 8 at once (xp and xq): the channel's four weight
 * words and requantisation are loaded once for both; the clamp is [-128, 127]. */
static void pw_pixels2_c8(const pw_channel_t* t, int32_t n, const uint8_t* xp, const uint8_t* xq, uint8_t* y, uint8_t* z, int16x2_t zz) {
  const uint32_t p0 = tt_ld_u32(xp), p1 = tt_ld_u32(xp + 4), q0 = tt_ld_u32(xq), q1 = tt_ld_u32(xq + 4);
  const int16x2_t a0 = lanes02(p0, zz), a1 = lanes13(p0, zz), a2 = lanes02(p1, zz), a3 = lanes13(p1, zz);
  const int16x2_t b0 = lanes02(q0, zz), b1 = lanes13(q0, zz), b2 = lanes02(q1, zz), b3 = lanes13(q1, zz);
  for (int32_t k = 0; k < n; k++, t++) {
    const int16x2_t w0 = t->w02[0], w1 = t->w13[0], w2 = t->w02[1], w3 = t->w13[1];
    const int32_t s = __smlad(a3, w3, __smlad(a2, w2, __smlad(a1, w1, __smlad(a0, w0, t->bias))));
    const int32_t u = __smlad(b3, w3, __smlad(b2, w2, __smlad(b1, w1, __smlad(b0, w0, t->bias))));
    y[k] = (uint8_t)__ssat(requant_fast(s, &t->q), 8);
    z[k] = (uint8_t)__ssat(requant_fast(u, &t->q), 8);
  }
}

/* The same for C = 16: the two pixels' sixteen lane words do not all fit in registers, but
 * each channel's eight weight words are still loaded once for both pixels. */
static void pw_pixels2_c16(const pw_channel_t* t, int32_t n, const uint8_t* xp, const uint8_t* xq, uint8_t* y, uint8_t* z, int16x2_t zz) {
  int16x2_t a[8], b[8];
  for (int32_t j = 0; j < 4; j++) {
    const uint32_t p = tt_ld_u32(xp + 4 * j), q = tt_ld_u32(xq + 4 * j);
    a[2 * j] = lanes02(p, zz);
    a[2 * j + 1] = lanes13(p, zz);
    b[2 * j] = lanes02(q, zz);
    b[2 * j + 1] = lanes13(q, zz);
  }
  for (int32_t k = 0; k < n; k++, t++) {
    int32_t s = t->bias, u = t->bias;
    for (int32_t j = 0; j < 4; j++) {
      const int16x2_t w02 = t->w02[j], w13 = t->w13[j];
      s = __smlad(a[2 * j + 1], w13, __smlad(a[2 * j], w02, s));
      u = __smlad(b[2 * j + 1], w13, __smlad(b[2 * j], w02, u));
    }
    y[k] = (uint8_t)__ssat(requant_fast(s, &t->q), 8);
    z[k] = (uint8_t)__ssat(requant_fast(u, &t->q), 8);
  }
}

/* The row through the prepared or the plain few-channel pixel loop when C is 8 or 16; returns 0 when neither applies. */
__attribute__((noinline)) static int pointwise_row_few(const tt_conv_forward_t* r, const conv_buffers_t* b, const uint8_t* xrow, uint8_t* yrow0) {
  if (r->split != 0 || (r->C != 8 && r->C != 16) || r->zx < -128 || r->zx > 127) return 0;
  const int16x2_t zz = (int16x2_t)(((uint32_t)r->zx & 0xffffu) | ((uint32_t)r->zx << 16));
  const int32_t step = r->stride_w * r->C, CO = r->CO;
  pw_channel_t t[PW_BLOCK];
  for (int32_t co = 0; co < CO; co += PW_BLOCK) {
    const int32_t n = min32(PW_BLOCK, CO - co);
    if (pw_prepare(r, b, co, n, r->C / 4, t)) {
      int32_t ow = 0;
      if (r->lo == -128 && r->hi == 127) {
        for (; ow + 2 <= r->OW; ow += 2) {
          if (r->C == 8) pw_pixels2_c8(t, n, xrow + ow * step, xrow + (ow + 1) * step, yrow0 + ow * CO + co, yrow0 + (ow + 1) * CO + co, zz);
          else pw_pixels2_c16(t, n, xrow + ow * step, xrow + (ow + 1) * step, yrow0 + ow * CO + co, yrow0 + (ow + 1) * CO + co, zz);
        }
      }
      for (; ow < r->OW; ow++) {
        if (r->C == 8) pw_pixel_prepared(r, t, n, xrow + ow * step, yrow0 + ow * CO + co, 2, zz);
        else pw_pixel_prepared(r, t, n, xrow + ow * step, yrow0 + ow * CO + co, 4, zz);
      }
      continue;
    }
    for (int32_t ow = 0; ow < r->OW; ow++) {
      if (r->C == 8) pointwise_pixel_few(r, b, xrow + ow * step, yrow0 + ow * CO, co, n, 2, zz);
      else pointwise_pixel_few(r, b, xrow + ow * step, yrow0 + ow * CO, co, n, 4, zz);
    }
  }
  return 1;
}
#endif

#if defined(__ARM_FEATURE_SIMD32)
/* Output channels [co0, co0 + n) (n <= RQ_BLOCK) with their requantisation prepared once per
 * row (native-requant.h), when every one of them qualifies and the clamp fits int8. */
#define RQ_BLOCK 64

typedef struct {
  int32_t co0, n, fast, full;
  requant_fast_t q[RQ_BLOCK];
} rq_block_t;

static void rq_block_prepare(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t co0, int32_t n, rq_block_t* t) {
  t->co0 = co0;
  t->n = n;
  t->full = r->lo == -128 && r->hi == 127;
  t->fast = r->lo >= -128 && r->hi <= 127 && r->lo <= r->hi;
  for (int32_t k = 0; k < n && t->fast; k++) t->fast = requant_fast_prepare(tt_ld_i32(b->mult + 4 * (co0 + k)), tt_ld_i32(b->shift + 4 * (co0 + k)), r->zy, conv_acc_bound(r, b, co0 + k), &t->q[k]);
}

static inline uint8_t rq_block_out(const tt_conv_forward_t* r, const conv_buffers_t* b, const rq_block_t* t, int32_t co, int32_t acc) {
  if (!t->fast) return requant_at(r, b, co, acc);
  int32_t v = __ssat(requant_fast(acc, &t->q[co - t->co0]), 8);
  if (!t->full) v = v < r->lo ? r->lo : v > r->hi ? r->hi : v;
  return (uint8_t)(int8_t)v;
}

/* 1x1: output pixels xp and the next (one stride on), the block's channels two a pass (dot2x2_s8), into y and y + CO. */
static void pointwise_pixels2(const tt_conv_forward_t* r, const conv_buffers_t* b, const rq_block_t* t, const uint8_t* xp, uint8_t* y) {
  const int32_t C = r->C, CO = r->CO, first = r->split == 0 ? C : r->split, rest = C - first, end = t->co0 + t->n;
  const uint8_t* xq = xp + r->stride_w * C;
  int32_t co = t->co0;
  for (; co + 2 <= end; co += 2) {
    const int32_t b0 = tt_ld_i32(b->bias + 4 * co), b1 = tt_ld_i32(b->bias + 4 * (co + 1));
    int32_t acc[4] = {b0, b1, b0, b1};
    dot2x2_s8(xp, xq, b->w + co * first, b->w + (co + 1) * first, first, r->zx, acc);
    if (rest) dot2x2_s8(xp + first, xq + first, b->w2 + co * rest, b->w2 + (co + 1) * rest, rest, r->zx, acc);
    y[co] = rq_block_out(r, b, t, co, acc[0]);
    y[co + 1] = rq_block_out(r, b, t, co + 1, acc[1]);
    y[CO + co] = rq_block_out(r, b, t, co, acc[2]);
    y[CO + co + 1] = rq_block_out(r, b, t, co + 1, acc[3]);
  }
  for (; co < end; co++) {
    const uint8_t* x2[2] = {xp, xq};
    for (int32_t k = 0; k < 2; k++) {
      int32_t acc = (int32_t)((uint32_t)tt_ld_i32(b->bias + 4 * co) + (uint32_t)dot_s8(x2[k], b->w + co * first, first, r->zx));
      if (rest) acc = (int32_t)((uint32_t)acc + (uint32_t)dot_s8(x2[k] + first, b->w2 + co * rest, rest, r->zx));
      y[k * CO + co] = rq_block_out(r, b, t, co, acc);
    }
  }
}

/*
 * 1x1 on C % 4 == 0 channels (and a split, if any, on a multiple of 4): a pixel pair's
 * input is unpacked once per channel block into SXTB16 lanes less the zero point (xq:
 * words x02, x13 interleaved, read two at a time), so the inner loop is two weight words,
 * four unpacks and eight SMLADs per 16 products (dot2x2_s8 also unpacks both pixels).
 */
#define XQ_WORDS 168

static void unpack_pixel(const uint8_t* xp, int32_t C, int16x2_t zz, int16x2_t* xq) {
  for (int32_t j = 0; j < C / 4; j++) {
    const uint32_t v = tt_ld_u32(xp + 4 * j);
    xq[2 * j] = lanes02(v, zz);
    xq[2 * j + 1] = lanes13(v, zz);
  }
}

static inline void dot2x2_q(const int16x2_t* xa, const int16x2_t* xb, const uint8_t* wa, const uint8_t* wb, int32_t words, int32_t* acc) {
  int32_t s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
  for (int32_t j = 0; j < words; j++, xa += 2, xb += 2) {
    const uint32_t pv = tt_ld_u32(wa + 4 * j), qv = tt_ld_u32(wb + 4 * j);
    const int16x2_t p02 = __sxtb16((int8x4_t)pv), p13 = sxtb16_ror8(pv), q02 = __sxtb16((int8x4_t)qv), q13 = sxtb16_ror8(qv);
    /* Each pixel's two lane words in one LDRD. */
    uint64_t av, bv;
    memcpy(&av, xa, 8);
    memcpy(&bv, xb, 8);
    const int16x2_t a02 = (int16x2_t)(uint32_t)av, a13 = (int16x2_t)(uint32_t)(av >> 32), b02 = (int16x2_t)(uint32_t)bv, b13 = (int16x2_t)(uint32_t)(bv >> 32);
    s0 = __smlad(a13, p13, __smlad(a02, p02, s0));
    s1 = __smlad(a13, q13, __smlad(a02, q02, s1));
    s2 = __smlad(b13, p13, __smlad(b02, p02, s2));
    s3 = __smlad(b13, q13, __smlad(b02, q02, s3));
  }
  acc[0] = s0;
  acc[1] = s1;
  acc[2] = s2;
  acc[3] = s3;
}

/* The block's channels for one pixel pair from its unpacked input xa, xb, into y and y + CO. */
static void pointwise_pair_q(const tt_conv_forward_t* r, const conv_buffers_t* b, const rq_block_t* t, const int16x2_t* xa, const int16x2_t* xb, uint8_t* y) {
  const int32_t C = r->C, CO = r->CO, first = r->split == 0 ? C : r->split, rest = C - first, end = t->co0 + t->n;
  int32_t co = t->co0;
  for (; co + 2 <= end; co += 2) {
    const int32_t b0 = tt_ld_i32(b->bias + 4 * co), b1 = tt_ld_i32(b->bias + 4 * (co + 1));
    int32_t acc[4] = {b0, b1, b0, b1};
    dot2x2_q(xa, xb, b->w + co * first, b->w + (co + 1) * first, first / 4, acc);
    if (rest) dot2x2_q(xa + first / 2, xb + first / 2, b->w2 + co * rest, b->w2 + (co + 1) * rest, rest / 4, acc);
    y[co] = rq_block_out(r, b, t, co, acc[0]);
    y[co + 1] = rq_block_out(r, b, t, co + 1, acc[1]);
    y[CO + co] = rq_block_out(r, b, t, co, acc[2]);
    y[CO + co + 1] = rq_block_out(r, b, t, co + 1, acc[3]);
  }
  if (co < end) {
    /* The odd last channel: both pixels against the same row (the products land in acc[0] and acc[2]). */
    const int32_t b0 = tt_ld_i32(b->bias + 4 * co);
    int32_t acc[4] = {b0, b0, b0, b0};
    dot2x2_q(xa, xb, b->w + co * first, b->w + co * first, first / 4, acc);
    if (rest) dot2x2_q(xa + first / 2, xb + first / 2, b->w2 + co * rest, b->w2 + co * rest, rest / 4, acc);
    y[co] = rq_block_out(r, b, t, co, acc[0]);
    y[CO + co] = rq_block_out(r, b, t, co, acc[2]);
  }
}

/* pointwise_pair_q for the common case (no split, block prepared fast, clamp [-128, 127]),
 * written with running pointers: its bookkeeping around the inner loop, not the loop,
 * was most of a channel pair's cost at C = 24-32. w: the block's first weight row. */
static void pointwise_pair_q_full(const rq_block_t* t, const uint8_t* bias, const uint8_t* w, int32_t C, int32_t CO, const int16x2_t* xa, const int16x2_t* xb, uint8_t* y) {
  const int32_t words = C / 4, n = t->n;
  const requant_fast_t* q = t->q;
  int32_t k = 0;
  for (; k + 2 <= n; k += 2, w += 2 * C, q += 2) {
    const int32_t b0 = tt_ld_i32(bias + 4 * k), b1 = tt_ld_i32(bias + 4 * k + 4);
    int32_t acc[4] = {b0, b1, b0, b1};
    dot2x2_q(xa, xb, w, w + C, words, acc);
    y[k] = (uint8_t)__ssat(requant_fast(acc[0], q), 8);
    y[k + 1] = (uint8_t)__ssat(requant_fast(acc[1], q + 1), 8);
    y[CO + k] = (uint8_t)__ssat(requant_fast(acc[2], q), 8);
    y[CO + k + 1] = (uint8_t)__ssat(requant_fast(acc[3], q + 1), 8);
  }
  if (k < n) {
    const int32_t b0 = tt_ld_i32(bias + 4 * k);
    int32_t acc[4] = {b0, b0, b0, b0};
    dot2x2_q(xa, xb, w, w, words, acc);
    y[k] = (uint8_t)__ssat(requant_fast(acc[0], q), 8);
    y[CO + k] = (uint8_t)__ssat(requant_fast(acc[2], q), 8);
  }
}

/* The row's pixels in pairs, by blocks of RQ_BLOCK output channels; returns the pixels done (an odd last one is left). */
__attribute__((noinline)) static int32_t pointwise_row_pairs(const tt_conv_forward_t* r, const conv_buffers_t* b, const uint8_t* xrow, uint8_t* yrow0) {
  const int32_t pairs = r->OW / 2 * 2;
  if (pairs == 0) return 0;
  rq_block_t t;
  const int32_t C = r->C, first = r->split == 0 ? C : r->split;
  const int unpacked = C % 4 == 0 && first % 4 == 0 && C / 2 <= XQ_WORDS && r->zx >= -128 && r->zx <= 127;
  const int16x2_t zz = (int16x2_t)(((uint32_t)r->zx & 0xffffu) | ((uint32_t)r->zx << 16));
  int16x2_t xq[2][XQ_WORDS];
  for (int32_t co0 = 0; co0 < r->CO; co0 += RQ_BLOCK) {
    rq_block_prepare(r, b, co0, min32(RQ_BLOCK, r->CO - co0), &t);
    for (int32_t ow = 0; ow < pairs; ow += 2) {
      const uint8_t* xp = xrow + ow * r->stride_w * C;
      if (!unpacked) {
        pointwise_pixels2(r, b, &t, xp, yrow0 + ow * r->CO);
        continue;
      }
      unpack_pixel(xp, C, zz, xq[0]);
      unpack_pixel(xp + r->stride_w * C, C, zz, xq[1]);
      if (t.fast && t.full && r->split == 0) pointwise_pair_q_full(&t, b->bias + 4 * co0, b->w + co0 * C, C, r->CO, xq[0], xq[1], yrow0 + ow * r->CO + co0);
      else pointwise_pair_q(r, b, &t, xq[0], xq[1], yrow0 + ow * r->CO);
    }
  }
  return pairs;
}
#endif

#if defined(__ARM_FEATURE_SIMD32)
/* The row paths below with stack tables are kept out of line (noinline), so the deepest
 * frame is one of them, not their sum inlined into forward_rows. */

/*
 * Dense convs whose whole window is at most PATCH_BYTES bytes (the MBV2 stem: 3x3x3 = 27):
 * the general path runs each window row's 9 bytes through dot4_s8's tail. Here a pixel's
 * window is copied once into a patch, padding taps as zx bytes (which add (zx - zx) w = 0,
 * as the skipped taps do), unpacked once into SXTB16 lanes, and every output channel takes
 * two SMLADs per patch word against its weights, unpacked once per row (patch_channel_t);
 * the requantisation is native-requant.h's prepared form. Weights [CO][KH][KW][C] are in
 * the patch's order already; the patch's last word is padded with zero weights.
 */
#define PATCH_BYTES 32
#define PATCH_BLOCK 16

typedef struct {
  int32_t bias;
  requant_fast_t q;
  int16x2_t w02[PATCH_BYTES / 4], w13[PATCH_BYTES / 4];
} patch_channel_t;

static int patch_prepare(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t co, int32_t n, int32_t bytes, patch_channel_t* t) {
  for (int32_t k = 0; k < n; k++) {
    patch_channel_t* e = &t[k];
    e->bias = tt_ld_i32(b->bias + 4 * (co + k));
    if (!requant_fast_prepare(tt_ld_i32(b->mult + 4 * (co + k)), tt_ld_i32(b->shift + 4 * (co + k)), r->zy, conv_acc_bound(r, b, co + k), &e->q)) return 0;
    uint8_t wb[PATCH_BYTES] = {0};
    memcpy(wb, b->w + (co + k) * bytes, (size_t)bytes);
    for (int32_t j = 0; j < (bytes + 3) / 4; j++) {
      const uint32_t wv = tt_ld_u32(wb + 4 * j);
      e->w02[j] = __sxtb16((int8x4_t)wv);
      e->w13[j] = sxtb16_ror8(wv);
    }
  }
  return 1;
}

/* Output pixel ow's window (win: its rows; columns set here) as patch bytes, taps outside the input as zx. */
static inline void patch_fill(const tt_conv_forward_t* r, window_t* win, int32_t ow, uint8_t* patch) {
  window_cols(r, ow, win);
  const int32_t C = r->C, rowBytes = r->KW * C, run = (win->kw1 - win->kw0) * C;
  if (rowBytes == 9 && run == 9 && win->kh0 == 0 && win->kh1 == r->KH) {
    /* A whole window of 9-byte rows (the 3x3x3 stem) inside the input: two words and a byte per row. */
    for (int32_t kh = 0; kh < r->KH; kh++) {
      const uint8_t* src = win->rows[kh] + win->iw0 * C;
      const uint32_t a = tt_ld_u32(src), b = tt_ld_u32(src + 4);
      memcpy(patch + 9 * kh, &a, 4);
      memcpy(patch + 9 * kh + 4, &b, 4);
      patch[9 * kh + 8] = src[8];
    }
    return;
  }
  memset(patch, (int)(uint8_t)r->zx, PATCH_BYTES);
  for (int32_t kh = win->kh0; kh < win->kh1; kh++) {
    const uint8_t* src = win->rows[kh] + (win->iw0 + win->kw0) * C;
    uint8_t* dst = patch + kh * rowBytes + win->kw0 * C;
    for (int32_t i = 0; i < run; i++) dst[i] = src[i];
  }
}

/* One pixel's outputs of the n prepared channels t from its patch. */
static inline __attribute__((always_inline)) void patch_pixel(const tt_conv_forward_t* r, const patch_channel_t* t, int32_t n, const uint8_t* patch, uint8_t* y, const int32_t words, int16x2_t zz, int full) {
  int16x2_t x02[PATCH_BYTES / 4], x13[PATCH_BYTES / 4];
  for (int32_t j = 0; j < words; j++) {
    const uint32_t xv = tt_ld_u32(patch + 4 * j);
    x02[j] = lanes02(xv, zz);
    x13[j] = lanes13(xv, zz);
  }
  for (int32_t k = 0; k < n; k++, t++) {
    int32_t acc = t->bias;
    for (int32_t j = 0; j < words; j++) acc = __smlad(x13[j], t->w13[j], __smlad(x02[j], t->w02[j], acc));
    int32_t v = __ssat(requant_fast(acc, &t->q), 8);
    if (!full) v = v < r->lo ? r->lo : v > r->hi ? r->hi : v;
    y[k] = (uint8_t)(int8_t)v;
  }
}

/* Two pixels' outputs of the n prepared channels, two channels a pass: xa, xb their unpacked
 * patches (x02, x13 interleaved), ya = y and yb = y + CO; the clamp is [-128, 127]. */
static void patch_pair(const patch_channel_t* t, int32_t n, const int16x2_t* xa, const int16x2_t* xb, int32_t words, uint8_t* y, int32_t CO) {
  int32_t k = 0;
  for (; k + 2 <= n; k += 2, t += 2) {
    int32_t s0 = t[0].bias, s1 = t[1].bias, s2 = t[0].bias, s3 = t[1].bias;
    for (int32_t j = 0; j < words; j++) {
      const int16x2_t a02 = xa[2 * j], a13 = xa[2 * j + 1], b02 = xb[2 * j], b13 = xb[2 * j + 1];
      s0 = __smlad(a13, t[0].w13[j], __smlad(a02, t[0].w02[j], s0));
      s1 = __smlad(a13, t[1].w13[j], __smlad(a02, t[1].w02[j], s1));
      s2 = __smlad(b13, t[0].w13[j], __smlad(b02, t[0].w02[j], s2));
      s3 = __smlad(b13, t[1].w13[j], __smlad(b02, t[1].w02[j], s3));
    }
    y[k] = (uint8_t)__ssat(requant_fast(s0, &t[0].q), 8);
    y[k + 1] = (uint8_t)__ssat(requant_fast(s1, &t[1].q), 8);
    y[CO + k] = (uint8_t)__ssat(requant_fast(s2, &t[0].q), 8);
    y[CO + k + 1] = (uint8_t)__ssat(requant_fast(s3, &t[1].q), 8);
  }
  if (k < n) {
    int32_t s0 = t->bias, s2 = t->bias;
    for (int32_t j = 0; j < words; j++) {
      s0 = __smlad(xa[2 * j + 1], t->w13[j], __smlad(xa[2 * j], t->w02[j], s0));
      s2 = __smlad(xb[2 * j + 1], t->w13[j], __smlad(xb[2 * j], t->w02[j], s2));
    }
    y[k] = (uint8_t)__ssat(requant_fast(s0, &t->q), 8);
    y[CO + k] = (uint8_t)__ssat(requant_fast(s2, &t->q), 8);
  }
}

/* Row oh through the patch path; returns 0 (nothing written) when it does not apply. */
__attribute__((noinline)) static int dense_row_patch(const tt_conv_forward_t* r, const conv_buffers_t* b, window_t* win, uint8_t* yrow0) {
  const int32_t bytes = r->KH * r->KW * r->C, CO = r->CO;
  if (r->depthwise || r->split != 0 || bytes > PATCH_BYTES || !win->cached || r->zx < -128 || r->zx > 127) return 0;
  if (r->lo < -128 || r->hi > 127 || r->lo > r->hi) return 0;
  for (int32_t co = 0; co < CO; co++) {
    requant_fast_t q;
    if (!requant_fast_prepare(0, tt_ld_i32(b->shift + 4 * co), r->zy, conv_acc_bound(r, b, co), &q)) return 0;
  }
  const int32_t words = (bytes + 3) / 4;
  const int16x2_t zz = (int16x2_t)(((uint32_t)r->zx & 0xffffu) | ((uint32_t)r->zx << 16));
  const int full = r->lo == -128 && r->hi == 127;
  patch_channel_t t[PATCH_BLOCK];
  for (int32_t co0 = 0; co0 < CO; co0 += PATCH_BLOCK) {
    const int32_t n = min32(PATCH_BLOCK, CO - co0);
    patch_prepare(r, b, co0, n, bytes, t);
    /* Bytes past the window (zero weights) stay zx from here: a whole-window fill does not touch them. */
    uint8_t patch[PATCH_BYTES];
    memset(patch, (int)(uint8_t)r->zx, PATCH_BYTES);
    int32_t ow = 0;
    if (full) {
      /* Pixels two at a time: both patches unpacked to the stack, each pair of channels one pass (patch_pair). */
      int16x2_t xa[PATCH_BYTES / 2], xb[PATCH_BYTES / 2];
      for (; ow + 2 <= r->OW; ow += 2) {
        patch_fill(r, win, ow, patch);
        unpack_pixel(patch, 4 * words, zz, xa);
        patch_fill(r, win, ow + 1, patch);
        unpack_pixel(patch, 4 * words, zz, xb);
        patch_pair(t, n, xa, xb, words, yrow0 + ow * CO + co0, CO);
      }
    }
    for (; ow < r->OW; ow++) {
      patch_fill(r, win, ow, patch);
      uint8_t* y = yrow0 + ow * CO + co0;
      /* The stem's 27 bytes with the word count a constant, so the lanes stay in registers. */
      if (words == 7) patch_pixel(r, t, n, patch, y, 7, zz, full);
      else patch_pixel(r, t, n, patch, y, words, zz, full);
    }
  }
  return 1;
}
#endif

/* 1x1, no padding (pointwise and dense layers): one input pixel per output pixel, four output channels a pass. */
static void pointwise_row(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t oh) {
  const int32_t C = r->C, CO = r->CO, first = r->split == 0 ? C : r->split, rest = C - first;
  const uint8_t* xrow = input_row(r, b, oh * r->stride_h);
  uint8_t* const y0 = output_row(r, b, oh);
  int32_t ow = 0;
#if defined(__ARM_FEATURE_SIMD32)
  if (pointwise_row_few(r, b, xrow, y0)) return;
  ow = pointwise_row_pairs(r, b, xrow, y0);
#endif
  for (; ow < r->OW; ow++) {
    const uint8_t* xp = xrow + ow * r->stride_w * C;
    uint8_t* yrow = y0 + ow * CO;
    int32_t co = 0;
    for (; co + 4 <= CO; co += 4) {
      int32_t acc[4];
      for (int32_t k = 0; k < 4; k++) acc[k] = tt_ld_i32(b->bias + 4 * (co + k));
      dot4_s8(xp, b->w + co * first, first, first, r->zx, acc);
      if (rest) dot4_s8(xp + first, b->w2 + co * rest, rest, rest, r->zx, acc);
      for (int32_t k = 0; k < 4; k++) yrow[co + k] = requant_at(r, b, co + k, acc[k]);
    }
    for (; co < CO; co++) {
      int32_t acc = (int32_t)((uint32_t)tt_ld_i32(b->bias + 4 * co) + (uint32_t)dot_s8(xp, b->w + co * first, first, r->zx));
      if (rest) acc = (int32_t)((uint32_t)acc + (uint32_t)dot_s8(xp + first, b->w2 + co * rest, rest, r->zx));
      yrow[co] = requant_at(r, b, co, acc);
    }
  }
}

static void forward_row(const tt_conv_forward_t* r, const conv_buffers_t* b, int32_t oh) {
  window_t win;
  window_rows(r, b, oh, &win);
  uint8_t* const y0 = output_row(r, b, oh);
#if defined(__ARM_FEATURE_SIMD32)
  if (dense_row_patch(r, b, &win, y0)) return;
#endif
  for (int32_t ow = 0; ow < r->OW; ow++) {
    window_cols(r, ow, &win);
    uint8_t* yrow = y0 + ow * r->CO;
    int32_t co = 0;
    if (r->depthwise) {
      if (r->KH == 3 && r->KW == 3 && win.kh0 == 0 && win.kh1 == 3 && win.kw0 == 0 && win.kw1 == 3 && r->split == 0) {
        depthwise3x3_inner(r, b, &win, yrow);
        continue;
      }
      for (; co < r->CO; co++) yrow[co] = requant_at(r, b, co, depthwise_sum(r, b, &win, co));
      continue;
    }
    if (r->split == 0) {
      for (; co + 4 <= r->CO; co += 4) {
        int32_t acc[4];
        dense_sum4(r, b, &win, co, acc);
        for (int32_t k = 0; k < 4; k++) yrow[co + k] = requant_at(r, b, co + k, acc[k]);
      }
    }
    for (; co + 2 <= r->CO; co += 2) {
      int32_t a0, a1;
      dense_sum2(r, b, &win, co, &a0, &a1);
      yrow[co] = requant_at(r, b, co, a0);
      yrow[co + 1] = requant_at(r, b, co + 1, a1);
    }
    for (; co < r->CO; co++) yrow[co] = requant_at(r, b, co, dense_sum(r, b, &win, co));
  }
}

static void forward_rows(u32 record, u32 ohBegin, u32 ohEnd) {
  const tt_conv_forward_t r = TT_NATIVE_RECORD(tt_conv_forward_t, record);
  const int32_t begin = (int32_t)ohBegin, end = (int32_t)ohEnd;
  if (begin >= end) return;
  /* Rows outside [0, OH) would index past a whole-tensor output. */
  if (begin < 0 || end > r.OH) tt_memory_fault(r.y, 0, 1);
  const conv_buffers_t b = conv_buffers(&r);
  /* Input row oh * stride_h and column ow * stride_w are inside the input for every output pixel only if the output fits it. */
  const int pointwise = !r.depthwise && r.KH == 1 && r.KW == 1 && r.pad_h == 0 && r.pad_w == 0 && r.stride_h > 0 && r.stride_w > 0 &&
                        (r.OH - 1) * r.stride_h < r.H && (r.OW - 1) * r.stride_w < r.W;
#if defined(__ARM_FEATURE_SIMD32)
  if (r.depthwise && r.KH == 3 && r.KW == 3 && r.split == 0 && depthwise3x3_rows_simd(&r, &b, begin, end)) return;
#endif
  for (int32_t oh = begin; oh < end; oh++) {
    if (pointwise) pointwise_row(&r, &b, oh);
    else forward_row(&r, &b, oh);
  }
}

void Z_tt_nativeZ_conv2dForwardRowsS8(struct Z_tt_native_instance_t* env, u32 record, u32 ohBegin, u32 ohEnd) {
  (void)env;
  TT_KPROF_CALL("conv2dForwardRowsS8", record, forward_rows(record, ohBegin, ohEnd));
}

void Z_tt_nativeZ_conv2dForwardS8(struct Z_tt_native_instance_t* env, u32 record) {
  const tt_conv_forward_t r = TT_NATIVE_RECORD(tt_conv_forward_t, record);
  Z_tt_nativeZ_conv2dForwardRowsS8(env, record, 0, (u32)r.OH);
}
