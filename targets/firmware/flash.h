/*
 * The Flash area holding the two checkpoint slots, addressed from its start. A port to
 * a real part implements these four with its Flash controller at __tt_slots_start
 * (sections.ld): erase sets whole erase units to 0xFF, program writes into erased
 * bytes. Under QEMU, flash-semihost.c keeps the area in a host file.
 *
 * All return 0 on success.
 */
#ifndef TT_FLASH_H
#define TT_FLASH_H

#include <stdint.h>

int flash_open(uint32_t area_bytes);
int flash_read(uint32_t offset, void* dst, uint32_t bytes);
int flash_erase(uint32_t offset, uint32_t bytes);
int flash_program(uint32_t offset, const void* src, uint32_t bytes);

#endif
