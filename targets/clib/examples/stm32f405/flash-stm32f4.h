/*
 * The STM32F4's embedded Flash controller (RM0090 section 3): tt_flash_t callbacks over a
 * checkpoint area of whole sectors. FOR HARDWARE; NOT TESTED IN QEMU, which models this
 * Flash as ROM and does not implement the controller (the QEMU run uses
 * common/flash-emul.c with the same sector rules instead).
 *
 * The area must start and end on sector boundaries and each checkpoint slot must be
 * whole sectors: sectors 0-3 are 16 KiB, 4 is 64 KiB, 5-11 are 128 KiB. Sector 0 holds
 * the vector table, so on a real STM32F405 export with `--flash-erase 128KB` and give
 * the area sectors 10-11 (STM32F4_FLASH_AREA_BASE 0x080C0000, 256 KiB): a 16 KiB
 * export's 64 KiB area would need sectors 0-3.
 */
#ifndef TT_EXAMPLE_FLASH_STM32F4_H
#define TT_EXAMPLE_FLASH_STM32F4_H

#include <stdint.h>

typedef struct {
  uint32_t base; /* the area's address: a sector's start */
} stm32f4_flash_t;

int stm32f4_flash_read(void* ctx, uint32_t offset, void* dst, uint32_t bytes);
int stm32f4_flash_erase(void* ctx, uint32_t offset, uint32_t bytes);
int stm32f4_flash_program(void* ctx, uint32_t offset, const void* src, uint32_t bytes);

#endif
