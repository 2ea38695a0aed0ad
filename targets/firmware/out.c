#include "out.h"

#include <string.h>

#include "semihost.h"

static char buf[256];
static uint32_t used;

static void put(char c) {
  if (used == sizeof buf) out_flush();
  buf[used++] = c;
}

void out_flush(void) {
  if (used) sh_console(buf, used);
  used = 0;
}

void out_str(const char* s) {
  while (*s) put(*s++);
}

void out_u32(uint32_t v) {
  char digits[10];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) put(digits[--n]);
}

static void hex(uint64_t v, int digits) {
  while (digits--) put("0123456789abcdef"[(v >> (4 * digits)) & 15]);
}

void out_hex32(uint32_t v) { hex(v, 8); }

void out_f64_bits(double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  hex(bits, 16);
}
