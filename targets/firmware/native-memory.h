/*
 * What a native kernel (host/firmware/native-kernels.ts) uses to reach linear memory:
 * the "check on data" version of tt-memory.h's guarantee. A kernel copies its parameter
 * record out of linear memory once, then translates each buffer the record names once,
 * checking the buffer's whole extent (computed from the record's shape fields) against
 * one region with tt-memory.h's own checks; its inner loops then index the translated
 * pointer without further checks. A buffer whose extent does not fit one region, or a
 * shape whose extent overflows, traps as a wasm2c access would (tt_memory_fault).
 *
 * Included by native-*.c after runtime.h (wasm2c's types) and tt-memory.h.
 */
#ifndef TT_NATIVE_MEMORY_H
#define TT_NATIVE_MEMORY_H

#include <stdint.h>
#include <string.h>

/* The import module's instance type: runtime.h declares it only when the module imports a native kernel. */
struct Z_tt_native_instance_t;

/* Bytes of a buffer of a * b * c elements of `size` bytes; any negative factor or a size
 * beyond 32 bits is out of every region, so it traps. */
static inline u32 tt_extent(int32_t a, int32_t b, int32_t c, u32 size) {
  if (a < 0 || b < 0 || c < 0) tt_memory_fault(0, 0, 0);
  const u64 n = (u64)(u32)a * (u64)(u32)b;
  const u64 bytes = (n >> 32) ? ~(u64)0 : n * (u64)(u32)c * size;
  if (bytes >> 32) tt_memory_fault(0, bytes, 0);
  return (u32)bytes;
}

/* Kernel geometry (rows, columns, stride, padding) small enough that index arithmetic on
 * it cannot overflow int32; anything larger is no plan's and traps. */
static inline void tt_small(int32_t v) {
  if (v <= -65536 || v >= 65536) tt_memory_fault(0, (u64)(u32)v, 0);
}

/* A buffer read by the kernel: wholly in the frozen region or wholly in SRAM. */
static inline const uint8_t* tt_native_in(u32 addr, u32 bytes) {
  return tt_read_ptr(addr, bytes);
}

/* A buffer written by the kernel: wholly in SRAM. */
static inline uint8_t* tt_native_out(u32 addr, u32 bytes) {
  return tt_write_ptr(addr, bytes);
}

/* The kernel's parameter record, copied out (records live in the frozen image; the copy
 * keeps field reads aligned whatever the record's address). */
#define TT_NATIVE_RECORD(type, addr) \
  ({                                 \
    type r_;                         \
    memcpy(&r_, tt_native_in((addr), sizeof(type)), sizeof(type)); \
    r_;                              \
  })

/* Unaligned little-endian loads (one LDR on M4/M7, which allow unaligned word access). */
static inline int32_t tt_ld_i32(const uint8_t* p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

static inline uint32_t tt_ld_u32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static inline float tt_ld_f32(const uint8_t* p) {
  float v;
  memcpy(&v, p, 4);
  return v;
}

static inline void tt_st_f32(uint8_t* p, float v) {
  memcpy(p, &v, 4);
}

#endif
