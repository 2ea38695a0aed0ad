/*
 * Semihosting calls: `bkpt 0xAB` with the operation in r0 and a pointer to its
 * argument block in r1 (ARM semihosting spec v2, Thumb/M-profile form).
 */
#include "semihost.h"

#include <string.h>

enum {
  SYS_OPEN = 0x01,
  SYS_CLOSE = 0x02,
  SYS_WRITE = 0x05,
  SYS_READ = 0x06,
  SYS_SEEK = 0x0A,
  SYS_FLEN = 0x0C,
  SYS_EXIT = 0x18,
  SYS_EXIT_EXTENDED = 0x20,
};
/* "Application exit" reason code; with SYS_EXIT_EXTENDED the second word is the status. */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static int32_t call(uint32_t op, const void* args) {
  register uint32_t r0 __asm__("r0") = op;
  register const void* r1 __asm__("r1") = args;
  /* "memory": the host reads and writes through the pointers in the block. */
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return (int32_t)r0;
}

int32_t sh_open(const char* path, uint32_t mode) {
  uint32_t args[3] = {(uint32_t)path, mode, (uint32_t)strlen(path)};
  return call(SYS_OPEN, args);
}

void sh_close(int32_t handle) {
  uint32_t args[1] = {(uint32_t)handle};
  (void)call(SYS_CLOSE, args);
}

/* SYS_READ/SYS_WRITE return the number of bytes NOT transferred. */
int sh_read(int32_t handle, void* dst, uint32_t bytes) {
  uint32_t args[3] = {(uint32_t)handle, (uint32_t)dst, bytes};
  return call(SYS_READ, args) == 0 ? 0 : -1;
}

int sh_write(int32_t handle, const void* src, uint32_t bytes) {
  uint32_t args[3] = {(uint32_t)handle, (uint32_t)src, bytes};
  return call(SYS_WRITE, args) == 0 ? 0 : -1;
}

int sh_seek(int32_t handle, uint32_t position) {
  uint32_t args[2] = {(uint32_t)handle, position};
  return call(SYS_SEEK, args) == 0 ? 0 : -1;
}

int32_t sh_flen(int32_t handle) {
  uint32_t args[1] = {(uint32_t)handle};
  return call(SYS_FLEN, args);
}

void sh_console(const char* text, uint32_t bytes) {
  /* ":tt" is the spec's name for the console; opened once, kept open. */
  static int32_t tty = -1;
  if (tty < 0) tty = sh_open(":tt", 4 /* "w" */);
  if (tty >= 0) (void)sh_write(tty, text, bytes);
}

void sh_exit(uint32_t code) {
  /* SYS_EXIT_EXTENDED carries the status on 32-bit targets too (plain SYS_EXIT cannot). */
  uint32_t args[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
  (void)call(SYS_EXIT_EXTENDED, args);
  (void)call(SYS_EXIT, (const void*)ADP_STOPPED_APPLICATION_EXIT);
  for (;;) {
  }
}
