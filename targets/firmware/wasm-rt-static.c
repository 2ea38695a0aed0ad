/*
 * The wasm2c runtime (wasm-rt.h) for bare metal, replacing wabt's wasm-rt-impl.c,
 * which needs mmap/calloc. Nothing here allocates:
 *
 *  - Linear memory is not a buffer at all: tt-memory.h maps every access onto the
 *    frozen weights in Flash or the static SRAM array tt_ram. The wasm_rt_memory_t
 *    only records the page count (for memory.size) and has size 0, so any access path
 *    the build failed to redirect traps instead of touching a stray pointer.
 *  - Memory never grows (the compiled runtime's memory has initial = maximum).
 *  - Traps do not unwind: on a device there is nothing to return to, so wasm_rt_trap
 *    reports and stops (tt_trap in main.c).
 */
#include <stdarg.h>

#include "wasm-rt.h"

uint32_t wasm_rt_call_stack_depth;
static bool initialized;

void wasm_rt_init(void) { initialized = true; }
bool wasm_rt_is_initialized(void) { return initialized; }
void wasm_rt_free(void) { initialized = false; }

WASM_RT_NO_RETURN void tt_trap(wasm_rt_trap_t why); /* main.c: report over semihosting, exit */
void wasm_rt_trap(wasm_rt_trap_t why) { tt_trap(why); }

const char* wasm_rt_strerror(wasm_rt_trap_t trap) {
  switch (trap) {
    case WASM_RT_TRAP_NONE: return "no error";
    case WASM_RT_TRAP_OOB: return "out-of-bounds memory access";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow on divide or truncation";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "conversion from NaN to integer";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable executed";
    case WASM_RT_TRAP_CALL_INDIRECT: return "invalid call_indirect";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
#if !WASM_RT_MERGED_OOB_AND_EXHAUSTION_TRAPS
    case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
#endif
  }
  return "unknown trap";
}

/*
 * Signature ids for call_indirect checks. The contract is "same signature, same id";
 * a table of signatures would cost SRAM, so the id is a 32-bit FNV-1a hash of the
 * signature itself (different signatures collide with probability 2^-32 per pair, and
 * the compiled runtimes make no indirect calls today).
 */
uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  uint32_t h = 2166136261u;
#define MIX(v) (h = (h ^ (uint32_t)(v)) * 16777619u)
  MIX(params);
  MIX(results);
  va_list types;
  va_start(types, results);
  for (uint32_t i = 0; i < params + results; i++) MIX(va_arg(types, int));
  va_end(types);
#undef MIX
  return h;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t* mem, uint32_t initial_pages, uint32_t max_pages) {
  mem->data = 0;
  mem->size = 0;
  mem->pages = initial_pages;
  mem->max_pages = max_pages;
}

/* memory.grow fails (returns -1), as it does in every engine: initial = maximum. */
uint32_t wasm_rt_grow_memory(wasm_rt_memory_t* mem, uint32_t delta) {
  return delta == 0 ? mem->pages : UINT32_MAX;
}

void wasm_rt_free_memory(wasm_rt_memory_t* mem) { (void)mem; }

/* Tables: a small static pool, enough for the handful of entries asc emits. */
#define TT_TABLE_SLOTS 64
static wasm_rt_funcref_t funcref_pool[TT_TABLE_SLOTS];
static uint32_t funcref_used;

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t* table, uint32_t elements, uint32_t max_elements) {
  if (elements > TT_TABLE_SLOTS - funcref_used) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  table->data = funcref_pool + funcref_used;
  funcref_used += elements;
  for (uint32_t i = 0; i < elements; i++) table->data[i] = wasm_rt_funcref_null_value;
  table->size = elements;
  table->max_size = elements < max_elements ? elements : max_elements; /* cannot grow */
}

void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t* table) { (void)table; }

uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t* table, uint32_t delta, wasm_rt_funcref_t init) {
  (void)init;
  return delta == 0 ? table->size : UINT32_MAX;
}
