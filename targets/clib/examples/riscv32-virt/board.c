/*
 * RV32 board support (QEMU virt): the NS16550A UART at 0x10000000 (polled), the checkpoint
 * area at the end of the "Flash" (virt.ld) emulated by common/flash-emul.c with 4 KiB
 * sectors like the ESP32-C3's SPI Flash (virt has no such Flash), the stack peak, and the
 * exit through virt's SiFive test device (0x100000), which QEMU ends on.
 */
#include "board.h"

#include "flash-emul.h"
#include "stack-paint.h"

#define UART_THR (*(volatile uint8_t*)0x10000000u)
#define UART_LSR (*(volatile uint8_t*)0x10000005u)
#define LSR_THRE 0x20u
#define TEST_DEVICE (*(volatile uint32_t*)0x00100000u)
#define TEST_PASS 0x5555u

__attribute__((section(".flash_area"))) static uint8_t area_ram[TT_FLASH_AREA_BYTES];
static flash_emul_t area = {.base = area_ram, .bytes = TT_FLASH_AREA_BYTES, .sector_bytes = 4096u};
const tt_flash_t board_flash = {&area, flash_emul_read, flash_emul_erase, flash_emul_program};

void board_init(void) { flash_emul_init(&area); }

void board_putc(char c) {
  while (!(UART_LSR & LSR_THRE)) {
  }
  UART_THR = (uint8_t)c;
}

uint32_t board_stack_peak(void) { return stack_peak(); }

void board_exit(void) {
  TEST_DEVICE = TEST_PASS;
  for (;;) {
  }
}
