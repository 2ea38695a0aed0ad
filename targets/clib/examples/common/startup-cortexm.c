/*
 * Cortex-M reset (any ARMv7-M / ARMv8-M with an FPU): vector table, FPU on, .data copied
 * from Flash, .bss zeroed, the stack painted (stack-paint.c), then main(). Every other
 * exception spins. The linker script names the symbols.
 */
#include <stdint.h>

#include "stack-paint.h"

extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[], __stack_top[];
int main(void);

void reset_handler(void);
static void spin(void) {
  for (;;) {
  }
}

/* Initial SP, then reset, NMI, HardFault, MemManage, BusFault, UsageFault. */
__attribute__((section(".vectors"), used)) static void (*const vectors[])(void) = {
    (void (*)(void))(uintptr_t)__stack_top, reset_handler, spin, spin, spin, spin, spin,
};

#define SCB_CPACR (*(volatile uint32_t*)0xE000ED88u)

void reset_handler(void) {
  /* CP10 and CP11 full access: the library is built for the hardware FPU. */
  SCB_CPACR |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;) *d++ = *s++;
  for (uint32_t* d = __bss_start; d < __bss_end;) *d++ = 0;
  stack_paint();
  main();
  spin();
}
