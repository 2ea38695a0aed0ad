/*
 * What an example's main.c needs from its board (targets/clib/examples/BOARD/): a Flash
 * area for the checkpoint behind tinytrain.h's callbacks, a character out, and an end.
 * common/print.c formats the results on top of board_putc.
 */
#ifndef TT_EXAMPLE_BOARD_H
#define TT_EXAMPLE_BOARD_H

#include <stdint.h>

#include "tinytrain.h"

/* The checkpoint's Flash area: TT_FLASH_AREA_BYTES behind read/erase/program callbacks. */
extern const tt_flash_t board_flash;

/* Clocks, FPU, UART: whatever the board needs before the first tt_ call. */
void board_init(void);
/* One character out on the board's console (a polled UART). */
void board_putc(char c);
/* Bytes of stack the program used so far (painted at reset), 0 where not measured. */
uint32_t board_stack_peak(void);
/* Stops the program: the emulator exits; a real board would sleep or reset. */
void board_exit(void);
/* Resets the chip (the boards whose power-loss test reboots: stm32f405). */
void board_reset(void);

/* common/print.c: "name xxxxxxxx" lines (32-bit hex; a float as its IEEE bits). */
void board_print(const char* name, uint32_t value);
void board_print_f32(const char* name, float value);
/* common/print.c: "flash <hex>" lines, the whole Flash area (32 bytes a line). */
void board_print_flash(void);
/* common/print.c: prints the stack peak and the whole Flash area (the test reads the
 * checkpoint back from it), then "end", then board_exit(). */
void board_done(void);

#endif
