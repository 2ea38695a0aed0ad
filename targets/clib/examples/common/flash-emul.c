#include "flash-emul.h"

#include <string.h>

void flash_emul_init(flash_emul_t* f) { memset(f->base, 0xFF, f->bytes); }

static int in_area(const flash_emul_t* f, uint32_t offset, uint32_t bytes) { return offset <= f->bytes && bytes <= f->bytes - offset; }

int flash_emul_read(void* ctx, uint32_t offset, void* dst, uint32_t bytes) {
  const flash_emul_t* f = ctx;
  if (!in_area(f, offset, bytes)) return -1;
  memcpy(dst, f->base + offset, bytes);
  return 0;
}

int flash_emul_erase(void* ctx, uint32_t offset, uint32_t bytes) {
  const flash_emul_t* f = ctx;
  /* A sector erase clears its whole sector: a range that splits one would wipe a neighbour. */
  if (!in_area(f, offset, bytes) || offset % f->sector_bytes != 0 || bytes % f->sector_bytes != 0) return -1;
  memset(f->base + offset, 0xFF, bytes);
  return 0;
}

int flash_emul_program(void* ctx, uint32_t offset, const void* src, uint32_t bytes) {
  flash_emul_t* f = ctx;
  const uint8_t* s = src;
  if (!in_area(f, offset, bytes)) return -1;
  for (uint32_t i = 0; i < bytes; i++) {
    uint8_t* cell = f->base + offset + i;
    if ((uint8_t)(s[i] & (uint8_t)~*cell) != 0) return -1; /* a 0 bit cannot be programmed back to 1 */
    *cell = s[i];
    if (f->cut_after != 0 && --f->cut_after == 0 && f->power_loss) f->power_loss();
  }
  return 0;
}
