#include "cycles.h"

#define SYST_CSR (*(volatile uint32_t*)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018u)
#define SYST_CSR_ENABLE_TICKINT_CORECLK 7u
#define SYST_MAX 0xFFFFFFu

static volatile uint32_t wraps;

void SysTick_Handler(void) { wraps++; }

void cycles_start(void) {
  SYST_CSR = 0;
  SYST_RVR = SYST_MAX;
  SYST_CVR = 0; /* any write clears it; the next tick reloads SYST_MAX */
  SYST_CSR = SYST_CSR_ENABLE_TICKINT_CORECLK;
  while (SYST_CVR == 0) {
  }
  wraps = 0; /* counted from here: callers take differences of cycles_now() */
}

uint64_t cycles_now(void) {
  uint32_t w, v;
  do { /* re-read if the counter wrapped between the two reads */
    w = wraps;
    v = SYST_CVR;
  } while (w != wraps);
  return ((uint64_t)w << 24) + (SYST_MAX - v);
}
