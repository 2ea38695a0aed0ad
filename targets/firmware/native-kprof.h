/*
 * Per-kernel-call instruction counts inside the profiling firmware (a measurement aid for
 * issue 15): the program-step marks cannot split a streamed chain, whose layers run tile
 * by tile inside one step. With TT_KPROF defined (only ever together with TT_PROFILE, by a
 * measuring build: bench/mcu-kernels.ts passes it in the profiling build's defines) each
 * native kernel entry is timed with SysTick and charged to its parameter record, and
 * profile-marks.c prints one `tt-kprof` line per record. Without TT_KPROF (the shipped
 * and the ordinary profiling firmware) the macro is the bare call.
 */
#ifndef TT_NATIVE_KPROF_H
#define TT_NATIVE_KPROF_H

#include <stdint.h>

#ifdef TT_KPROF
uint64_t cycles_now(void);
/* kernel: a short tag printed as is; record: the call's parameter record address. */
void tt_kprof_add(const char* kernel, uint32_t record, uint64_t ticks);
#define TT_KPROF_CALL(kernel, record, call)        \
  do {                                             \
    const uint64_t kprof_t0_ = cycles_now();       \
    call;                                          \
    tt_kprof_add(kernel, record, cycles_now() - kprof_t0_); \
  } while (0)
#else
#define TT_KPROF_CALL(kernel, record, call) call
#endif

#endif
