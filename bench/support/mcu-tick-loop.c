/*
 * bench:mcu's check of instructionsPerTick (bench/support/mcu-calibrate.ts): a loop of
 * exactly 2 x TT_LOOP_ITERATIONS instructions (subs + bne), timed with the firmware's
 * SysTick counter (targets/firmware/cycles.c) under qemu -icount shift=0.
 */
#include <stdint.h>

#include "cycles.h"
#include "out.h"

int main(void) {
  cycles_start();
  const uint64_t t0 = cycles_now();
  uint32_t n = TT_LOOP_ITERATIONS;
  __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n)::"cc");
  const uint64_t t1 = cycles_now();
  out_str("ticks ");
  out_u32((uint32_t)(t1 - t0));
  out_str("\n");
  out_flush();
  return 0;
}
