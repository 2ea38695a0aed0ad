/*
 * Stack peak by painting: at reset the free stack is filled with a pattern; the peak is
 * how much of it the program has overwritten since. The linker script gives the stack's
 * bounds (__stack_limit, lowest address; __stack_top, the initial SP).
 */
#ifndef TT_EXAMPLE_STACK_PAINT_H
#define TT_EXAMPLE_STACK_PAINT_H

#include <stdint.h>

/* Call first thing at reset, before main(): paints from __stack_limit up to near the SP. */
void stack_paint(void);
/* Bytes between __stack_top and the deepest overwritten word. */
uint32_t stack_peak(void);

#endif
