#include "stack-paint.h"

extern uint32_t __stack_limit[];
extern uint32_t __stack_top[];

#define PAINT 0x5AC3A55Cu

void stack_paint(void) {
  volatile uint32_t here = 0;
  /* Stop short of this frame: everything below it is free. */
  uint32_t* end = (uint32_t*)((uintptr_t)&here & ~(uintptr_t)3) - 16;
  for (volatile uint32_t* p = __stack_limit; p < end; p++) *p = PAINT;
}

uint32_t stack_peak(void) {
  const uint32_t* p = __stack_limit;
  while (p < __stack_top && *p == PAINT) p++;
  return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}
