/*
 * RV32 reset on QEMU virt: gp and sp from the linker script, .data copied, .bss zeroed,
 * the stack painted (stack-paint.c), then main(). No interrupts are used.
 */
#include <stdint.h>

#include "stack-paint.h"

extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[];
int main(void);
void reset_c(void);

__asm__(
    ".section .text.start, \"ax\"\n"
    ".global _start\n"
    "_start:\n"
    ".option push\n"
    ".option norelax\n"
    "  la gp, __global_pointer$\n"
    ".option pop\n"
    "  la sp, __stack_top\n"
    "  j reset_c\n");

void reset_c(void) {
  for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;) *d++ = *s++;
  for (uint32_t* d = __bss_start; d < __bss_end;) *d++ = 0;
  stack_paint();
  main();
  for (;;) {
  }
}
