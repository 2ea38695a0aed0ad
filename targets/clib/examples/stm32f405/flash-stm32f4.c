/* STM32F4 Flash controller driver: see flash-stm32f4.h (hardware only, untested in QEMU). */
#include "flash-stm32f4.h"

#include <string.h>

#define FLASH_BASE_ADDR 0x08000000u
#define FLASH_END_ADDR 0x08100000u /* 1 MiB: STM32F405xG */
#define FLASH_REG(off) (*(volatile uint32_t*)(0x40023C00u + (off)))
#define FLASH_ACR FLASH_REG(0x00)
#define FLASH_KEYR FLASH_REG(0x04)
#define FLASH_SR FLASH_REG(0x0C)
#define FLASH_CR FLASH_REG(0x10)

#define SR_BSY (1u << 16)
#define SR_ERRORS 0xF2u /* PGSERR, PGPERR, PGAERR, WRPERR, OPERR */
#define CR_PG (1u << 0)
#define CR_SER (1u << 1)
#define CR_SNB(n) ((uint32_t)(n) << 3)
#define CR_PSIZE_X8 (0u << 8) /* byte parallelism: works at any supply voltage */
#define CR_STRT (1u << 16)
#define CR_LOCK (1u << 31)
#define ACR_DCEN (1u << 10)
#define ACR_DCRST (1u << 12)

/* Sector n's start address (RM0090 table 5, bank of 1 MiB). */
static uint32_t sector_start(uint32_t n) {
  if (n < 4) return FLASH_BASE_ADDR + n * 0x4000u;
  if (n == 4) return FLASH_BASE_ADDR + 0x10000u;
  return FLASH_BASE_ADDR + 0x20000u + (n - 5) * 0x20000u;
}

static int sector_at(uint32_t addr) {
  for (uint32_t n = 0; n < 12; n++)
    if (sector_start(n) == addr) return (int)n;
  return -1;
}

static int wait_idle(void) {
  while (FLASH_SR & SR_BSY) {
  }
  const uint32_t errors = FLASH_SR & SR_ERRORS;
  FLASH_SR = errors | 1u; /* write 1 to clear the errors and EOP */
  return errors ? -1 : 0;
}

static void unlock(void) {
  if (FLASH_CR & CR_LOCK) {
    FLASH_KEYR = 0x45670123u;
    FLASH_KEYR = 0xCDEF89ABu;
  }
}

static void lock(void) { FLASH_CR |= CR_LOCK; }

int stm32f4_flash_read(void* ctx, uint32_t offset, void* dst, uint32_t bytes) {
  const stm32f4_flash_t* f = ctx;
  if (f->base + offset + bytes > FLASH_END_ADDR) return -1;
  memcpy(dst, (const void*)(uintptr_t)(f->base + offset), bytes);
  return 0;
}

int stm32f4_flash_erase(void* ctx, uint32_t offset, uint32_t bytes) {
  const stm32f4_flash_t* f = ctx;
  const uint32_t start = f->base + offset, end = start + bytes;
  /* Only whole sectors: an erase that split one would wipe its neighbour's data. */
  if (sector_at(start) < 0 || (end != FLASH_END_ADDR && sector_at(end) < 0)) return -1;
  int status = 0;
  unlock();
  for (int n = sector_at(start); status == 0 && n < 12 && sector_start((uint32_t)n) < end; n++) {
    if (wait_idle() != 0) status = -1;
    FLASH_CR = CR_SER | CR_SNB(n) | CR_PSIZE_X8;
    FLASH_CR |= CR_STRT;
    if (wait_idle() != 0) status = -1;
    FLASH_CR &= ~CR_SER;
  }
  lock();
  /* The ART data cache may hold the old contents. */
  FLASH_ACR &= ~ACR_DCEN;
  FLASH_ACR |= ACR_DCRST;
  FLASH_ACR &= ~ACR_DCRST;
  FLASH_ACR |= ACR_DCEN;
  for (uint32_t a = start; status == 0 && a < end; a += 4)
    if (*(volatile const uint32_t*)(uintptr_t)a != 0xFFFFFFFFu) status = -1; /* verify */
  return status;
}

int stm32f4_flash_program(void* ctx, uint32_t offset, const void* src, uint32_t bytes) {
  const stm32f4_flash_t* f = ctx;
  const uint8_t* s = src;
  volatile uint8_t* d = (volatile uint8_t*)(uintptr_t)(f->base + offset);
  if (f->base + offset + bytes > FLASH_END_ADDR) return -1;
  int status = wait_idle();
  unlock();
  FLASH_CR = CR_PG | CR_PSIZE_X8;
  for (uint32_t i = 0; status == 0 && i < bytes; i++) {
    d[i] = s[i];
    if (wait_idle() != 0 || d[i] != s[i]) status = -1; /* verify each byte */
  }
  FLASH_CR &= ~CR_PG;
  lock();
  return status;
}
