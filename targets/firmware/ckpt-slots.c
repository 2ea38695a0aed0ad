#include "ckpt-slots.h"

#include <string.h>

#include "crc32.h"
#include "flash.h"
#include "tt-config.h"
#include "tt-formats.h"

/* The header's layout (tt_slot_t, TT_SLOT_MAGIC) is generated from compiler/formats/flash-slot.ts. */
typedef tt_slot_t slot_header_t;

_Static_assert(TT_SLOT_STRIDE >= SLOT_HEADER_BYTES + TT_CK_BYTES, "slot stride too small");

const char* slot_state_name(slot_state_t s) {
  switch (s) {
    case SLOT_VALID: return "valid";
    case SLOT_ERASED: return "erased";
    case SLOT_BAD_MAGIC: return "bad-magic";
    case SLOT_OTHER_LAYOUT: return "other-layout";
    case SLOT_BAD_LENGTH: return "bad-length";
    case SLOT_BAD_CRC: return "bad-crc";
    case SLOT_READ_ERROR: return "read-error";
  }
  return "unknown";
}

/* CRC of the payload as it sits in Flash, read through a small stack buffer. */
static int flash_crc(uint32_t offset, uint32_t bytes, uint32_t* crc) {
  uint8_t chunk[128];
  uint32_t c = 0;
  while (bytes) {
    uint32_t n = bytes < sizeof chunk ? bytes : sizeof chunk;
    if (flash_read(offset, chunk, n) != 0) return -1;
    c = crc32_update(c, chunk, n);
    offset += n;
    bytes -= n;
  }
  *crc = c;
  return 0;
}

static slot_state_t check(uint32_t k, slot_header_t* h) {
  const uint32_t base = k * TT_SLOT_STRIDE;
  if (flash_read(base, h, sizeof *h) != 0) return SLOT_READ_ERROR;
  if (h->magic == 0xFFFFFFFFu) return SLOT_ERASED;
  if (h->magic != TT_SLOT_MAGIC) return SLOT_BAD_MAGIC;
  if (memcmp(h->layout_id, TT_LAYOUT_ID, 16) != 0) return SLOT_OTHER_LAYOUT;
  if (h->length != TT_CK_BYTES) return SLOT_BAD_LENGTH;
  uint32_t crc;
  if (flash_crc(base + SLOT_HEADER_BYTES, TT_CK_BYTES, &crc) != 0) return SLOT_READ_ERROR;
  return crc == h->crc ? SLOT_VALID : SLOT_BAD_CRC;
}

void slots_scan(slot_info_t info[2]) {
  for (uint32_t k = 0; k < 2; k++) {
    slot_header_t h;
    info[k].state = check(k, &h);
    info[k].seq = info[k].state == SLOT_VALID ? h.seq : 0;
  }
}

uint32_t slots_newest(const slot_info_t info[2]) {
  const int v0 = info[0].state == SLOT_VALID, v1 = info[1].state == SLOT_VALID;
  if (v0 && v1) return (int32_t)(info[1].seq - info[0].seq) > 0 ? 1 : 0; /* wrap-safe */
  return v0 ? 0 : v1 ? 1 : SLOT_NONE;
}

int slots_load(uint32_t k, uint8_t* dst) {
  slot_header_t h;
  if (k > 1 || check(k, &h) != SLOT_VALID) return -1;
  if (flash_read(k * TT_SLOT_STRIDE + SLOT_HEADER_BYTES, dst, TT_CK_BYTES) != 0) return -1;
  /* The copy in SRAM is what training continues from: verify that, not just Flash. */
  return crc32_update(0, dst, TT_CK_BYTES) == h.crc ? 0 : -1;
}

int slots_save(const slot_info_t info[2], const uint8_t* payload, uint32_t stop_after,
               uint32_t* slot_out, uint32_t* seq_out) {
  const uint32_t newest = slots_newest(info);
  const uint32_t k = newest == SLOT_NONE ? 0 : 1 - newest;
  const uint32_t seq = newest == SLOT_NONE ? 1 : info[newest].seq + 1;
  const uint32_t base = k * TT_SLOT_STRIDE;
  *slot_out = k;
  *seq_out = seq;
  if (flash_erase(base, TT_SLOT_STRIDE) != 0) return -1;
  if (stop_after < TT_CK_BYTES) return flash_program(base + SLOT_HEADER_BYTES, payload, stop_after);
  if (flash_program(base + SLOT_HEADER_BYTES, payload, TT_CK_BYTES) != 0) return -1;
  slot_header_t h = {.magic = TT_SLOT_MAGIC, .seq = seq, .length = TT_CK_BYTES, .crc = crc32_update(0, payload, TT_CK_BYTES), .layout_id = {0}};
  memcpy(h.layout_id, TT_LAYOUT_ID, 16);
  return flash_program(base, &h, sizeof h);
}
