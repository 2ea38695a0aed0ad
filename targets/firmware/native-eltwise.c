/*
 * Native element-wise kernels (host/firmware/native-kernels.ts): the firmware's
 * addS8, saveMaskBits and clampBackwardBitsF32 in place of the wasm2c translations of
 * assembly/kernels/eltwise.ts. Element by element as there (no float arithmetic; the
 * add's requantisation is native-requant.h).
 */
#include <stdint.h>
#include <string.h>

#include "runtime.h"
#include "tt-config.h"
#include "tt-memory.h"
#include "tt-kernel-records.h"
#include "native-memory.h"
#include "native-requant.h"

#if defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#endif

/* Bytes of a 1-bit-per-element mask of `count` elements (0 for none). */
static inline u32 mask_bytes(int32_t count) {
  return count <= 0 ? 0 : ((u32)count + 7u) / 8u;
}

void Z_tt_nativeZ_addS8(struct Z_tt_native_instance_t* env, u32 record) {
  (void)env;
  const tt_add_t r = TT_NATIVE_RECORD(tt_add_t, record);
  if (r.count <= 0) return;
  const uint8_t* a = tt_native_in(r.a, tt_extent(r.count, 1, 1, 1));
  const uint8_t* b = tt_native_in(r.b, tt_extent(r.count, 1, 1, 1));
  uint8_t* y = tt_native_out(r.y, tt_extent(r.count, 1, 1, 1));
  /* As eltwise.ts: TFLite's ADD, each input less its zero point shifted left 20 bits. With
   * zero points in int8, |(x - z) << 20| < 2^28, each rescaled input (a multiplier <= 1/2)
   * and their sum below 2^28 too: the three rescales take the prepared int32 rule, but the
   * larger input's multiplier, exactly 1/2 (m = 2^30, n = 31: one rounding of an even
   * product), which is (x - z) << 19 exactly. */
  requant_fast_t qa, qb, qy;
  const int64_t shifted = (int64_t)255 << 20;
  const int half_a = r.ma == (1 << 30) && r.na == 31, half_b = r.mb == (1 << 30) && r.nb == 31;
  const int small_zp = r.za >= -128 && r.za <= 127 && r.zb >= -128 && r.zb <= 127;
  if (small_zp && r.lo >= -128 && r.hi <= 127 && r.lo <= r.hi && (half_a || requant_fast_prepare(r.ma, r.na, 0, shifted, &qa)) &&
      (half_b || requant_fast_prepare(r.mb, r.nb, 0, shifted, &qb)) && requant_fast_prepare(r.my, r.ny, r.zy, 2 * shifted, &qy)) {
    for (int32_t i = 0; i < r.count; i++) {
      const int32_t va = (int32_t)(int8_t)a[i] - r.za, vb = (int32_t)(int8_t)b[i] - r.zb;
      const int32_t sa = half_a ? va * (1 << 19) : requant_fast(va * (1 << 20), &qa);
      const int32_t sb = half_b ? vb * (1 << 19) : requant_fast(vb * (1 << 20), &qb);
      int32_t v = requant_fast(sa + sb, &qy);
      v = v < r.lo ? r.lo : v > r.hi ? r.hi : v;
      y[i] = (uint8_t)(int8_t)v;
    }
    return;
  }
  for (int32_t i = 0; i < r.count; i++) {
    const int64_t va = (int64_t)(int32_t)((uint32_t)((int32_t)(int8_t)a[i] - r.za) << 20);
    const int64_t vb = (int64_t)(int32_t)((uint32_t)((int32_t)(int8_t)b[i] - r.zb) << 20);
    const int64_t sum = tt_wrap_add64(round_shift((int64_t)((uint64_t)va * (uint64_t)(int64_t)r.ma), r.na), round_shift((int64_t)((uint64_t)vb * (uint64_t)(int64_t)r.mb), r.nb));
    y[i] = (uint8_t)(int8_t)requant_sum((int64_t)((uint64_t)sum * (uint64_t)(int64_t)r.my), r.ny, r.zy, r.lo, r.hi);
  }
}

void Z_tt_nativeZ_saveMaskBits(struct Z_tt_native_instance_t* env, u32 record) {
  (void)env;
  const tt_save_mask_t r = TT_NATIVE_RECORD(tt_save_mask_t, record);
  if (r.count <= 0) return;
  const uint8_t* y = tt_native_in(r.y, tt_extent(r.count, 1, 1, 1));
  uint8_t* bits = tt_native_out(r.bits, mask_bytes(r.count));
  int32_t i = 0;
#if defined(__ARM_FEATURE_SIMD32)
  /* Eight elements a byte, four a word: lo < v < hi is v >= lo + 1 and hi - 1 >= v, which
   * SSUB8 sets as GE flags per byte and SEL turns into 0xff bytes; the bytes' top bits, in
   * element order, are gathered into a nibble by one multiply. Needs lo + 1 and hi - 1 in int8. */
  if (r.lo >= -129 && r.lo <= 126 && r.hi >= -127 && r.hi <= 128) {
    const uint32_t lo1 = ((uint32_t)(r.lo + 1) & 0xffu) * 0x01010101u, hi1 = ((uint32_t)(r.hi - 1) & 0xffu) * 0x01010101u;
    for (; i + 8 <= r.count; i += 8) {
      uint32_t m2 = 0;
      for (int32_t h = 0; h < 2; h++) {
        const uint32_t v = tt_ld_u32(y + i + 4 * h);
        (void)__ssub8((int8x4_t)v, (int8x4_t)lo1);
        const uint32_t above = (uint32_t)__sel((uint8x4_t)0xffffffffu, (uint8x4_t)0u);
        (void)__ssub8((int8x4_t)hi1, (int8x4_t)v);
        const uint32_t below = (uint32_t)__sel((uint8x4_t)0xffffffffu, (uint8x4_t)0u);
        m2 |= (((above & below & 0x80808080u) * 0x00204081u) >> 28) << (4 * h);
      }
      bits[i >> 3] = (uint8_t)m2;
    }
  }
#endif
  for (; i < r.count; i += 8) {
    uint32_t m = 0;
    const int32_t n = r.count - i < 8 ? r.count - i : 8;
    for (int32_t j = 0; j < n; j++) {
      const int32_t v = (int8_t)y[i + j];
      if (v > r.lo && v < r.hi) m |= 1u << j;
    }
    bits[i >> 3] = (uint8_t)m;
  }
}

void Z_tt_nativeZ_clampBackwardBitsF32(struct Z_tt_native_instance_t* env, u32 record) {
  (void)env;
  const tt_clamp_backward_bits_t r = TT_NATIVE_RECORD(tt_clamp_backward_bits_t, record);
  if (r.count <= 0) return;
  uint8_t* g = tt_native_out(r.g, tt_extent(r.count, 1, 1, 4));
  const uint8_t* bits = tt_native_in(r.bits, mask_bytes(r.count));
  int32_t i = 0;
  /* A byte of bits at a time: all set (the common case) leaves its eight gradients as they are. */
  for (; i + 8 <= r.count; i += 8) {
    const uint32_t b = bits[i >> 3];
    if (b == 0xffu) continue;
    for (int32_t j = 0; j < 8; j++)
      if (((b >> j) & 1u) == 0) memset(g + 4 * (i + j), 0, 4);
  }
  for (; i < r.count; i++) {
    if (((bits[i >> 3] >> (i & 7)) & 1u) == 0) memset(g + 4 * i, 0, 4);
  }
}
