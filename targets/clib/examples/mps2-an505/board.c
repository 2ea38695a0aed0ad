/*
 * Cortex-M33 board support (QEMU mps2-an505): the CMSDK APB UART0 (polled, Secure alias),
 * the checkpoint area at the end of the "Flash" (an505.ld) emulated by common/flash-emul.c
 * with 4 KiB erase pages like the nRF5340's NVMC (the board has no Flash: QEMU's SSRAM1
 * plays it), the stack peak and the exit.
 */
#include "board.h"

#include "flash-emul.h"
#include "stack-paint.h"

#define REG(addr) (*(volatile uint32_t*)(addr))
#define UART0_DATA REG(0x50200000u)
#define UART0_STATE REG(0x50200004u)
#define UART0_CTRL REG(0x50200008u)
#define UART0_BAUDDIV REG(0x50200010u)
#define SCB_AIRCR REG(0xE000ED0Cu)

__attribute__((section(".flash_area"))) static uint8_t area_ram[TT_FLASH_AREA_BYTES];
static flash_emul_t area = {.base = area_ram, .bytes = TT_FLASH_AREA_BYTES, .sector_bytes = 4096u};
const tt_flash_t board_flash = {&area, flash_emul_read, flash_emul_erase, flash_emul_program};

void board_init(void) {
  UART0_BAUDDIV = 217u; /* 115200 baud from 25 MHz */
  UART0_CTRL = 1u;      /* TX enable */
  flash_emul_init(&area);
}

void board_putc(char c) {
  while (UART0_STATE & 1u) { /* TX buffer full */
  }
  UART0_DATA = (uint8_t)c;
}

uint32_t board_stack_peak(void) { return stack_peak(); }

void board_exit(void) {
  /* SYSRESETREQ: QEMU run with -no-reboot exits on the reset request. */
  SCB_AIRCR = 0x05FA0004u;
  for (;;) {
  }
}
