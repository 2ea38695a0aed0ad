/*
 * NOR Flash emulated in RAM, for boards whose emulator models Flash as ROM (QEMU's STM32F405
 * ignores guest writes and has no FLASH controller) or has none (MPS2, virt). It keeps a
 * real part's rules so the library is tested against them: erase only whole sectors (to
 * 0xFF), program only 1 -> 0 bits (a programmed bit cannot come back without an erase).
 */
#ifndef TT_EXAMPLE_FLASH_EMUL_H
#define TT_EXAMPLE_FLASH_EMUL_H

#include <stdint.h>

typedef struct {
  uint8_t* base;         /* the RAM that plays the Flash area */
  uint32_t bytes;        /* its size: TT_FLASH_AREA_BYTES */
  uint32_t sector_bytes; /* the part's erase unit over this area (uniform here) */
  /* Power-loss tests: after this many more programmed bytes (0: never) the power fails,
   * that is power_loss() is called (a board reset) in the middle of a program call. */
  uint32_t cut_after;
  void (*power_loss)(void);
} flash_emul_t;

/* A fresh part: every byte erased. */
void flash_emul_init(flash_emul_t* f);
/* The tt_flash_t callbacks; ctx is the flash_emul_t. */
int flash_emul_read(void* ctx, uint32_t offset, void* dst, uint32_t bytes);
int flash_emul_erase(void* ctx, uint32_t offset, uint32_t bytes);
int flash_emul_program(void* ctx, uint32_t offset, const void* src, uint32_t bytes);

#endif
