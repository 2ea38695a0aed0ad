/*
 * Native float32 input gradient of conv2d / dense (host/firmware/native-kernels.ts): the
 * firmware's Z_tt_nativeZ_conv2dBackwardInputF32 in place of the wasm2c translation of
 * the scalar loop of assembly/kernels/conv2d.ts (conv2dBackwardInputF32, with
 * addWeightRowF32). Float sums are not associative, so this is that loop operation for
 * operation: output pixel, output channel, tap ascending, each gx element getting its
 * terms in that order, g == 0 skipped; compiled with -ffp-contract=off (no fused
 * multiply-add), so every product and sum rounds as WASM's f32.mul / f32.add do.
 */
#include <stdint.h>
#include <string.h>

#include "runtime.h"
#include "tt-config.h"
#include "tt-memory.h"
#include "tt-kernel-records.h"
#include "native-memory.h"
#include "native-kprof.h"

/* gx[ci] += g * w[ci] for ci < n: one add per element, ci ascending. */
static inline void add_weight_row(uint8_t* gxp, float g, const uint8_t* wp, int32_t n) {
  for (int32_t ci = 0; ci < n; ci++) {
    uint8_t* q = gxp + 4 * ci;
    tt_st_f32(q, tt_ld_f32(q) + g * (float)(int8_t)wp[ci]);
  }
}

/* Output channels co and co + 1 in one pass: each element gets co's term, then co + 1's,
 * exactly as two add_weight_row calls would give them. */
static inline void add_weight_rows2(uint8_t* gxp, float g0, const uint8_t* w0, float g1, const uint8_t* w1, int32_t n) {
  for (int32_t ci = 0; ci < n; ci++) {
    uint8_t* q = gxp + 4 * ci;
    const float t = tt_ld_f32(q) + g0 * (float)(int8_t)w0[ci];
    tt_st_f32(q, t + g1 * (float)(int8_t)w1[ci]);
  }
}

/* Four rows in one pass: each element gets g0's term, then g1's, g2's and g3's, exactly as
 * four add_weight_row calls in that order would give them (one load and store of gx per
 * element instead of four). */
static inline void add_weight_rows4(uint8_t* gxp, const float* g, const uint8_t* const* wr, int32_t n) {
  const float g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3];
  const uint8_t *w0 = wr[0], *w1 = wr[1], *w2 = wr[2], *w3 = wr[3];
  for (int32_t ci = 0; ci < n; ci++) {
    uint8_t* q = gxp + 4 * ci;
    float t = tt_ld_f32(q) + g0 * (float)(int8_t)w0[ci];
    t = t + g1 * (float)(int8_t)w1[ci];
    t = t + g2 * (float)(int8_t)w2[ci];
    tt_st_f32(q, t + g3 * (float)(int8_t)w3[ci]);
  }
}

/*
 * One input pixel's gradient from one output pixel through a 1x1 weight (CO rows of C:
 * the first `first` columns at w, the rest at w2): gx[ci] += g[co] * w[co][ci] for each
 * co with a nonzero g = gy[co] * scale[co], co ascending (a zero g adds nothing, as in the
 * WASM kernels), the nonzero rows four at a time (add_weight_rows4) and the last 0-3 one by one.
 */
static void add_channel_rows(uint8_t* gxp, const uint8_t* gy, const uint8_t* ws, int32_t CO, const uint8_t* w, const uint8_t* w2, int32_t first, int32_t C) {
  float gs[4];
  const uint8_t *wa[4], *wb[4];
  int32_t k = 0;
  for (int32_t co = 0; co < CO; co++) {
    const float g = tt_ld_f32(gy + 4 * co) * tt_ld_f32(ws + 4 * co);
    if (g == 0) continue;
    gs[k] = g;
    wa[k] = w + co * first;
    wb[k] = first < C ? w2 + co * (C - first) : 0;
    if (++k < 4) continue;
    add_weight_rows4(gxp, gs, wa, first);
    if (first < C) add_weight_rows4(gxp + 4 * first, gs, wb, C - first);
    k = 0;
  }
  for (int32_t j = 0; j < k; j++) {
    add_weight_row(gxp, gs[j], wa[j], first);
    if (first < C) add_weight_row(gxp + 4 * first, gs[j], wb[j], C - first);
  }
}

/*
 * The 1x1 input gradient by blocks of four output channels and chunks of IGRAD_CHUNK input
 * channels: the block's weights in the chunk are converted to float once per call (into a
 * stack buffer) instead of once per product (LDRSB, VMOV, VCVT each time), and the gradient
 * row is read and written as floats (the call checks that gx is word-aligned). Each gx
 * element still gets its terms in output channel order, co ascending, zero g skipped
 * (blocks in order, channels in order inside a block): the sums round as in the WASM kernel.
 */
#define IGRAD_CHUNK 128

/* A float that may alias the linear memory's bytes (gx is also reached through uint8_t pointers). */
typedef float __attribute__((may_alias)) alias_f32;

/* gx[i] += g[0] * w0[i], then g[1] * w1[i], ... for the m (1-4) rows, i < n: one pass. */
static void add_float_rows(alias_f32* gx, const float* g, const float* const* wr, int32_t m, int32_t n) {
  const float g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3];
  const float *w0 = wr[0], *w1 = wr[1], *w2 = wr[2], *w3 = wr[3];
  switch (m) {
    case 4:
      for (int32_t i = 0; i < n; i++) gx[i] = ((gx[i] + g0 * w0[i]) + g1 * w1[i] + g2 * w2[i]) + g3 * w3[i];
      return;
    case 3:
      for (int32_t i = 0; i < n; i++) gx[i] = (gx[i] + g0 * w0[i]) + g1 * w1[i] + g2 * w2[i];
      return;
    case 2:
      for (int32_t i = 0; i < n; i++) gx[i] = (gx[i] + g0 * w0[i]) + g1 * w1[i];
      return;
    default:
      for (int32_t i = 0; i < n; i++) gx[i] = gx[i] + g0 * w0[i];
  }
}

/* dst[i] = weight (co, c0 + i) as float, i < n (columns below `first` at w, the rest at w2);
 * a run inside one part is a plain loop, without the per-column choice. */
static inline void convert_row(float* dst, const uint8_t* w, const uint8_t* w2, int32_t first, int32_t C, int32_t co, int32_t c0, int32_t n) {
  if (c0 + n <= first) {
    const int8_t* src = (const int8_t*)(w + co * first + c0);
    for (int32_t i = 0; i < n; i++) dst[i] = (float)src[i];
  } else if (c0 >= first) {
    const int8_t* src = (const int8_t*)(w2 + co * (C - first) + c0 - first);
    for (int32_t i = 0; i < n; i++) dst[i] = (float)src[i];
  } else {
    for (int32_t i = 0; i < n; i++) {
      const int32_t ci = c0 + i;
      dst[i] = (float)(ci < first ? (int8_t)w[co * first + ci] : (int8_t)w2[co * (C - first) + ci - first]);
    }
  }
}

/* wbuf[k][i] = weight (co0 + k, c0 + i) as float, for k < nb, i < n (columns below `first` at w, the rest at w2). */
static void convert_rows(float (*wbuf)[IGRAD_CHUNK], const uint8_t* w, const uint8_t* w2, int32_t first, int32_t C, int32_t co0, int32_t nb, int32_t c0, int32_t n) {
  for (int32_t k = 0; k < nb; k++) convert_row(wbuf[k], w, w2, first, C, co0 + k, c0, n);
}

/* One pixel's pending terms in igrad_1x1_blocked: its m nonzero gradients and their rows. */
typedef struct {
  alias_f32* gx;
  float g[4];
  const float* wr[4];
  int32_t m;
} igrad_pixel_t;

/* add_float_rows with all four rows for two pixels at once: each element of gx and hx gets
 * the same four terms in the same order as two separate passes give them. */
static void add_float_rows4x2(alias_f32* gx, const float* g, alias_f32* hx, const float* h, float (*wbuf)[IGRAD_CHUNK], int32_t n) {
  const float g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3];
  const float *w0 = wbuf[0], *w1 = wbuf[1], *w2 = wbuf[2], *w3 = wbuf[3];
  for (int32_t i = 0; i < n; i++) {
    const float a = w0[i], b = w1[i], c = w2[i], d = w3[i];
    gx[i] = ((gx[i] + g0 * a) + g1 * b + g2 * c) + g3 * d;
    hx[i] = ((hx[i] + h0 * a) + h1 * b + h2 * c) + h3 * d;
  }
}

/* Returns 0 (nothing done) when gx is not word-aligned. */
__attribute__((noinline)) static int igrad_1x1_blocked(const tt_conv_input_grad_t* r, const uint8_t* gy, const uint8_t* ws, const uint8_t* w, const uint8_t* w2, int32_t first, uint8_t* gx) {
  const int32_t C = r->C, CO = r->CO;
  if (((uintptr_t)gx & 3u) != 0) return 0;
  float wbuf[4][IGRAD_CHUNK];
  for (int32_t co0 = 0; co0 < CO; co0 += 4) {
    const int32_t nb = CO - co0 < 4 ? CO - co0 : 4;
    for (int32_t c0 = 0; c0 < C; c0 += IGRAD_CHUNK) {
      const int32_t n = C - c0 < IGRAD_CHUNK ? C - c0 : IGRAD_CHUNK;
      convert_rows(wbuf, w, w2, first, C, co0, nb, c0, n);
      /* A pixel waits in `held` for the next one: two pixels whose four gradients are all nonzero go through one pass (shared weight loads). */
      igrad_pixel_t held = {0};
      for (int32_t oh = 0; oh < r->OH; oh++) {
        const int32_t ih = oh * r->stride_h - r->pad_h;
        if (ih < 0 || ih >= r->H) continue;
        for (int32_t ow = 0; ow < r->OW; ow++) {
          const int32_t iw = ow * r->stride_w - r->pad_w;
          if (iw < 0 || iw >= r->W) continue;
          const uint8_t* gyp = gy + 4 * ((oh * r->OW + ow) * CO + co0);
          igrad_pixel_t cur;
          cur.gx = (alias_f32*)(void*)(gx + 4 * ((ih * r->W + iw) * C + c0));
          cur.m = 0;
          for (int32_t k = 0; k < nb; k++) {
            const float gk = tt_ld_f32(gyp + 4 * k) * tt_ld_f32(ws + 4 * (co0 + k));
            if (gk == 0) continue;
            cur.g[cur.m] = gk;
            cur.wr[cur.m++] = wbuf[k];
          }
          if (cur.m == 0) continue;
          if (cur.m < 4) {
            add_float_rows(cur.gx, cur.g, cur.wr, cur.m, n);
            continue;
          }
          if (held.m == 0) {
            held = cur;
            continue;
          }
          add_float_rows4x2(held.gx, held.g, cur.gx, cur.g, wbuf, n);
          held.m = 0;
        }
      }
      if (held.m) add_float_rows(held.gx, held.g, held.wr, held.m, n);
    }
  }
  return 1;
}

/*
 * The 1x1 input gradient of a dense output gradient (at least 3/4 of gy * ws nonzero) into
 * a fresh gx (accumulate = 0): eight output channels and two pixels a pass, zero terms not
 * skipped. Skipping them is what the WASM kernel does, and adding them instead gives the
 * same bits here: a zero g makes the term +-0 (w is a finite integer), and an element that
 * starts at +0 is never -0 afterwards (in round-to-nearest x + y is -0 only when both are),
 * so adding +-0 leaves it as it is. NaN and infinite g are not zero, so neither skips them.
 */
#define DENSE_ROWS 8
#define DENSE_CHUNK 64

/* Whether at least 3/4 of the valid pixels' gy * ws are nonzero. */
static int igrad_mostly_nonzero(const tt_conv_input_grad_t* r, const uint8_t* gy, const uint8_t* ws) {
  int32_t zeros = 0, total = 0;
  for (int32_t p = 0; p < r->OH * r->OW; p++) {
    for (int32_t co = 0; co < r->CO; co++, total++) zeros += tt_ld_f32(gy + 4 * (p * r->CO + co)) * tt_ld_f32(ws + 4 * co) == 0;
  }
  return 4 * zeros <= total;
}

/* gx[i] and hx[i] each get the n8 (<= 8) terms g[k] * wr[k][i], k ascending. */
static void add_rows8x2(alias_f32* gx, const float* g, alias_f32* hx, const float* h, float (*wr)[DENSE_CHUNK], int32_t n8, int32_t n) {
  if (n8 == 8) {
    /* Locals, not g[] and h[]: gx may alias any float, so the compiler would reload them per element. */
    const float g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4], g5 = g[5], g6 = g[6], g7 = g[7];
    const float h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4], h5 = h[5], h6 = h[6], h7 = h[7];
    const float *r0 = wr[0], *r1 = wr[1], *r2 = wr[2], *r3 = wr[3], *r4 = wr[4], *r5 = wr[5], *r6 = wr[6], *r7 = wr[7];
    for (int32_t i = 0; i < n; i++) {
      const float w0 = r0[i], w1 = r1[i], w2 = r2[i], w3 = r3[i], w4 = r4[i], w5 = r5[i], w6 = r6[i], w7 = r7[i];
      float a = gx[i], b = hx[i];
      a = a + g0 * w0;
      b = b + h0 * w0;
      a = a + g1 * w1;
      b = b + h1 * w1;
      a = a + g2 * w2;
      b = b + h2 * w2;
      a = a + g3 * w3;
      b = b + h3 * w3;
      a = a + g4 * w4;
      b = b + h4 * w4;
      a = a + g5 * w5;
      b = b + h5 * w5;
      a = a + g6 * w6;
      b = b + h6 * w6;
      a = a + g7 * w7;
      b = b + h7 * w7;
      gx[i] = a;
      hx[i] = b;
    }
    return;
  }
  for (int32_t i = 0; i < n; i++) {
    float a = gx[i], b = hx[i];
    for (int32_t k = 0; k < n8; k++) {
      a = a + g[k] * wr[k][i];
      b = b + h[k] * wr[k][i];
    }
    gx[i] = a;
    hx[i] = b;
  }
}

/* Returns 0 (nothing done) when the dense path does not apply. */
__attribute__((noinline)) static int igrad_1x1_dense(const tt_conv_input_grad_t* r, const uint8_t* gy, const uint8_t* ws, const uint8_t* w, const uint8_t* w2, int32_t first, uint8_t* gx) {
  const int32_t C = r->C, CO = r->CO;
  if (r->accumulate || ((uintptr_t)gx & 3u) != 0 || !igrad_mostly_nonzero(r, gy, ws)) return 0;
  float wbuf[DENSE_ROWS][DENSE_CHUNK];
  for (int32_t co0 = 0; co0 < CO; co0 += DENSE_ROWS) {
    const int32_t nb = CO - co0 < DENSE_ROWS ? CO - co0 : DENSE_ROWS;
    for (int32_t c0 = 0; c0 < C; c0 += DENSE_CHUNK) {
      const int32_t n = C - c0 < DENSE_CHUNK ? C - c0 : DENSE_CHUNK;
      for (int32_t k = 0; k < nb; k++) convert_row(wbuf[k], w, w2, first, C, co0 + k, c0, n);
      /* Valid pixels two at a time; an odd last one pairs with itself on a scratch row. */
      alias_f32* held = 0;
      float hg[DENSE_ROWS];
      for (int32_t oh = 0; oh < r->OH; oh++) {
        const int32_t ih = oh * r->stride_h - r->pad_h;
        if (ih < 0 || ih >= r->H) continue;
        for (int32_t ow = 0; ow < r->OW; ow++) {
          const int32_t iw = ow * r->stride_w - r->pad_w;
          if (iw < 0 || iw >= r->W) continue;
          const uint8_t* gyp = gy + 4 * ((oh * r->OW + ow) * CO + co0);
          float g[DENSE_ROWS];
          for (int32_t k = 0; k < nb; k++) g[k] = tt_ld_f32(gyp + 4 * k) * tt_ld_f32(ws + 4 * (co0 + k));
          alias_f32* px = (alias_f32*)(void*)(gx + 4 * ((ih * r->W + iw) * C + c0));
          if (!held) {
            held = px;
            for (int32_t k = 0; k < nb; k++) hg[k] = g[k];
            continue;
          }
          add_rows8x2(held, hg, px, g, wbuf, nb, n);
          held = 0;
        }
      }
      if (held) {
        float spare[DENSE_CHUNK] = {0.0f};
        add_rows8x2(held, hg, spare, hg, wbuf, nb, n);
      }
    }
  }
  return 1;
}

static void conv2dBackwardInputF32(u32 record) {
  const tt_conv_input_grad_t r = TT_NATIVE_RECORD(tt_conv_input_grad_t, record);
  tt_small(r.KH);
  tt_small(r.KW);
  tt_small(r.stride_h);
  tt_small(r.stride_w);
  tt_small(r.pad_h);
  tt_small(r.pad_w);
  const int32_t C = r.C, CO = r.CO, KH = r.KH, KW = r.KW, taps = KH * KW;
  const int32_t first = r.split == 0 ? C : r.split;
  if (r.depthwise && CO != C) tt_memory_fault(r.gx, 0, 1);
  if (r.split < 0 || r.split > C || taps < 0) tt_memory_fault(r.w, 0, 0);
  const int32_t groups = r.depthwise ? 1 : CO;
  const uint8_t* gy = tt_native_in(r.gy, tt_extent(r.OH, r.OW, CO, 4));
  const uint8_t* ws = tt_native_in(r.w_scale, tt_extent(CO, 1, 1, 4));
  const uint8_t* w = tt_native_in(r.w, tt_extent(groups, taps, first, 1));
  const uint8_t* w2 = r.split ? tt_native_in(r.w2, tt_extent(groups, taps, C - first, 1)) : 0;
  const u32 gxBytes = tt_extent(r.H, r.W, C, 4);
  uint8_t* gx = tt_native_out(r.gx, gxBytes);
  if (!r.accumulate) memset(gx, 0, gxBytes);
  if (!r.depthwise && taps == 1 && (igrad_1x1_dense(&r, gy, ws, w, w2, first, gx) || igrad_1x1_blocked(&r, gy, ws, w, w2, first, gx))) return;
  for (int32_t oh = 0; oh < r.OH; oh++) {
    for (int32_t ow = 0; ow < r.OW; ow++) {
      const uint8_t* gyp = gy + 4 * ((oh * r.OW + ow) * CO);
      if (!r.depthwise && taps == 1) {
        /* 1x1: the output pixel's one input pixel, if inside the input. */
        const int32_t ih = oh * r.stride_h - r.pad_h, iw = ow * r.stride_w - r.pad_w;
        if (ih >= 0 && ih < r.H && iw >= 0 && iw < r.W) add_channel_rows(gx + 4 * ((ih * r.W + iw) * C), gyp, ws, CO, w, w2, first, C);
        continue;
      }
      for (int32_t co = 0; co < CO; co++) {
        const float g = tt_ld_f32(gyp + 4 * co) * tt_ld_f32(ws + 4 * co);
        if (g == 0) continue;
        /* Dense: one output pixel's taps reach distinct input pixels, so each gx element gets
         * channel co's term and then co + 1's; both in one pass when co + 1's is not skipped. */
        const float g1 = !r.depthwise && co + 1 < CO ? tt_ld_f32(gyp + 4 * (co + 1)) * tt_ld_f32(ws + 4 * (co + 1)) : 0.0f;
        const int pair = g1 != 0;
        for (int32_t kh = 0; kh < KH; kh++) {
          const int32_t ih = oh * r.stride_h - r.pad_h + kh;
          if (ih < 0 || ih >= r.H) continue;
          for (int32_t kw = 0; kw < KW; kw++) {
            const int32_t iw = ow * r.stride_w - r.pad_w + kw;
            if (iw < 0 || iw >= r.W) continue;
            uint8_t* gxp = gx + 4 * ((ih * r.W + iw) * C);
            const int32_t tap = (co * KH + kh) * KW + kw;
            if (r.depthwise) {
              const int32_t wv = (r.split == 0 || co < r.split) ? (int8_t)w[tap] : (int8_t)w2[tap - r.split * taps];
              uint8_t* p = gxp + 4 * co;
              tt_st_f32(p, tt_ld_f32(p) + g * (float)wv);
            } else if (pair) {
              add_weight_rows2(gxp, g, w + tap * first, g1, w + (tap + taps) * first, first);
              if (first < C) add_weight_rows2(gxp + 4 * first, g, w2 + tap * (C - first), g1, w2 + (tap + taps) * (C - first), C - first);
            } else {
              add_weight_row(gxp, g, w + tap * first, first);
              if (first < C) add_weight_row(gxp + 4 * first, g, w2 + tap * (C - first), C - first);
            }
          }
        }
        co += pair;
      }
    }
  }
}

/* One tap: acc + (gy * s) * w, the WASM kernel's operations. It skips a zero gy * s; adding
 * its term here instead gives the same bits: the term is then +-0 (w is a finite integer),
 * and acc, which starts at +0, is never -0 (in round-to-nearest x + y is -0 only when both
 * are), so acc + +-0 is acc. NaN and infinite gy * s are not zero, so neither skips them. */
static inline float dw_term(float acc, const uint8_t* p, float s, float wv) { return acc + (tt_ld_f32(p) * s) * wv; }

/*
 * Row ih of the in-place 3x3 (pad 1) input gradient for channel c: rows[kh] is the original
 * output-gradient row ih + 1 - kh (0 outside), out the gradient row being written. The
 * channel's nine weights and scale stay in FPU registers across the row (the generic loop
 * below converts each weight per use and tests every tap's bounds); each pixel's terms come
 * in the WASM kernel's order, kernel rows then columns descending, so every sum rounds as there.
 */
static void dw3x3_in_place_channel(const uint8_t* const* rows, int32_t W, int32_t C, int32_t c, float s, const uint8_t* wc, uint8_t* out) {
  float wf[9];
  for (int32_t t = 0; t < 9; t++) wf[t] = (float)(int8_t)wc[t];
  const int32_t px = 4 * C;
  const uint8_t* r0 = rows[0] ? rows[0] + 4 * c : 0;
  const uint8_t* r1 = rows[1] ? rows[1] + 4 * c : 0;
  const uint8_t* r2 = rows[2] ? rows[2] + 4 * c : 0;
  uint8_t* o = out + 4 * c;
  for (int32_t iw = 0; iw < W; iw++, o += px) {
    /* Kernel column kw reads output column iw + 1 - kw. */
    const int lo = iw >= 1, hi = iw + 1 < W;
    const int32_t at = (iw - 1) * px;
    float acc = 0.0f;
    const uint8_t* const rr[3] = {r2, r1, r0};
    for (int32_t j = 0; j < 3; j++) {
      const uint8_t* q = rr[j];
      if (!q) continue;
      const float* wk = wf + 3 * (2 - j);
      if (lo) acc = dw_term(acc, q + at, s, wk[2]);
      acc = dw_term(acc, q + at + px, s, wk[1]);
      if (hi) acc = dw_term(acc, q + at + 2 * px, s, wk[0]);
    }
    tt_st_f32(o, acc);
  }
}

/*
 * depthwiseBackwardInputInPlaceF32's scalar loop (conv2d.ts): the input gradient of a
 * stride-1 same-size depthwise conv written over its output gradient, the last R = KH - pad
 * original rows kept in `scratch`. Terms in the WASM kernel's order: kernel rows, then
 * columns, descending; zero terms skipped.
 */
static void depthwiseBackwardInputInPlaceF32(u32 record) {
  const tt_depthwise_in_place_t r = TT_NATIVE_RECORD(tt_depthwise_in_place_t, record);
  tt_small(r.KH);
  tt_small(r.KW);
  tt_small(r.pad);
  const int32_t H = r.H, W = r.W, C = r.C, KH = r.KH, KW = r.KW, pad = r.pad, taps = KH * KW;
  const int32_t R = KH - pad;
  if (H <= 0) return;
  /* ih % R: WASM's i32.rem_s traps on a zero divisor. */
  if (R == 0) wasm_rt_trap(WASM_RT_TRAP_DIV_BY_ZERO);
  if (R < 0 || r.split < 0 || r.split > C) tt_memory_fault(r.scratch, 0, 1);
  const int32_t first = r.split == 0 ? C : r.split;
  const u32 rowBytes = tt_extent(W, C, 1, 4);
  uint8_t* g = tt_native_out(r.g, tt_extent(H, W, C, 4));
  uint8_t* scratch = tt_native_out(r.scratch, tt_extent(R, W, C, 4));
  const uint8_t* w = tt_native_in(r.w, tt_extent(first, taps, 1, 1));
  const uint8_t* w2 = r.split ? tt_native_in(r.w2, tt_extent(C - first, taps, 1, 1)) : 0;
  const uint8_t* ws = tt_native_in(r.w_scale, tt_extent(C, 1, 1, 4));
  const int fast3x3 = KH == 3 && KW == 3 && pad == 1 && W >= 2;
  for (int32_t ih = 0; ih < H; ih++) {
    memmove(scratch + (ih % R) * rowBytes, g + ih * rowBytes, rowBytes);
    if (fast3x3) {
      /* Kernel row kh reads output row ih + 1 - kh: the original rows up to ih are in scratch, the later ones still in g. */
      const uint8_t* rows[3];
      for (int32_t kh = 0; kh < 3; kh++) {
        const int32_t oh = ih + 1 - kh;
        rows[kh] = oh < 0 || oh >= H ? 0 : oh <= ih ? scratch + (oh % R) * rowBytes : g + oh * rowBytes;
      }
      for (int32_t c = 0; c < C; c++) {
        const uint8_t* wc = (r.split == 0 || c < r.split) ? w + c * taps : w2 + (c - r.split) * taps;
        dw3x3_in_place_channel(rows, W, C, c, tt_ld_f32(ws + 4 * c), wc, g + ih * rowBytes);
      }
      continue;
    }
    for (int32_t iw = 0; iw < W; iw++) {
      for (int32_t c = 0; c < C; c++) {
        const float s = tt_ld_f32(ws + 4 * c);
        const uint8_t* wc = (r.split == 0 || c < r.split) ? w + c * taps : w2 + (c - r.split) * taps;
        float acc = 0.0f;
        for (int32_t kh = KH - 1; kh >= 0; kh--) {
          const int32_t oh = ih + pad - kh;
          if (oh < 0 || oh >= H) continue;
          const uint8_t* row = oh <= ih ? scratch + (oh % R) * rowBytes : g + oh * rowBytes;
          for (int32_t kw = KW - 1; kw >= 0; kw--) {
            const int32_t ow = iw + pad - kw;
            if (ow < 0 || ow >= W) continue;
            const float gv = tt_ld_f32(row + 4 * (ow * C + c)) * s;
            if (gv != 0) acc = acc + gv * (float)(int8_t)wc[kh * KW + kw];
          }
        }
        tt_st_f32(g + 4 * ((ih * W + iw) * C + c), acc);
      }
    }
  }
}

/*
 * gapHeadBackwardF32's scalar loop (conv2d.ts): backward of "1x1 head conv -> global
 * average pool", one position's head output gradient at a time in `scratch`; the same
 * operations in the same order as the WASM kernel (bias gradient sums, then the input
 * gradient rows by add_weight_row).
 */
/* gx[i] = (((gx[i] + pr[0][i]) + pr[1][i]) ...) for the m (1-8) rows of products, i < n:
 * eight rows a pass when all are there, else four, then the rest one pass each. */
#define GAP_ROWS 8
#define GAP_CHUNK 64

static void add_product_rows(alias_f32* gx, const float* const* pr, int32_t m, int32_t n) {
  if (m == 8) {
    const float *p0 = pr[0], *p1 = pr[1], *p2 = pr[2], *p3 = pr[3], *p4 = pr[4], *p5 = pr[5], *p6 = pr[6], *p7 = pr[7];
    for (int32_t i = 0; i < n; i++) gx[i] = ((((((gx[i] + p0[i]) + p1[i]) + p2[i]) + p3[i]) + p4[i]) + p5[i] + p6[i]) + p7[i];
    return;
  }
  for (int32_t k = 0; k < m;) {
    const int32_t left = m - k;
    const float *p0 = pr[k], *p1 = pr[k + (left > 1)], *p2 = pr[k + 2 * (left > 2)], *p3 = pr[k + 3 * (left > 3)];
    switch (left >= 4 ? 4 : left) {
      case 4:
        for (int32_t i = 0; i < n; i++) gx[i] = ((gx[i] + p0[i]) + p1[i] + p2[i]) + p3[i];
        k += 4;
        break;
      case 3:
        for (int32_t i = 0; i < n; i++) gx[i] = (gx[i] + p0[i]) + p1[i] + p2[i];
        k += 3;
        break;
      case 2:
        for (int32_t i = 0; i < n; i++) gx[i] = (gx[i] + p0[i]) + p1[i];
        k += 2;
        break;
      default:
        for (int32_t i = 0; i < n; i++) gx[i] = gx[i] + p0[i];
        k += 1;
    }
  }
}

/*
 * gapHeadBackwardF32's loop by blocks of four head channels and chunks of input channels.
 * A channel's gradient g = (gpool * inv) * ws is the same at every position (where its mask
 * bit is set; else 0 and skipped), so each term g * w is the same float at every position:
 * the block's products are computed once per call (into a stack buffer, each rounded as
 * the WASM kernel's f32.mul rounds it) and every position adds the ones its mask keeps, in
 * channel order. The bias gradient is summed over positions ascending per channel, and
 * scratch ends holding the last position's gradients, as the WASM kernel leaves them.
 */
__attribute__((noinline)) static void gap_head_blocked(const tt_gap_head_t* r, const uint8_t* gpool, const uint8_t* bits, const uint8_t* ws, const uint8_t* w, const uint8_t* w2, int32_t first, float inv, uint8_t* gx, uint8_t* bgrad, uint8_t* scratch) {
  const int32_t P = r->P, CO = r->CO, CI = r->CI;
  float prod[GAP_ROWS][GAP_CHUNK];
  for (int32_t co0 = 0; co0 < CO; co0 += GAP_ROWS) {
    const int32_t nb = CO - co0 < GAP_ROWS ? CO - co0 : GAP_ROWS;
    float t[GAP_ROWS], g[GAP_ROWS];
    for (int32_t k = 0; k < nb; k++) {
      t[k] = tt_ld_f32(gpool + 4 * (co0 + k)) * inv;
      g[k] = t[k] * tt_ld_f32(ws + 4 * (co0 + k));
    }
    /* The bias gradient and scratch: per channel, positions ascending (the mask zeroes t). */
    for (int32_t k = 0; k < nb; k++) {
      const int32_t co = co0 + k;
      float last = 0.0f, sum = bgrad ? tt_ld_f32(bgrad + 4 * co) : 0.0f;
      for (int32_t p = 0; p < P; p++) {
        const int32_t i = p * CO + co;
        last = bits && ((bits[i >> 3] >> (i & 7)) & 1u) == 0 ? 0.0f : t[k];
        sum = sum + last;
      }
      if (bgrad) tt_st_f32(bgrad + 4 * co, sum);
      if (P > 0) tt_st_f32(scratch + 4 * co, last);
    }
    for (int32_t c0 = 0; c0 < CI; c0 += GAP_CHUNK) {
      const int32_t n = CI - c0 < GAP_CHUNK ? CI - c0 : GAP_CHUNK;
      for (int32_t k = 0; k < nb; k++) {
        convert_row(prod[k], w, w2, first, CI, co0 + k, c0, n);
        const float gk = g[k];
        for (int32_t i = 0; i < n; i++) prod[k][i] = gk * prod[k][i];
      }
      for (int32_t p = 0; p < P; p++) {
        const float* pr[GAP_ROWS];
        int32_t m = 0;
        for (int32_t k = 0; k < nb; k++) {
          const int32_t i = p * CO + co0 + k;
          if (g[k] == 0 || (bits && ((bits[i >> 3] >> (i & 7)) & 1u) == 0)) continue;
          pr[m++] = prod[k];
        }
        if (m) add_product_rows((alias_f32*)(void*)(gx + 4 * (p * CI + c0)), pr, m, n);
      }
    }
  }
}

static void gapHeadBackwardF32(u32 record) {
  const tt_gap_head_t r = TT_NATIVE_RECORD(tt_gap_head_t, record);
  const int32_t P = r.P, CO = r.CO, CI = r.CI;
  if (r.split < 0 || r.split > CI) tt_memory_fault(r.w, 0, 0);
  const int32_t first = r.split == 0 ? CI : r.split;
  const float inv = 1.0f / (float)P;
  const uint8_t* gpool = tt_native_in(r.gpool, tt_extent(CO, 1, 1, 4));
  const uint8_t* bits = r.bits ? tt_native_in(r.bits, (tt_extent(P, CO, 1, 1) + 7u) / 8u) : 0;
  const uint8_t* ws = tt_native_in(r.w_scale, tt_extent(CO, 1, 1, 4));
  const uint8_t* w = tt_native_in(r.w, tt_extent(CO, first, 1, 1));
  const uint8_t* w2 = r.split ? tt_native_in(r.w2, tt_extent(CO, CI - first, 1, 1)) : 0;
  uint8_t* gx = r.gx ? tt_native_out(r.gx, tt_extent(P, CI, 1, 4)) : 0;
  uint8_t* bgrad = r.bgrad ? tt_native_out(r.bgrad, tt_extent(CO, 1, 1, 4)) : 0;
  uint8_t* scratch = tt_native_out(r.scratch, tt_extent(CO, 1, 1, 4));
  if (gx && !r.accumulate) memset(gx, 0, tt_extent(P, CI, 1, 4));
  if (bgrad) memset(bgrad, 0, tt_extent(CO, 1, 1, 4));
  if (gx && ((uintptr_t)gx & 3u) == 0) {
    gap_head_blocked(&r, gpool, bits, ws, w, w2, first, inv, gx, bgrad, scratch);
    return;
  }
  for (int32_t p = 0; p < P; p++) {
    for (int32_t co = 0; co < CO; co++) {
      float g = tt_ld_f32(gpool + 4 * co) * inv;
      const int32_t i = p * CO + co;
      if (bits && ((bits[i >> 3] >> (i & 7)) & 1u) == 0) g = 0.0f;
      tt_st_f32(scratch + 4 * co, g);
      if (bgrad) tt_st_f32(bgrad + 4 * co, tt_ld_f32(bgrad + 4 * co) + g);
    }
    if (!gx) continue;
    add_channel_rows(gx + 4 * (p * CI), scratch, ws, CO, w, w2, first, CI);
  }
}

void Z_tt_nativeZ_conv2dBackwardInputF32(struct Z_tt_native_instance_t* env, u32 record) {
  (void)env;
  TT_KPROF_CALL("conv2dBackwardInputF32", record, conv2dBackwardInputF32(record));
}

void Z_tt_nativeZ_depthwiseBackwardInputInPlaceF32(struct Z_tt_native_instance_t* env, u32 record) {
  (void)env;
  TT_KPROF_CALL("depthwiseBackwardInputInPlaceF32", record, depthwiseBackwardInputInPlaceF32(record));
}

void Z_tt_nativeZ_gapHeadBackwardF32(struct Z_tt_native_instance_t* env, u32 record) {
  (void)env;
  TT_KPROF_CALL("gapHeadBackwardF32", record, gapHeadBackwardF32(record));
}
