/*
 * tinytrain C library: on-device training for one compiled model.
 *
 * `tinytrain export c ARTIFACT --out DIR` writes this header with everything it needs into
 * DIR: the training runtime (wasm2c output of the artifact's scalar module), the frozen
 * weights as `const` arrays (they stay in Flash), and the glue below. No malloc, one
 * static arena (the runtime's writable memory, TT_SRAM_BYTES in .bss), nothing from libc
 * but memcpy, memmove, memset and libm's floorf. Not reentrant: one model, one thread (call it from one
 * task, or guard it with your own lock).
 *
 * Four calls train on a device:
 *
 *   tt_init(seed);                       once at boot (and tt_restore to resume)
 *   tt_set_input_u8(pixels);             or _s8 / _f32: one sample, TT_INPUT_SIZE values
 *   loss = tt_train_step(label, lr);     forward, backward, update: one step
 *   tt_save(&flash);                     keep what was learnt across power cycles
 *
 * and tt_predict() gives the class of the current input (no training).
 *
 * Bit-identical: the same seed, samples, labels and learning rates give the same
 * checkpoint bytes as the artifact on Node, wasmtime, arm64 and the Cortex-M firmware,
 * provided the compiler keeps IEEE float32 semantics: build with -ffp-contract=off (no
 * fused multiply-add) and without -ffast-math (the Makefile and CMakeLists.txt do).
 *
 * Costs. Time: tt_train_step runs the compiled training program (forward, loss, the
 * pruned backward, the updates): the same work on every engine, measured for a model on a
 * Cortex-M by `tinytrain firmware ARTIFACT --target T` and its QEMU runs (instructions per
 * step); tt_predict is its forward part; tt_set_input_* touch each input value once;
 * tt_save erases one slot and programs TT_CHECKPOINT_BYTES + 32 bytes after reading both
 * slots (a CRC over each); tt_restore reads them and copies one. Stack: every buffer of the
 * runtime is in the static arena, so the C stack is the call frames only: a 664-byte peak
 * for tt_train_step on a Cortex-M4 and M33, 692 bytes on RV32 (mnist-cnn, painted stack,
 * test/c-boards.test.ts); the other calls need less. Memory: TT_SRAM_BYTES of .bss (the
 * arena), TT_FROZEN_BYTES of const data (Flash), plus code.
 */
#ifndef TINYTRAIN_H
#define TINYTRAIN_H

#include <stdint.h>

#include "tt-model.h" /* TT_INPUT_SIZE, TT_CLASSES, TT_FLASH_AREA_BYTES, ... (generated) */

#ifdef __cplusplus
extern "C" {
#endif

/* Results of the calls that can fail. */
typedef enum {
  TT_OK = 0,
  TT_NO_CHECKPOINT = 1, /* tt_restore: neither slot holds a valid checkpoint of this model */
  TT_FLASH_ERROR = 2,   /* a flash callback returned non-zero */
  TT_BAD_ARGUMENT = 3,  /* a NULL pointer, a callback missing, a label >= TT_LABEL_LIMIT or a bad target */
} tt_status_t;

/*
 * The Flash area that holds the checkpoint: TT_FLASH_AREA_BYTES, two slots of
 * TT_FLASH_SLOT_BYTES each (TT_FLASH_SLOT_BYTES is a multiple of TT_FLASH_ERASE_BYTES, the
 * erase unit the model was exported for). Offsets are from the start of the area; your
 * callbacks add its address. Each returns 0 on success.
 *
 *   read     copy `bytes` from the area into dst
 *   erase    set [offset, offset + bytes) to 0xFF; offset and bytes are whole slots
 *   program  write src into erased bytes (never over programmed ones)
 *
 * Saving writes the slot that does not hold the newest checkpoint, the payload first and
 * its header last, so power lost at any moment leaves the previous checkpoint loadable.
 */
typedef struct {
  void* ctx; /* passed to every callback: your driver's state, or NULL */
  int (*read)(void* ctx, uint32_t offset, void* dst, uint32_t bytes);
  int (*erase)(void* ctx, uint32_t offset, uint32_t bytes);
  int (*program)(void* ctx, uint32_t offset, const void* src, uint32_t bytes);
} tt_flash_t;

typedef struct {
  uint32_t steps;      /* training steps taken since tt_init (kept in the checkpoint) */
  uint32_t skipped;    /* steps whose update was skipped because the loss was not finite */
  uint32_t non_finite; /* steps in which some parameter's gradient was not finite (that parameter kept) */
} tt_counters_t;

/* Starts from the compiled (pretrained) parameters; `seed` drives the runtime's stochastic
 * rounding. Call before anything else; call again to forget all training. */
void tt_init(uint32_t seed);

/* One input sample, TT_INPUT_SIZE values in the model's layout (TT_INPUT_SHAPE, HWC).
 *   _u8:  raw 0..255 values (pixels), mapped through the model's input range exactly as
 *         the host's `tinytrain train` maps a dataset (a 256-entry table)
 *   _s8:  values already quantised with TT_INPUT_SCALE and TT_INPUT_ZERO_POINT
 *   _f32: real values, quantised here (round half up, clamped to int8) */
void tt_set_input_u8(const uint8_t* pixels);
void tt_set_input_s8(const int8_t* values);
void tt_set_input_f32(const float* values);

/* A model compiled with a loss on K target values (--loss mse, or bce with K > 1
 * outputs; TT_TARGET_COUNT > 0): the current sample's TT_TARGET_COUNT targets, before
 * tt_train_step. TT_BAD_ARGUMENT (nothing written) for NULL, a model that trains on
 * labels, a non-finite target, or a bce target other than 0 and 1. */
tt_status_t tt_set_targets(const float* targets);

/* Trains one step on the current input with its true `label` (0..TT_LABEL_LIMIT-1: the
 * class, or 0/1 for a one-output bce model; ignored with targets) at learning rate `lr`;
 * returns the loss (NaN if label is out of range: nothing trains). */
float tt_train_step(uint32_t label, float lr);

/* The predicted class of the current input (forward only). `scores`: NULL, or
 * TT_CLASSES floats that receive the logits (dequantised). */
uint32_t tt_predict(float* scores);

/* The predicted class of the input of the last tt_train_step (free: no forward pass). */
uint32_t tt_last_prediction(void);

tt_counters_t tt_counters(void);

/* Writes the checkpoint (trained parameters, optimizer and runtime state:
 * TT_CHECKPOINT_BYTES) into the older slot. Cost: one slot erase, TT_CHECKPOINT_BYTES + 32
 * programmed bytes, and a read of both slots' headers and payloads. */
tt_status_t tt_save(const tt_flash_t* flash);

/* Loads the newest valid checkpoint; the training state is then exactly as when it was
 * saved. TT_NO_CHECKPOINT (state unchanged) on a fresh device or after a slot of another
 * model was found. TT_FLASH_ERROR if a read failed midway: the state is then partial,
 * call tt_init. */
tt_status_t tt_restore(const tt_flash_t* flash);

/*
 * Called if the runtime traps (a memory access outside its plan, which a verified
 * artifact never makes: a corrupted image or a tinytrain bug). It must not return:
 * reset the device, or log and halt. The library's default (a weak symbol) spins
 * forever; define your own to report `why`.
 */
void tt_fatal(const char* why);

#ifdef __cplusplus
}
#endif

#endif
