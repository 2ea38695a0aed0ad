/*
 * Emulated checkpoint Flash for QEMU: the file flash.bin in the job folder, read and
 * updated in place over semihosting. The host (host/firmware/flash-slots.ts) creates
 * it erased or holding a checkpoint, and reads it back after the run, exactly as it
 * would dump the area from a real part.
 */
#include "flash.h"

#include <string.h>

#include "semihost.h"

static int32_t file = -1;
static uint32_t area;

int flash_open(uint32_t area_bytes) {
  file = sh_open("flash.bin", SH_MODE_READ_WRITE);
  if (file < 0) return -1;
  area = area_bytes;
  return sh_flen(file) == (int32_t)area_bytes ? 0 : -1;
}

static int in_area(uint32_t offset, uint32_t bytes) {
  return file >= 0 && offset <= area && bytes <= area - offset;
}

int flash_read(uint32_t offset, void* dst, uint32_t bytes) {
  if (!in_area(offset, bytes) || sh_seek(file, offset) != 0) return -1;
  return sh_read(file, dst, bytes);
}

int flash_erase(uint32_t offset, uint32_t bytes) {
  uint8_t ones[256];
  memset(ones, 0xFF, sizeof ones);
  if (!in_area(offset, bytes) || sh_seek(file, offset) != 0) return -1;
  while (bytes) {
    uint32_t n = bytes < sizeof ones ? bytes : sizeof ones;
    if (sh_write(file, ones, n) != 0) return -1;
    bytes -= n;
  }
  return 0;
}

int flash_program(uint32_t offset, const void* src, uint32_t bytes) {
  if (!in_area(offset, bytes) || sh_seek(file, offset) != 0) return -1;
  return sh_write(file, src, bytes);
}
