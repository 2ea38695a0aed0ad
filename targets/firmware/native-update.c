/*
 * Native fused gradient + update kernels (host/firmware/native-kernels.ts): the firmware's
 * conv2dWeightUpdateS8 and biasUpdateAllS32 in place of the wasm2c translations of the
 * scalar loops of assembly/kernels/conv2d.ts (weightGrads, biasUpdateAllS32) and the update rule of
 * assembly/kernels/update.ts. Float code, so operation for operation as there: each
 * weight's gradient summed over output rows, then columns, ascending; the QAS scaling,
 * the non-finite guard, momentum, and the stochastic rounding drawing from the runtime's
 * xorshift32 (assembly/kernels/rng.ts) in weight index order. -ffp-contract=off keeps
 * every product and sum rounded as WASM's f32 ops round them.
 *
 * The non-finite gradients this kernel meets are counted here (tt_native_nonfinite);
 * the rebuilt module's nonFiniteGradientCount() adds this count to the kernel library's
 * (native-kernels.ts rewrites the two functions), so the step is skipped as before.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#endif

#include "runtime.h"
#include "tt-config.h"
#include "tt-memory.h"
#include "tt-kernel-records.h"
#include "native-memory.h"
#include "native-kprof.h"

static u32 tt_native_nonfinite;

void Z_tt_nativeZ_resetNonFiniteGradients(struct Z_tt_native_instance_t* env) {
  (void)env;
  tt_native_nonfinite = 0;
}

u32 Z_tt_nativeZ_nonFiniteGradientCount(struct Z_tt_native_instance_t* env) {
  (void)env;
  return tt_native_nonfinite;
}

/* rng.ts: xorshift32, state in linear memory (part of the checkpoint). */
static inline float rng_uniform(uint8_t* state) {
  uint32_t x = tt_ld_u32(state);
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  memcpy(state, &x, 4);
  return (float)(x >> 8) * (1.0f / 16777216.0f);
}

/* update.ts stepDirection: the integer-domain gradient (0 and counted if non-finite), through momentum. */
static inline float step_direction(float g, float s, int qas, uint8_t* vel, float mu) {
  float ig = qas ? g / s : g * s;
  if (!(ig - ig == 0.0f)) {
    tt_native_nonfinite++;
    ig = 0.0f;
  }
  if (!vel) return ig;
  const float v = mu * tt_ld_f32(vel) + ig;
  tt_st_f32(vel, v);
  return v;
}

/* update.ts integerStep: floor(u - lr*dir), u the rounding offset (a draw, or 0.5 without rng); NaN 0, clamped to +-2^30. */
static inline int64_t integer_step(float dir, float lr, uint8_t* rng) {
  const float u = rng ? rng_uniform(rng) : 0.5f;
  const float r = floorf(u - lr * dir);
  if (r != r) return 0;
  if (r > 1073741824.0f) return 1073741824;
  if (r < -1073741824.0f) return -1073741824;
  return (int64_t)(int32_t)r;
}

/* update.ts stepInt8At: w + floor(u - lr*dir), clamped to [-127, 127]. */
static inline void step_int8(uint8_t* p, float dir, float lr, uint8_t* rng) {
  const int64_t v = (int64_t)(int8_t)*p + integer_step(dir, lr, rng);
  *p = (uint8_t)(int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
}

/* update.ts stepInt32At: b + floor(u - lr*dir), saturating to int32. */
static inline void step_int32(uint8_t* p, float dir, float lr, uint8_t* rng) {
  const int64_t v = (int64_t)tt_ld_i32(p) + integer_step(dir, lr, rng);
  const int32_t out = v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : (int32_t)v;
  memcpy(p, &out, 4);
}

/* biasUpdateAllS32's scalar loop: each channel's gradient summed over positions ascending, then its update. */
static void biasUpdateAllS32(u32 record, f32 lr, f32 mu, u32 qas, u32 rngAddr) {
  const tt_bias_update_t r = TT_NATIVE_RECORD(tt_bias_update_t, record);
  if (r.CO <= 0) return;
  const uint8_t* gy = tt_native_in(r.gy, tt_extent(r.P, r.CO, 1, 4));
  uint8_t* bias = tt_native_out(r.bias, tt_extent(r.CO, 1, 1, 4));
  const uint8_t* ws = tt_native_in(r.w_scale, tt_extent(r.CO, 1, 1, 4));
  uint8_t* vel = r.vel ? tt_native_out(r.vel, tt_extent(r.CO, 1, 1, 4)) : 0;
  uint8_t* rng = rngAddr ? tt_native_out(rngAddr, 4) : 0;
  for (int32_t co = 0; co < r.CO; co++) {
    float g = 0.0f;
    for (int32_t p = 0; p < r.P; p++) g = g + tt_ld_f32(gy + 4 * (p * r.CO + co));
    const float s = tt_ld_f32(ws + 4 * co) * r.sx;
    step_int32(bias + 4 * co, step_direction(g, s, (int)qas, vel ? vel + 4 * co : 0, mu), lr, rng);
  }
}

/* The weight gradients of input channels [xc, xc + n) (n <= 4) at tap (kh, kw) of output
 * channel co, each summed over output rows, then columns, ascending (weightGrads' order),
 * then scaled by sx: the channels share each position's gy load. */
static inline void tap_grads(const tt_weight_grad_t* r, const uint8_t* gy, const uint8_t* x, int32_t co, int32_t kh, int32_t kw, int32_t xc, int32_t n, float* g) {
  float g0 = 0.0f, g1 = 0.0f, g2 = 0.0f, g3 = 0.0f;
  for (int32_t oh = 0; oh < r->OH; oh++) {
    const int32_t ih = oh * r->stride_h - r->pad_h + kh;
    if (ih < 0 || ih >= r->H) continue;
    const uint8_t* gyRow = gy + 4 * (oh * r->OW * r->CO + co);
    for (int32_t ow = 0; ow < r->OW; ow++) {
      const int32_t iw = ow * r->stride_w - r->pad_w + kw;
      if (iw < 0 || iw >= r->W) continue;
      const float gv = tt_ld_f32(gyRow + 4 * ow * r->CO);
      const uint8_t* xp = x + (ih * r->W + iw) * r->XC + xc;
      g0 = g0 + gv * (float)((int32_t)(int8_t)xp[0] - r->zx);
      if (n == 4) {
        g1 = g1 + gv * (float)((int32_t)(int8_t)xp[1] - r->zx);
        g2 = g2 + gv * (float)((int32_t)(int8_t)xp[2] - r->zx);
        g3 = g3 + gv * (float)((int32_t)(int8_t)xp[3] - r->zx);
      }
    }
  }
  g[0] = g0 * r->sx;
  g[1] = g1 * r->sx;
  g[2] = g2 * r->sx;
  g[3] = g3 * r->sx;
}

/*
 * 1x1 (dense) weights by blocks of four output x four input channels: each position's four
 * gy values and four x values (converted to float once) feed sixteen sums held in FPU
 * registers, where tap_grads converts every x once per output channel. Each sum still runs
 * over the positions ascending from 0, then is scaled by sx, so it rounds as weightGrads'
 * does; the block's gradients wait in a stack row (GRAD_ROW floats per channel) and the
 * updates, with their rounding draws, then go in weight index order, co then ci ascending.
 */
#define GRAD_ROW 128

/* A float that may alias the linear memory's bytes: word-aligned gy is read with VLDR, not LDR + VMOV. */
typedef float __attribute__((may_alias)) alias_f32;

static inline __attribute__((always_inline)) void grads_4x4_at(const tt_weight_grad_t* r, const uint8_t* gy, const uint8_t* x, int32_t co, int32_t ci, float (*g)[GRAD_ROW], const int aligned) {
  float a[4][4] = {{0.0f}};
  for (int32_t oh = 0; oh < r->OH; oh++) {
    const int32_t ih = oh * r->stride_h - r->pad_h;
    if (ih < 0 || ih >= r->H) continue;
    for (int32_t ow = 0; ow < r->OW; ow++) {
      const int32_t iw = ow * r->stride_w - r->pad_w;
      if (iw < 0 || iw >= r->W) continue;
      const uint8_t* gp = gy + 4 * ((oh * r->OW + ow) * r->CO + co);
      const uint8_t* xp = x + (ih * r->W + iw) * r->XC + ci;
      float gv[4], xv[4];
      for (int32_t k = 0; k < 4; k++) gv[k] = aligned ? ((const alias_f32*)(const void*)gp)[k] : tt_ld_f32(gp + 4 * k);
      for (int32_t j = 0; j < 4; j++) xv[j] = (float)((int32_t)(int8_t)xp[j] - r->zx);
      for (int32_t k = 0; k < 4; k++)
        for (int32_t j = 0; j < 4; j++) a[k][j] = a[k][j] + gv[k] * xv[j];
    }
  }
  for (int32_t k = 0; k < 4; k++)
    for (int32_t j = 0; j < 4; j++) g[k][ci + j] = a[k][j] * r->sx;
}

static void grads_4x4(const tt_weight_grad_t* r, const uint8_t* gy, const uint8_t* x, int32_t co, int32_t ci, float (*g)[GRAD_ROW]) {
  if (((uintptr_t)gy & 3u) == 0) grads_4x4_at(r, gy, x, co, ci, g, 1);
  else grads_4x4_at(r, gy, x, co, ci, g, 0);
}

/*
 * One output channel's row of int8 updates (g: its n gradients), each exactly as
 * step_int8(w, step_direction(g, ...), lr, rng) gives it and with the draws in the same
 * sequence; the generator state stays in a register for the row and is stored once. With
 * a single-precision FPU, floor's result goes through VCVT.S32.F32, which maps NaN to 0
 * and saturates, then SSAT #31: that differs from integer_step's +-2^30 clamp only where
 * w + r is beyond +-127 either way, so the clamped weight is the same.
 */
static void update_row_int8(uint8_t* w, const float* g, int32_t n, float s, int qas, uint8_t* vel, float mu, float lr, uint8_t* rng) {
#if defined(__ARM_FP) && (__ARM_FP & 4) && defined(__ARM_FEATURE_SAT)
  uint32_t x = rng ? tt_ld_u32(rng) : 0;
  for (int32_t i = 0; i < n; i++) {
    const float dir = step_direction(g[i], s, qas, vel ? vel + 4 * i : 0, mu);
    float u = 0.5f;
    if (rng) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      u = (float)(x >> 8) * (1.0f / 16777216.0f);
    }
    float rf = floorf(u - lr * dir);
    __asm__("vcvt.s32.f32 %0, %0" : "+t"(rf));
    int32_t ri;
    memcpy(&ri, &rf, 4);
    const int32_t v = __ssat((int32_t)(int8_t)w[i] + __ssat(ri, 31), 8);
    w[i] = (uint8_t)(int8_t)(v < -127 ? -127 : v);
  }
  if (rng) memcpy(rng, &x, 4);
#else
  for (int32_t i = 0; i < n; i++) step_int8(w + i, step_direction(g[i], s, qas, vel ? vel + 4 * i : 0, mu), lr, rng);
#endif
}

/* The 1x1 fused update through grads_4x4; returns 0 (nothing done) when it does not apply. */
static int weight_update_1x1(const tt_weight_grad_t* r, const uint8_t* gy, const uint8_t* x, uint8_t* out, uint8_t* w, const uint8_t* ws, uint8_t* vel, float lr, float mu, int qas, uint8_t* rng) {
  const int32_t K = r->K, CO = r->CO;
  if (r->depthwise || r->KH != 1 || r->KW != 1 || K > GRAD_ROW) return 0;
  float g[4][GRAD_ROW];
  for (int32_t co0 = 0; co0 < CO; co0 += 4) {
    const int32_t n = CO - co0 < 4 ? CO - co0 : 4;
    int32_t ci = 0;
    if (n == 4)
      for (; ci + 4 <= K; ci += 4) grads_4x4(r, gy, x, co0, ci, g);
    for (int32_t k = 0; k < n; k++) {
      for (int32_t c = ci; c < K;) {
        const int32_t m = c + 4 <= K ? 4 : 1;
        float t[4];
        tap_grads(r, gy, x, co0 + k, 0, 0, c, m, t);
        for (int32_t j = 0; j < m; j++, c++) g[k][c] = t[j];
      }
    }
    for (int32_t k = 0; k < n; k++) {
      const int32_t co = co0 + k;
      if (out) {
        for (int32_t c = 0; c < K; c++) tt_st_f32(out + 4 * (co * K + c), g[k][c]);
        continue;
      }
      update_row_int8(w + co * K, g[k], K, tt_ld_f32(ws + 4 * co), qas, vel ? vel + 4 * co * K : 0, mu, lr, rng);
    }
  }
  return 1;
}

static void conv2dWeightUpdateS8(u32 record, f32 lr, f32 mu, u32 qas, u32 rngAddr) {
  const tt_weight_grad_t r = TT_NATIVE_RECORD(tt_weight_grad_t, record);
  tt_small(r.KH);
  tt_small(r.KW);
  tt_small(r.stride_h);
  tt_small(r.stride_w);
  tt_small(r.pad_h);
  tt_small(r.pad_w);
  const int32_t KH = r.KH, KW = r.KW, K = r.K;
  const int32_t coEnd = r.depthwise ? K : r.CO;
  const int32_t ciEnd = r.depthwise ? 1 : K;
  /* The kernel reads gy channel co < coEnd and x channel < K. */
  if (K < 0 || K > r.XC || coEnd > r.CO) tt_memory_fault(r.x, 0, 0);
  const uint8_t* gy = tt_native_in(r.gy, tt_extent(r.OH, r.OW, r.CO, 4));
  const uint8_t* x = tt_native_in(r.x, tt_extent(r.H, r.W, r.XC, 1));
  const u32 weights = tt_extent(coEnd, KH * KW, ciEnd, 1);
  /* As weightGrads: a record with `out` stores the gradient there instead of updating. */
  uint8_t* out = r.out ? tt_native_out(r.out, tt_extent(coEnd, KH * KW, ciEnd, 4)) : 0;
  uint8_t* w = out ? 0 : tt_native_out(r.w, weights);
  const uint8_t* ws = out ? 0 : tt_native_in(r.w_scale, tt_extent(coEnd, 1, 1, 4));
  uint8_t* vel = !out && r.vel ? tt_native_out(r.vel, tt_extent(coEnd, KH * KW, ciEnd, 4)) : 0;
  uint8_t* rng = !out && rngAddr ? tt_native_out(rngAddr, 4) : 0;
  if (weight_update_1x1(&r, gy, x, out, w, ws, vel, lr, mu, (int)qas, rng)) return;
  for (int32_t co = 0; co < coEnd; co++) {
    const float s = out ? 0.0f : tt_ld_f32(ws + 4 * co);
    for (int32_t kh = 0; kh < KH; kh++) {
      for (int32_t kw = 0; kw < KW; kw++) {
        for (int32_t ci = 0; ci < ciEnd;) {
          /* Four channels' sums at a time; the updates (and their rounding draws) still go in weight index order. */
          const int32_t n = ci + 4 <= ciEnd ? 4 : 1;
          float g[4];
          tap_grads(&r, gy, x, co, kh, kw, r.depthwise ? co : ci, n, g);
          for (int32_t k = 0; k < n; k++, ci++) {
            const int32_t idx = ((co * KH + kh) * KW + kw) * ciEnd + ci;
            if (out) tt_st_f32(out + 4 * idx, g[k]);
            else step_int8(w + idx, step_direction(g[k], s, (int)qas, vel ? vel + 4 * idx : 0, mu), lr, rng);
          }
        }
      }
    }
  }
}

void Z_tt_nativeZ_biasUpdateAllS32(struct Z_tt_native_instance_t* env, u32 record, f32 lr, f32 mu, u32 qas, u32 rngAddr) {
  (void)env;
  TT_KPROF_CALL("biasUpdateAllS32", record, biasUpdateAllS32(record, lr, mu, qas, rngAddr));
}

void Z_tt_nativeZ_conv2dWeightUpdateS8(struct Z_tt_native_instance_t* env, u32 record, f32 lr, f32 mu, u32 qas, u32 rngAddr) {
  (void)env;
  TT_KPROF_CALL("conv2dWeightUpdateS8", record, conv2dWeightUpdateS8(record, lr, mu, qas, rngAddr));
}
