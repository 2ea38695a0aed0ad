/*
 * ARM semihosting: the firmware's only channel to the outside world under QEMU
 * (qemu-system-arm -semihosting-config enable=on,target=native). Files are opened
 * relative to QEMU's working directory, which the host sets to the job folder.
 *
 * Only the calls the harness needs; no libc stdio (which would pull in malloc).
 */
#ifndef TT_SEMIHOST_H
#define TT_SEMIHOST_H

#include <stdint.h>

/* SYS_OPEN modes (the ISO C fopen modes, in the order the spec numbers them). */
#define SH_MODE_READ 1       /* "rb"  */
#define SH_MODE_READ_WRITE 3 /* "r+b": the emulated Flash file is updated in place */
#define SH_MODE_WRITE 5      /* "wb"  */

/* Returns a handle, or -1. */
int32_t sh_open(const char* path, uint32_t mode);
void sh_close(int32_t handle);
/* Both return 0 when every byte was transferred. */
int sh_read(int32_t handle, void* dst, uint32_t bytes);
int sh_write(int32_t handle, const void* src, uint32_t bytes);
/* Absolute position; returns 0 on success. */
int sh_seek(int32_t handle, uint32_t position);
/* File length in bytes, or -1. */
int32_t sh_flen(int32_t handle);
/* Text to the debug console (QEMU's stdout). */
void sh_console(const char* text, uint32_t bytes);
/* Ends the emulation; `code` becomes QEMU's exit status. */
__attribute__((noreturn)) void sh_exit(uint32_t code);

#endif
