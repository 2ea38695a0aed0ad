/*
 * STM32F405 board support for the example: USART1 (polled), the checkpoint Flash area,
 * the stack peak and the exit.
 *
 * Flash: QEMU's netduinoplus2 maps the part's Flash as ROM (guest writes are ignored)
 * and does not implement the FLASH controller, so the QEMU build keeps the checkpoint
 * area in RAM (stm32f405.ld says where) under common/flash-emul.c with the part's rules (16 KiB sectors 0-3 erase
 * whole, programming only clears bits; the library is exported with --flash-erase 16KB).
 * The emulated area keeps its contents across a reset, as Flash does: it is erased only
 * at power-on (a marker in .noinit RAM, which neither the startup nor QEMU's reset clears),
 * so a power-loss test can reset mid-save and boot again (test/c-boards.test.ts).
 * Build with -DBOARD_REAL_FLASH for hardware: flash-stm32f4.c drives the controller.
 */
#include "board.h"

#include "flash-emul.h"
#include "flash-stm32f4.h"
#include "stack-paint.h"

#define REG(addr) (*(volatile uint32_t*)(addr))
#define RCC_APB2ENR REG(0x40023844u)
#define USART1_SR REG(0x40011000u)
#define USART1_DR REG(0x40011004u)
#define USART1_BRR REG(0x40011008u)
#define USART1_CR1 REG(0x4001100Cu)
#define SCB_AIRCR REG(0xE000ED0Cu)

#ifdef BOARD_REAL_FLASH
static stm32f4_flash_t area = {0x080C0000u}; /* sectors 10-11: see flash-stm32f4.h */
const tt_flash_t board_flash = {&area, stm32f4_flash_read, stm32f4_flash_erase, stm32f4_flash_program};
#else
__attribute__((section(".flash_area"))) static uint8_t area_ram[TT_FLASH_AREA_BYTES];
__attribute__((section(".noinit"))) static uint32_t powered; /* POWERED once the area was erased */
#define POWERED 0x504F5752u
static flash_emul_t area = {.base = area_ram, .bytes = TT_FLASH_AREA_BYTES, .sector_bytes = 16384u};
const tt_flash_t board_flash = {&area, flash_emul_read, flash_emul_erase, flash_emul_program};
#endif

void board_init(void) {
  RCC_APB2ENR |= 1u << 4;            /* USART1EN */
  USART1_BRR = 0x8Bu;                /* 115200 baud from the 16 MHz HSI */
  USART1_CR1 = (1u << 13) | (1u << 3); /* UE, TE */
#ifndef BOARD_REAL_FLASH
  if (powered != POWERED) flash_emul_init(&area); /* RAM starts as zeros; a fresh Flash is erased */
  powered = POWERED;
  area.power_loss = board_reset;
#endif
}

void board_putc(char c) {
  while (!(USART1_SR & (1u << 7))) { /* TXE */
  }
  USART1_DR = (uint8_t)c;
}

uint32_t board_stack_peak(void) { return stack_peak(); }

void board_reset(void) {
  SCB_AIRCR = 0x05FA0004u; /* SYSRESETREQ */
  for (;;) {
  }
}

/* QEMU run with -no-reboot exits on the reset request. */
void board_exit(void) { board_reset(); }
