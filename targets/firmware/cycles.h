/*
 * A 64-bit cycle counter from SysTick (architectural on every Cortex-M, unlike DWT's
 * CYCCNT, which QEMU does not model): the 24-bit down-counter runs on the core clock and
 * its wrap interrupt extends it. On a part this counts core cycles. Under QEMU it
 * follows QEMU's virtual clock, which is only meaningful with -icount (then it is
 * proportional to instructions executed): that is how the harness measures, e.g., the
 * cost of the memory bounds checks.
 */
#ifndef TT_CYCLES_H
#define TT_CYCLES_H

#include <stdint.h>

void cycles_start(void);
uint64_t cycles_now(void);

#endif
