/*
 * Linear-memory access for the wasm2c output, split between Flash and SRAM.
 *
 * host/firmware/build.ts splices this header into the generated runtime.c in place of
 * wasm2c's own LOAD_DATA / DEFINE_LOAD / DEFINE_STORE block, and renames the
 * memory_fill / memory_copy calls to the tt_ versions below. The compiled runtime's
 * memory map (compiler/memory/layout.ts) is
 *
 *   [TT_FROZEN_BASE, TT_FROZEN_END)  frozen weights + quantisation tables: read-only,
 *                                    served from tt_frozen[] in Flash (.rodata)
 *   [TT_RAM_BASE, TT_RAM_END)        trained region, arena, asc static data: tt_ram[]
 *                                    in SRAM (.bss), indexed addr - TT_RAM_BASE
 *
 * so SRAM only ever holds what training writes. Every access is bounds-checked, as the
 * stock wasm2c runtime does on 32-bit targets; the checks are what make exceeding the
 * plan impossible. Stores anywhere but tt_ram trap: the runtime never writes the
 * frozen region, and this makes that a checked invariant rather than an assumption.
 * Addresses outside both ranges (including [0, 16), the unused head of the map, and
 * [heapBase, memory end), since nothing allocates) trap too.
 *
 * Addresses arrive as u64: a u32 base plus a u32 offset, so the high word is 0 unless
 * that sum carried (out of bounds either way). The checks test the high word once and
 * then work in u32: `a - BASE <= BYTES - n` is a single unsigned compare that also
 * rejects a < BASE (the subtraction wraps). `n <= BYTES` guards BYTES - n; for the
 * fixed-size loads and stores it is a compile-time constant and folds away.
 *
 * Cost, measured as instructions under QEMU -icount (cycles.h) against a build without
 * the range checks (TT_UNCHECKED, region choice kept): +23% for mnist-cnn (full update,
 * every weight in SRAM), +42% for MobileNetV2-0.35 with the 99 KB scheme; +1.1 to
 * +1.5 KiB of code. The same tests written on u64 addresses cost +51% on both.
 */
#ifndef TT_MEMORY_H
#define TT_MEMORY_H

#include "tt-config.h"

#define TT_FROZEN_BYTES (TT_FROZEN_END - TT_FROZEN_BASE)

extern const u8 tt_frozen[];
extern u8 tt_ram[];

/* main.c: records what faulted, then wasm_rt_trap(WASM_RT_TRAP_OOB). */
WASM_RT_NO_RETURN void tt_memory_fault(u64 addr, u64 bytes, int store);

static inline int tt_within(u32 a, u32 n, u32 base, u32 bytes) {
  return n <= bytes && a - base <= bytes - n;
}

/* One compare picks the region (the unchecked build needs it too), then one range
 * check in that region: frozen-weight reads, the bulk of a sparse scheme's loads, pay
 * no more than arena reads. An access straddling the two regions fails both checks. */
static inline const u8* tt_read_ptr(u64 addr, u32 n) {
  const u32 a = (u32)addr;
  if (LIKELY(!(addr >> 32))) {
    if (a >= TT_RAM_BASE) {
      if (LIKELY(tt_within(a, n, TT_RAM_BASE, TT_RAM_BYTES))) return tt_ram + (a - TT_RAM_BASE);
    } else if (LIKELY(tt_within(a, n, TT_FROZEN_BASE, TT_FROZEN_BYTES))) {
      return tt_frozen + (a - TT_FROZEN_BASE);
    }
  }
  tt_memory_fault(addr, n, 0);
}

static inline u8* tt_write_ptr(u64 addr, u32 n) {
  const u32 a = (u32)addr;
  if (LIKELY(!(addr >> 32) && tt_within(a, n, TT_RAM_BASE, TT_RAM_BYTES))) return tt_ram + (a - TT_RAM_BASE);
  tt_memory_fault(addr, n, 1);
}

#if TT_UNCHECKED
/* Measurement build only (host/firmware/build.ts `unchecked`): the region choice stays,
 * the range checks go. Never shipped: it is how the cost of the checks is measured. */
static inline const u8* tt_read_ptr_unchecked(u64 addr) {
  const u32 a = (u32)addr;
  return a >= TT_RAM_BASE ? tt_ram + (a - TT_RAM_BASE) : tt_frozen + (a - TT_FROZEN_BASE);
}
#define TT_READ(addr, n) tt_read_ptr_unchecked(addr)
#define TT_WRITE(addr, n) (tt_ram + ((u32)(addr) - TT_RAM_BASE))
#else
#define TT_READ(addr, n) tt_read_ptr(addr, n)
#define TT_WRITE(addr, n) tt_write_ptr(addr, n)
#endif

/* Data segments (asc's static data, above the arena) are copied into SRAM at
 * instantiation; one that targets the frozen region would trap here (and build.ts
 * refuses such a module before it gets this far). */
#define LOAD_DATA(m, o, i, s) memcpy(tt_write_ptr((o), (s)), (i), (s))

/* Same names and signatures as wasm2c's, so call sites stay untouched; `mem` is the
 * module's only memory and is not needed. memcpy keeps unaligned accesses defined. */
#define DEFINE_LOAD(name, t1, t2, t3)                     \
  static inline t3 name(wasm_rt_memory_t* mem, u64 addr) { \
    (void)mem;                                            \
    t1 result;                                            \
    memcpy(&result, TT_READ(addr, sizeof(t1)), sizeof(t1)); \
    return (t3)(t2)result;                                \
  }

#define DEFINE_STORE(name, t1, t2)                                     \
  static inline void name(wasm_rt_memory_t* mem, u64 addr, t2 value) { \
    (void)mem;                                                         \
    t1 wrapped = (t1)value;                                            \
    memcpy(TT_WRITE(addr, sizeof(t1)), &wrapped, sizeof(t1));          \
  }

DEFINE_LOAD(i32_load, u32, u32, u32)
DEFINE_LOAD(i64_load, u64, u64, u64)
DEFINE_LOAD(f32_load, f32, f32, f32)
DEFINE_LOAD(f64_load, f64, f64, f64)
DEFINE_LOAD(i32_load8_s, s8, s32, u32)
DEFINE_LOAD(i64_load8_s, s8, s64, u64)
DEFINE_LOAD(i32_load8_u, u8, u32, u32)
DEFINE_LOAD(i64_load8_u, u8, u64, u64)
DEFINE_LOAD(i32_load16_s, s16, s32, u32)
DEFINE_LOAD(i64_load16_s, s16, s64, u64)
DEFINE_LOAD(i32_load16_u, u16, u32, u32)
DEFINE_LOAD(i64_load16_u, u16, u64, u64)
DEFINE_LOAD(i64_load32_s, s32, s64, u64)
DEFINE_LOAD(i64_load32_u, u32, u64, u64)
DEFINE_STORE(i32_store, u32, u32)
DEFINE_STORE(i64_store, u64, u64)
DEFINE_STORE(f32_store, f32, f32)
DEFINE_STORE(f64_store, f64, f64)
DEFINE_STORE(i32_store8, u8, u32)
DEFINE_STORE(i32_store16, u16, u32)
DEFINE_STORE(i64_store8, u8, u64)
DEFINE_STORE(i64_store16, u16, u64)
DEFINE_STORE(i64_store32, u32, u64)

/* memory.fill / memory.copy (bulk memory): the destination must be SRAM, a copy's
 * source may be either region. A zero-length operation touches nothing. */
static inline void tt_memory_fill(u32 d, u32 val, u32 n) {
  if (n) memset(TT_WRITE(d, n), (int)val, n);
}

static inline void tt_memory_copy(u32 d, u32 s, u32 n) {
  if (n) memmove(TT_WRITE(d, n), TT_READ(s, n), n);
}

#endif
