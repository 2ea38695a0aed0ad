/*
 * Two checkpoint slots in Flash, so that losing power while saving never loses the
 * last good checkpoint (host/firmware/flash-slots.ts implements the same format).
 *
 * Slot k starts at k * TT_SLOT_STRIDE in the Flash area:
 *
 *   magic "TTSL" | sequence u32 | payload length u32 | CRC-32 of payload u32 |
 *   layout id (16 ASCII bytes, the manifest's layoutId) | payload
 *
 * (the header is tt_slot_t in tt-formats.h, generated from compiler/formats/flash-slot.ts)
 *
 * Saving erases the slot NOT holding the newest valid checkpoint, programs the payload,
 * and programs the header last, so a slot whose write was cut short has an erased or
 * a mismatching header and fails its check; the other slot is untouched. Loading takes
 * the valid slot with the newest sequence number.
 */
#ifndef TT_CKPT_SLOTS_H
#define TT_CKPT_SLOTS_H

#include <stdint.h>

#include "tt-formats.h"

#define SLOT_HEADER_BYTES TT_SLOT_BYTES
#define SLOT_NONE 0xFFFFFFFFu

typedef enum {
  SLOT_VALID,
  SLOT_ERASED,        /* header all 0xFF: never written, or cut short before the header */
  SLOT_BAD_MAGIC,
  SLOT_OTHER_LAYOUT,  /* written by firmware for another artifact */
  SLOT_BAD_LENGTH,
  SLOT_BAD_CRC,       /* torn or damaged payload */
  SLOT_READ_ERROR,
} slot_state_t;

typedef struct {
  slot_state_t state;
  uint32_t seq;
} slot_info_t;

const char* slot_state_name(slot_state_t s);

/* Checks both slots (header and payload CRC). */
void slots_scan(slot_info_t info[2]);

/* Index of the valid slot with the newest sequence, or SLOT_NONE. */
uint32_t slots_newest(const slot_info_t info[2]);

/* Reads slot `k`'s payload into dst (TT_CK_BYTES) and verifies it again; 0 on success. */
int slots_load(uint32_t k, uint8_t* dst);

/*
 * Writes `payload` (TT_CK_BYTES) into the older slot. `stop_after` simulates power loss:
 * when it is below TT_CK_BYTES, only that many payload bytes are programmed and the
 * header never is. Returns 0 on success (or on the simulated stop), with the slot and
 * sequence number written.
 */
int slots_save(const slot_info_t info[2], const uint8_t* payload, uint32_t stop_after,
               uint32_t* slot_out, uint32_t* seq_out);

#endif
