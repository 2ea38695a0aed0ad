/*
 * The tinytrain C library (tinytrain.h) over the wasm2c-compiled runtime (tt-runtime.c).
 *
 * The runtime's linear memory is split as in the firmware (tt-memory.h): frozen weights
 * read in place from tt_frozen[] (const, Flash), everything training writes in tt_ram[]
 * (.bss). The sequence is the host's (host/runtime.ts): initial trained region ->
 * init(seed) -> (restore) checkpoint payload -> steps, so the bytes match every engine's.
 * The checkpoint slots are the firmware's (ckpt-slots.c), reached through the caller's
 * flash callbacks.
 */
#include "tinytrain.h"

#include <string.h>

#include "tt-runtime.h" /* wasm2c output (Z_tt_*, and its u8/u32/f32 types) */
#include "ckpt-slots.h"
#include "flash.h"
#include "tt-config.h"

u8 tt_ram[TT_RAM_BYTES] __attribute__((aligned(16)));
extern const u8 tt_trained_init[TT_CK_BYTES];   /* tt-image.c */
extern const int8_t tt_input_lut[256];          /* tt-model.c: the host's u8 -> int8 input table */

typedef char tt_check_ck_first[TT_CK_OFFSET == TT_RAM_BASE ? 1 : -1];
typedef char tt_check_input_in_sram[TT_INPUT_OFFSET >= TT_RAM_BASE && TT_INPUT_OFFSET + TT_INPUT_BYTES <= TT_RAM_END ? 1 : -1];
typedef char tt_check_output_in_sram[TT_OUTPUT_OFFSET >= TT_RAM_BASE && TT_OUTPUT_OFFSET + TT_CLASSES <= TT_RAM_END ? 1 : -1];
typedef char tt_check_input_size[TT_INPUT_SIZE == TT_INPUT_BYTES ? 1 : -1];

static Z_tt_instance_t runtime;
static int instantiated;

/* ------------------------------------------------------------------------------------
 * Traps: the runtime's plan never leaves its memory, so these mean a damaged image. */

__attribute__((weak)) void tt_fatal(const char* why) {
  (void)why;
  for (;;) {
  }
}

static WASM_RT_NO_RETURN void fatal(const char* why) {
  tt_fatal(why);
  for (;;) {
  } /* tt_fatal must not return; if it does, stop here */
}

/* tt-memory.h (inside tt-runtime.c) calls this on an access outside both regions. */
WASM_RT_NO_RETURN void tt_memory_fault(u64 addr, u64 bytes, int store);
void tt_memory_fault(u64 addr, u64 bytes, int store) {
  (void)addr;
  (void)bytes;
  fatal(store ? "tinytrain: the runtime stored outside its memory plan" : "tinytrain: the runtime read outside its memory plan");
}

/* wasm-rt-static.c calls this for every wasm trap. */
WASM_RT_NO_RETURN void tt_trap(wasm_rt_trap_t why);
void tt_trap(wasm_rt_trap_t why) { fatal(wasm_rt_strerror(why)); }

#if TT_HAS_ABORT_IMPORT
void Z_envZ_abort(struct Z_env_instance_t* env, u32 msg, u32 file, u32 line, u32 col) {
  (void)env;
  (void)msg;
  (void)file;
  (void)line;
  (void)col;
  fatal("tinytrain: the runtime aborted");
}
#endif

/* ------------------------------------------------------------------------------------
 * Training */

void tt_init(uint32_t seed) {
  if (!instantiated) {
    wasm_rt_init();
    Z_tt_init_module();
    TT_INSTANTIATE(&runtime);
    instantiated = 1;
  }
  memcpy(tt_ram, tt_trained_init, TT_CK_BYTES);
  Z_ttZ_init(&runtime, seed);
}

static int8_t* input_port(void) { return (int8_t*)(tt_ram + (TT_INPUT_OFFSET - TT_RAM_BASE)); }

void tt_set_input_u8(const uint8_t* pixels) {
  int8_t* in = input_port();
  for (uint32_t i = 0; i < TT_INPUT_SIZE; i++) in[i] = tt_input_lut[pixels[i]];
}

void tt_set_input_s8(const int8_t* values) { memcpy(input_port(), values, TT_INPUT_SIZE); }

/* round(v / scale) + zero point, clamped to int8; halves round up (as the host's Math.round). */
static int8_t quantise(float v) {
  double q = (double)v / TT_INPUT_SCALE + 0.5;
  if (!(q > -1000.0)) q = -1000.0; /* also NaN */
  if (q > 1000.0) q = 1000.0;
  int32_t i = (int32_t)q; /* truncates toward zero: floor for q >= 0 */
  if ((double)i > q) i--;
  i += TT_INPUT_ZERO_POINT;
  return (int8_t)(i < -128 ? -128 : i > 127 ? 127 : i);
}

void tt_set_input_f32(const float* values) {
  int8_t* in = input_port();
  for (uint32_t i = 0; i < TT_INPUT_SIZE; i++) in[i] = quantise(values[i]);
}

tt_status_t tt_set_targets(const float* targets) {
#if TT_TARGET_COUNT == 0
  (void)targets;
  return TT_BAD_ARGUMENT; /* this model's loss reads the label */
#else
  if (!targets) return TT_BAD_ARGUMENT;
  for (uint32_t k = 0; k < TT_TARGET_COUNT; k++) {
    const float v = targets[k];
    if (!(v - v == 0.0f)) return TT_BAD_ARGUMENT; /* NaN or infinite */
    if (TT_LOSS_BCE && v != 0.0f && v != 1.0f) return TT_BAD_ARGUMENT;
  }
  memcpy(tt_ram + (TT_TARGET_BUFFER_OFFSET - TT_RAM_BASE), targets, TT_TARGET_COUNT * sizeof(float));
  return TT_OK;
#endif
}

float tt_train_step(uint32_t label, float lr) {
  if (label >= TT_LABEL_LIMIT) {
    const uint32_t nan_bits = 0x7fc00000u;
    float nan;
    memcpy(&nan, &nan_bits, sizeof nan);
    return nan;
  }
  return Z_ttZ_trainStep(&runtime, label, lr);
}

uint32_t tt_predict(float* scores) {
  const uint32_t k = Z_ttZ_predict(&runtime);
  if (scores) {
    const int8_t* out = (const int8_t*)(tt_ram + (TT_OUTPUT_OFFSET - TT_RAM_BASE));
    for (uint32_t c = 0; c < TT_CLASSES; c++) scores[c] = (float)(out[c] - TT_OUTPUT_ZERO_POINT) * TT_OUTPUT_SCALE;
  }
  return k;
}

uint32_t tt_last_prediction(void) { return Z_ttZ_lastPrediction(&runtime); }

tt_counters_t tt_counters(void) {
  tt_counters_t c;
  c.steps = Z_ttZ_stepsDone(&runtime);
  c.skipped = Z_ttZ_stepsSkipped(&runtime);
  c.non_finite = Z_ttZ_stepsNonFinite(&runtime);
  return c;
}

/* ------------------------------------------------------------------------------------
 * Checkpoint slots: ckpt-slots.c calls flash.h, which forwards to the caller's callbacks. */

static const tt_flash_t* flash_now;

int flash_read(uint32_t offset, void* dst, uint32_t bytes) { return flash_now->read(flash_now->ctx, offset, dst, bytes); }
int flash_erase(uint32_t offset, uint32_t bytes) { return flash_now->erase(flash_now->ctx, offset, bytes); }
int flash_program(uint32_t offset, const void* src, uint32_t bytes) { return flash_now->program(flash_now->ctx, offset, src, bytes); }

static int usable(const tt_flash_t* f) { return f && f->read && f->erase && f->program; }

tt_status_t tt_save(const tt_flash_t* flash) {
  if (!usable(flash)) return TT_BAD_ARGUMENT;
  flash_now = flash;
  slot_info_t slots[2];
  slots_scan(slots);
  uint32_t slot, seq;
  const int failed = slots_save(slots, tt_ram, TT_CK_BYTES, &slot, &seq);
  flash_now = 0;
  return failed ? TT_FLASH_ERROR : TT_OK;
}

tt_status_t tt_restore(const tt_flash_t* flash) {
  if (!usable(flash)) return TT_BAD_ARGUMENT;
  flash_now = flash;
  slot_info_t slots[2];
  slots_scan(slots);
  const uint32_t newest = slots_newest(slots);
  tt_status_t status = TT_NO_CHECKPOINT;
  if (newest != SLOT_NONE) {
    /* slots_load checks the slot's header and CRC in Flash before it copies, and the CRC of
     * the copy after: a read error midway leaves a partial state (TT_FLASH_ERROR: tt_init). */
    status = slots_load(newest, tt_ram) == 0 ? TT_OK : TT_FLASH_ERROR;
  }
  flash_now = 0;
  return status;
}
