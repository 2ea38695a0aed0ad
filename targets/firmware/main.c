/*
 * The Cortex-M training harness around a wasm2c-compiled tinytrain runtime: one
 * training job per boot, driven over semihosting.
 *
 * Job folder (QEMU's working directory; written by host/firmware/qemu.ts):
 *   job.bin      64-byte header (the WASI engines read the same file)
 *   fwjob.bin    firmware-only options: "TTFW" | version | flags | lossEvery (u32 LE)
 *                Both layouts are described once in compiler/formats/ and generated into
 *                tt-formats.h (TT_JOB_*, TT_FWJOB_*).
 *   samples.bin  int8 samples, quantised by the host exactly like Runtime.setInputPixels
 *   labels.bin   u8 per sample;  order.bin  u32 sample index per step (sampleOrder)
 *   targets.bin  K float32 per sample, only for a loss on target values (TT_TARGET_BUFFER_COUNT > 0)
 *   flash.bin    the emulated checkpoint Flash area (two slots, ckpt-slots.h)
 *
 * Same sequence as host/runtime.ts + host/train.ts, so the bytes match Node's:
 * initial trained region -> init(seed) -> (FLAG_LOAD) newest valid checkpoint slot ->
 * steps -> save into the older slot. One JSON line on the console reports the run;
 * floats are printed as exact IEEE bit patterns.
 *
 * Exit status: 0 done, 1 bad job, 3 runtime trap/abort, 4 CPU fault (startup.c).
 */
#include <stdint.h>
#include <string.h>

#include "runtime.h" /* wasm2c output (Z_tt_*) */
#include "tt-config.h"
#include "tt-formats.h"
#include "tt-memory.h"
#include "ckpt-slots.h"
#include "cycles.h"
#include "flash.h"
#include "out.h"
#include "profile-marks.h" /* empty unless the profiling build (bench:mcu) */
#include "semihost.h"

/* The runtime's writable linear memory, [TT_RAM_BASE, TT_RAM_END): trained region,
 * arena and asc's static data. In .bss, so the arena starts zeroed like a fresh WASM
 * memory. The frozen part never gets an SRAM copy. */
u8 tt_ram[TT_RAM_BYTES] __attribute__((aligned(16)));
/* tt-image.c: the initial trained region (the checkpoint a fresh device starts from). */
extern const u8 tt_trained_init[TT_CK_BYTES];

_Static_assert(TT_CK_OFFSET == TT_RAM_BASE, "the checkpoint region starts SRAM");
_Static_assert(TT_INPUT_OFFSET >= TT_RAM_BASE && TT_INPUT_OFFSET + TT_INPUT_BYTES <= TT_RAM_END,
               "the input port lies in SRAM");

static Z_tt_instance_t runtime;

enum { EXIT_BAD_JOB = 1, EXIT_TRAP = 3 };

/* ------------------------------------------------------------------------------------
 * Reporting */

static int line_open; /* a JSON line is being streamed: start errors on a fresh line */

/* Starts an error line (on a fresh line if the JSON report was being streamed). */
static void begin_error(void) {
  if (line_open) out_str("\n");
  line_open = 0;
  out_str("tinytrain-firmware: ");
}

static __attribute__((noreturn)) void end_error(uint32_t status) {
  out_str("\n");
  out_flush();
  sh_exit(status);
}

static __attribute__((noreturn)) void stop(uint32_t status, const char* what, const char* detail) {
  begin_error();
  out_str(what);
  if (detail) out_str(detail);
  end_error(status);
}

static __attribute__((noreturn)) void bad_job(const char* what) { stop(EXIT_BAD_JOB, what, 0); }

/* What the last memory fault was, for tt_trap's message. */
static u64 fault_addr, fault_bytes;
static int fault_kind = -1; /* -1 none, 0 load, 1 store */

void tt_memory_fault(u64 addr, u64 bytes, int store) {
  fault_addr = addr;
  fault_bytes = bytes;
  fault_kind = store;
  wasm_rt_trap(WASM_RT_TRAP_OOB);
}

void tt_trap(wasm_rt_trap_t why) {
  begin_error();
  out_str("runtime trap: ");
  out_str(wasm_rt_strerror(why));
  if (why == WASM_RT_TRAP_OOB && fault_kind >= 0) {
    out_str(fault_kind ? " (store of " : " (load of ");
    out_u32((uint32_t)fault_bytes);
    out_str(" B at 0x");
    out_hex32((uint32_t)fault_addr);
    if (fault_kind && fault_addr < TT_FROZEN_END) out_str(": the frozen weights are read-only Flash");
    else out_str(": outside the frozen region and the SRAM region");
    out_str(")");
  }
  end_error(EXIT_TRAP);
}

#if TT_HAS_ABORT_IMPORT
/* env.abort(message, file, line, column): asc strings are UTF-16 with their byte length
 * in the u32 before the pointer; ASCII is all the runtime's messages use. */
static void put_as_string(u32 ptr) {
  if (!ptr) return;
  u32 bytes;
  memcpy(&bytes, tt_read_ptr((u64)ptr - 4, 4), 4);
  const u8* s = tt_read_ptr(ptr, bytes);
  char c[2] = {0, 0};
  for (u32 i = 0; i + 1 < bytes; i += 2) {
    c[0] = (char)s[i];
    out_str(c);
  }
}

void Z_envZ_abort(struct Z_env_instance_t* env, u32 msg, u32 file, u32 line, u32 col) {
  (void)env;
  begin_error();
  out_str("runtime aborted: ");
  put_as_string(msg);
  out_str(" at ");
  put_as_string(file);
  out_str(":");
  out_u32(line);
  out_str(":");
  out_u32(col);
  end_error(EXIT_TRAP);
}
#endif

/* ------------------------------------------------------------------------------------
 * Stack high-water mark: paint the unused stack, count what was overwritten at the end.
 * Shows that the linked stack (TT_STACK_BYTES: the build's static worst case) holds the real peak. */

extern uint32_t __stack_bottom[], __stack_top[];
#define STACK_PAINT 0xA5A5A5A5u

static __attribute__((noinline)) void paint_stack(void) {
  uint32_t* sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t* p = __stack_bottom; p < sp - 64; p++) *p = STACK_PAINT; /* 256 B margin for this frame */
}

static uint32_t stack_peak(void) {
  const uint32_t* p = __stack_bottom;
  while (p < __stack_top && *p == STACK_PAINT) p++;
  return (uint32_t)((const char*)__stack_top - (const char*)p);
}

/* ------------------------------------------------------------------------------------
 * Job files */

/* Both job files are read as arrays of u32 words, indexed by TT_JOB_W_* / TT_FWJOB_W_*. */

static int32_t open_job_file(const char* name, uint32_t at_least) {
  int32_t h = sh_open(name, SH_MODE_READ);
  if (h < 0) stop(EXIT_BAD_JOB, "cannot open job file ", name);
  const int32_t length = sh_flen(h);
  if (length < 0 || (uint32_t)length < at_least) stop(EXIT_BAD_JOB, "job file is shorter than job.bin says: ", name);
  return h;
}

static void read_small(const char* name, void* dst, uint32_t bytes) {
  int32_t h = open_job_file(name, bytes);
  if (sh_read(h, dst, bytes) != 0) stop(EXIT_BAD_JOB, "cannot read ", name);
  sh_close(h);
}

static void read_at(int32_t h, uint32_t at, void* dst, uint32_t bytes) {
  if (sh_seek(h, at) != 0 || sh_read(h, dst, bytes) != 0) bad_job("a sample or label read failed");
}

/* The job must be for the artifact this firmware was built from. */
static void check_job(const uint32_t* h) {
  if (h[TT_JOB_W_MAGIC] != TT_JOB_MAGIC || h[TT_JOB_W_VERSION] != TT_JOB_VERSION) bad_job("job.bin is not a version-1 tinytrain job");
  if (h[TT_JOB_W_IMAGE_OFFSET] != TT_IMAGE_OFFSET || h[TT_JOB_W_IMAGE_BYTES] != TT_IMAGE_BYTES ||
      h[TT_JOB_W_CK_OFFSET] != TT_CK_OFFSET || h[TT_JOB_W_CK_BYTES] != TT_CK_BYTES ||
      h[TT_JOB_W_INPUT_OFFSET] != TT_INPUT_OFFSET || h[TT_JOB_W_CLASSES] != TT_JOB_LABEL_LIMIT ||
      h[TT_JOB_W_LAYOUT_ID_LOW] != TT_LAYOUT_ID_LO)
    bad_job("job.bin was written for another artifact than this firmware's");
  if (h[TT_JOB_W_SAMPLE_BYTES] != TT_INPUT_BYTES) bad_job("samples do not have the model's input size");
  if (h[TT_JOB_W_SAMPLE_COUNT] == 0 && h[TT_JOB_W_STEPS] > 0) bad_job("the job has no samples");
}

/* ------------------------------------------------------------------------------------ */

int main(void) {
  paint_stack();

  uint32_t job[TT_JOB_WORDS], fw[TT_FWJOB_WORDS];
  read_small("job.bin", job, sizeof job);
  check_job(job);
  read_small("fwjob.bin", fw, sizeof fw);
  if (fw[TT_FWJOB_W_MAGIC] != TT_FWJOB_MAGIC || fw[TT_FWJOB_W_VERSION] != TT_FWJOB_VERSION) bad_job("fwjob.bin is not a version-1 firmware job");
  const uint32_t steps = job[TT_JOB_W_STEPS], seed = job[TT_JOB_W_SEED], count = job[TT_JOB_W_SAMPLE_COUNT];
  const uint32_t stats_from = job[TT_JOB_W_STATS_FROM], flags = fw[TT_FWJOB_W_FLAGS];
  const uint32_t loss_every = fw[TT_FWJOB_W_LOSS_EVERY] ? fw[TT_FWJOB_W_LOSS_EVERY] : 1;
  f32 lr;
  memcpy(&lr, &job[TT_JOB_W_LR], sizeof lr);

  wasm_rt_init();
  Z_tt_init_module();
  TT_INSTANTIATE(&runtime);
  memcpy(tt_ram, tt_trained_init, TT_CK_BYTES); /* the trained part of the image */
  Z_ttZ_init(&runtime, seed);

  if (flags & TT_FWJOB_FLAG_PROBE_FROZEN_STORE) i32_store(&runtime.w2c_memory, TT_FROZEN_BASE, 0);

  if (flash_open(2 * TT_SLOT_STRIDE) != 0) bad_job("flash.bin is missing or not the size of two checkpoint slots");
  slot_info_t slots[2];
  slots_scan(slots);
  const uint32_t loaded = (job[TT_JOB_W_FLAGS] & TT_JOB_FLAG_LOAD) ? slots_newest(slots) : SLOT_NONE;
  if ((job[TT_JOB_W_FLAGS] & TT_JOB_FLAG_LOAD) && (loaded == SLOT_NONE || slots_load(loaded, tt_ram) != 0))
    bad_job("resume requested, but no checkpoint slot in flash.bin is valid");

  line_open = 1;
  out_str("{\"slots\":[\"");
  out_str(slot_state_name(slots[0].state));
  out_str("\",\"");
  out_str(slot_state_name(slots[1].state));
  out_str("\"],\"loaded\":");
  if (loaded == SLOT_NONE) out_str("null");
  else out_u32(loaded);
  out_str(",\"lossEvery\":");
  out_u32(loss_every);
  out_str(",\"losses\":[");

  const int32_t samples = open_job_file("samples.bin", count * TT_INPUT_BYTES);
  const int32_t labels = open_job_file("labels.bin", count);
  const int32_t order = open_job_file("order.bin", steps * 4);
  u8* const input = tt_ram + (TT_INPUT_OFFSET - TT_RAM_BASE);
  /* A loss on K target values (mse, multi-label bce): each sample's K float32 go straight
   * into the runtime's target buffer, as the input does. */
#if TT_TARGET_BUFFER_COUNT > 0
  const int32_t targets = open_job_file("targets.bin", count * TT_TARGET_BUFFER_COUNT * 4);
  u8* const target = tt_ram + (TT_TARGET_BUFFER_OFFSET - TT_RAM_BASE);
#endif

  /* Loss/accuracy over steps [stats_from, steps), summed in f64 in step order like
   * host/train.ts; window means of every loss_every steps for the loss curve. */
  cycles_start();
  const uint64_t t0 = cycles_now();
  double loss_sum = 0, window = 0;
  uint32_t correct = 0, counted = 0, in_window = 0, printed = 0;
  uint32_t picks[64];
  for (uint32_t s = 0; s < steps; s++) {
    const uint32_t j = s % 64;
    if (j == 0) {
      const uint32_t n = steps - s < 64 ? steps - s : 64;
      read_at(order, s * 4, picks, n * 4);
    }
    const uint32_t i = picks[j];
    if (i >= count) bad_job("order.bin names a sample past the end of samples.bin");
    u8 label;
    read_at(samples, i * TT_INPUT_BYTES, input, TT_INPUT_BYTES);
    read_at(labels, i, &label, 1);
    if (label >= TT_JOB_LABEL_LIMIT) bad_job("a label is outside the model's classes");
#if TT_TARGET_BUFFER_COUNT > 0
    read_at(targets, i * TT_TARGET_BUFFER_COUNT * 4, target, TT_TARGET_BUFFER_COUNT * 4);
#endif

    TT_PROFILE_STEP_BEGIN();
    const f32 loss = Z_ttZ_trainStep(&runtime, label, lr);
    TT_PROFILE_STEP_END();
    if (s >= stats_from) {
      loss_sum += (double)loss;
      correct += TT_TARGET_BUFFER_COUNT == 0 && Z_ttZ_lastPrediction(&runtime) == label;
      counted++;
    }
    window += (double)loss;
    if (++in_window == loss_every || s + 1 == steps) {
      out_str(printed++ ? ",\"" : "\"");
      out_f64_bits(window / in_window);
      out_str("\"");
      window = 0;
      in_window = 0;
    }
  }
  const uint64_t train_cycles = cycles_now() - t0; /* includes reading the samples */
  sh_close(samples);
  sh_close(labels);
  sh_close(order);
#if TT_TARGET_BUFFER_COUNT > 0
  sh_close(targets);
#endif

  /* Save into the older slot (or stop halfway through, as power loss would). */
  const uint32_t stop_after = (flags & TT_FWJOB_FLAG_POWER_LOSS) ? TT_CK_BYTES / 2 : TT_CK_BYTES;
  uint32_t slot, seq;
  const int save_failed = slots_save(slots, tt_ram, stop_after, &slot, &seq);
  if (save_failed) bad_job("writing the checkpoint slot to flash.bin failed");

  out_str("],\"steps\":");
  out_u32(steps);
  out_str(",\"statsFrom\":");
  out_u32(stats_from);
  out_str(",\"counted\":");
  out_u32(counted);
  out_str(",\"correct\":");
  out_u32(correct);
  out_str(",\"lossSum\":\"");
  out_f64_bits(loss_sum);
  out_str("\",\"skipped\":");
  out_u32(Z_ttZ_stepsSkipped(&runtime));
  out_str(",\"savedSlot\":");
  out_u32(slot);
  out_str(",\"savedSeq\":");
  out_u32(seq);
  out_str(",\"interrupted\":");
  out_str(stop_after < TT_CK_BYTES ? "true" : "false");
  out_str(",\"sramLinearBytes\":");
  out_u32(TT_RAM_BYTES);
  out_str(",\"cyclesHi\":");
  out_u32((uint32_t)(train_cycles >> 32));
  out_str(",\"cyclesLo\":");
  out_u32((uint32_t)train_cycles);
  out_str(",\"stackPeakBytes\":");
  out_u32(stack_peak());
  out_str(",\"stackBytes\":");
  out_u32((uint32_t)((const char*)__stack_top - (const char*)__stack_bottom));
  out_str("}\n");
  line_open = 0;
  TT_PROFILE_REPORT();
  out_flush();
  return 0;
}
