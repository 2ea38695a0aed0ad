/*
 * Reset and fault entry for Cortex-M4F/M7: the vector table, then enable the FPU,
 * copy .data from Flash, zero .bss (which holds the runtime's SRAM linear memory, so
 * the arena starts zeroed exactly as a fresh WASM memory does) and call main().
 *
 * Symbols come from sections.ld.
 */
#include <stdint.h>

#include "semihost.h"

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_top[];

int main(void);

/* Coprocessor Access Control Register: CP10/CP11 (the FPU) need full access before the
 * first floating-point instruction, or it faults. Main is compiled with -mfloat-abi=hard,
 * so this must run before main; nothing in this file touches floats. */
#define SCB_CPACR (*(volatile uint32_t*)0xE000ED88u)

__attribute__((noreturn)) void Reset_Handler(void) {
  SCB_CPACR |= (0xFu << 20);
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (uint32_t* dst = __bss_start; dst < __bss_end;) *dst++ = 0;
  sh_exit((uint32_t)main());
}

/* Any fault is a bug or a broken build: say which, and stop with a distinct status. */
static __attribute__((noreturn)) void fault(const char* what, uint32_t bytes) {
  sh_console(what, bytes);
  sh_exit(4);
}
#define FAULT_HANDLER(name, text) \
  void name(void) { fault(text, sizeof(text) - 1); }
FAULT_HANDLER(NMI_Handler, "tinytrain-firmware: NMI\n")
FAULT_HANDLER(HardFault_Handler, "tinytrain-firmware: hard fault\n")
FAULT_HANDLER(MemManage_Handler, "tinytrain-firmware: memory management fault\n")
FAULT_HANDLER(BusFault_Handler, "tinytrain-firmware: bus fault\n")
FAULT_HANDLER(UsageFault_Handler, "tinytrain-firmware: usage fault\n")
FAULT_HANDLER(Unexpected_Handler, "tinytrain-firmware: unexpected exception\n")
void SysTick_Handler(void); /* cycles.c */

/* The 16 system entries; no peripheral interrupts are enabled, so none follow. */
__attribute__((section(".vectors"), used)) static const void* const vectors[16] = {
    __stack_top,        Reset_Handler,      NMI_Handler,        HardFault_Handler,
    MemManage_Handler,  BusFault_Handler,   UsageFault_Handler, 0,
    0,                  0,                  0,                  Unexpected_Handler, /* SVCall */
    Unexpected_Handler, 0,                  Unexpected_Handler, SysTick_Handler, /* DebugMon, PendSV, SysTick */
};
