/*
 * Linux "board" for the example: stdout for the UART and the checkpoint area in memory
 * under common/flash-emul.c's NOR rules (a device would put it in a file or an MTD
 * partition). The stack is not measured here (board_stack_peak returns 0).
 */
#include <stdio.h>
#include <stdlib.h>

#include "board.h"
#include "flash-emul.h"

static uint8_t area_ram[TT_FLASH_AREA_BYTES];
static flash_emul_t area = {.base = area_ram, .bytes = TT_FLASH_AREA_BYTES, .sector_bytes = TT_FLASH_ERASE_BYTES};
const tt_flash_t board_flash = {&area, flash_emul_read, flash_emul_erase, flash_emul_program};

void board_init(void) { flash_emul_init(&area); }

void board_putc(char c) { putchar(c); }

uint32_t board_stack_peak(void) { return 0; }

void board_exit(void) {
  fflush(stdout);
  exit(0);
}
