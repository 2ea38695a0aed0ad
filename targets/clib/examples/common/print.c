/*
 * The examples' results on the console, one "name value" line each, in hex so a test can
 * compare them bit for bit: no printf (it would pull in most of a libc on a bare board).
 */
#include <string.h>

#include "board.h"

static void put_str(const char* s) {
  while (*s) board_putc(*s++);
}

static void put_hex(uint32_t v, int digits) {
  static const char hex[] = "0123456789abcdef";
  for (int d = digits - 1; d >= 0; d--) board_putc(hex[(v >> (4 * d)) & 15u]);
}

void board_print(const char* name, uint32_t value) {
  put_str(name);
  board_putc(' ');
  put_hex(value, 8);
  board_putc('\n');
}

void board_print_f32(const char* name, float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  board_print(name, bits);
}

/* The Flash area through the same read callback the library uses, 32 bytes a line. */
void board_print_flash(void) {
  uint8_t line[32];
  for (uint32_t off = 0; off < TT_FLASH_AREA_BYTES; off += sizeof line) {
    if (board_flash.read(board_flash.ctx, off, line, sizeof line) != 0) {
      put_str("flash read failed\n");
      return;
    }
    put_str("flash ");
    for (uint32_t i = 0; i < sizeof line; i++) put_hex(line[i], 2);
    board_putc('\n');
  }
}

void board_done(void) {
  board_print("stack", board_stack_peak());
  board_print_flash();
  put_str("end\n");
  board_exit();
}
