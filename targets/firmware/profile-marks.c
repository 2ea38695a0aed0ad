/*
 * The profiling firmware's env.profileMark import (profile-marks.h): SysTick ticks
 * (cycles.c) per program step, one row per training step. Step i runs from its mark to
 * the next mark, the last one to the end of Z_ttZ_trainStep. Under QEMU -icount a tick is
 * a fixed number of instructions (the board's SysTick clock: 40 on MPS2 AN386/AN500 at
 * 25 MHz), so the rows are instruction counts to within one tick per step.
 *
 * TT_PROFILE_STEPS (the program's step count) comes from the build. Rows past
 * TT_PROFILE_ROWS training steps are not kept: the bench runs a few steps only.
 */
#include <stdint.h>

#include "runtime.h" /* the import's prototype, as wasm2c declares it */
#include "cycles.h"
#include "out.h"
#include "profile-marks.h"
#include "native-kprof.h"

#ifndef TT_PROFILE_STEPS
#error "the profiling build defines TT_PROFILE_STEPS (host/firmware/profile-build.ts)"
#endif
#define TT_PROFILE_ROWS 16u
#define NO_STEP 0xFFFFFFFFu

/* Ticks are u32: one program step of one training step stays far below 2^32 ticks
 * (about 170 G instructions at 40 per tick). */
static uint32_t ticks[TT_PROFILE_ROWS][TT_PROFILE_STEPS];
static uint32_t totals[TT_PROFILE_ROWS];
static uint32_t calls;        /* training steps begun */
static uint32_t marks_beyond; /* marks naming a step past the program: a broken build */
static uint32_t open_step = NO_STEP;
static uint64_t step_since, call_since;

static uint32_t row(void) { return calls - 1; }

/* Charges the open program step up to `now`. */
static void close_step(uint64_t now) {
  if (open_step != NO_STEP && row() < TT_PROFILE_ROWS) ticks[row()][open_step] += (uint32_t)(now - step_since);
  open_step = NO_STEP;
}

void Z_envZ_profileMark(struct Z_env_instance_t* env, u32 step) {
  (void)env;
  close_step(cycles_now());
  if (step < TT_PROFILE_STEPS) open_step = step;
  else marks_beyond++;
  step_since = cycles_now(); /* this bookkeeping is not charged to the step */
}

void tt_profile_step_begin(void) {
  calls++;
  open_step = NO_STEP;
  call_since = cycles_now();
}

void tt_profile_step_end(void) {
  const uint64_t now = cycles_now();
  close_step(now);
  if (row() < TT_PROFILE_ROWS) totals[row()] = (uint32_t)(now - call_since);
}

#ifdef TT_KPROF
/* native-kprof.h: ticks per native kernel record over training steps 2.. (the bench's measured steps). */
#define TT_KPROF_RECORDS 256u
static struct {
  const char* kernel;
  uint32_t record, calls;
  uint64_t ticks;
} kprof[TT_KPROF_RECORDS];
static uint32_t kprof_used, kprof_dropped;

void tt_kprof_add(const char* kernel, uint32_t record, uint64_t t) {
  if (calls < 2) return;
  uint32_t i = 0;
  while (i < kprof_used && kprof[i].record != record) i++;
  if (i == kprof_used) {
    if (kprof_used == TT_KPROF_RECORDS) {
      kprof_dropped++;
      return;
    }
    kprof[kprof_used++].record = record;
  }
  kprof[i].kernel = kernel;
  kprof[i].calls++;
  kprof[i].ticks += t;
}

static void kprof_report(void) {
  for (uint32_t i = 0; i < kprof_used; i++) {
    out_str("tt-kprof {\"kernel\":\"");
    out_str(kprof[i].kernel);
    out_str("\",\"record\":");
    out_u32(kprof[i].record);
    out_str(",\"calls\":");
    out_u32(kprof[i].calls);
    out_str(",\"ticks\":");
    out_u32((uint32_t)kprof[i].ticks);
    out_str("}\n");
  }
  out_str("tt-kprof-dropped ");
  out_u32(kprof_dropped);
  out_str("\n");
}
#endif

void tt_profile_report(void) {
#ifdef TT_KPROF
  kprof_report();
#endif
  const uint32_t rows = calls < TT_PROFILE_ROWS ? calls : TT_PROFILE_ROWS;
  out_str("tt-profile {\"programSteps\":");
  out_u32(TT_PROFILE_STEPS);
  out_str(",\"calls\":");
  out_u32(calls);
  out_str(",\"rows\":");
  out_u32(rows);
  out_str(",\"marksBeyond\":");
  out_u32(marks_beyond);
  out_str("}\n");
  for (uint32_t r = 0; r < rows; r++) {
    out_str("tt-profile-row {\"call\":");
    out_u32(r);
    out_str(",\"total\":");
    out_u32(totals[r]);
    out_str(",\"ticks\":[");
    for (uint32_t s = 0; s < TT_PROFILE_STEPS; s++) {
      if (s) out_str(",");
      out_u32(ticks[r][s]);
    }
    out_str("]}\n");
  }
}
