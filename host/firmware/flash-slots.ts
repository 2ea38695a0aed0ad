/**
 * The firmware's checkpoint Flash area on the host side: two slots, the format of
 * targets/firmware/ckpt-slots.c; the slot header is described once in
 * compiler/formats/flash-slot.ts, which both take it from. The host uses it to hand the
 * firmware a checkpoint to resume from (a Flash image with that checkpoint in a slot)
 * and to read the result back, as it would dump the area from a real part.
 *
 *   slot k at k * slotStride:  "TTSL" | seq u32 | length u32 | crc32 u32 | layoutId (16) | payload
 *
 * A slot is valid only with the right magic, this artifact's layout id and length, and a
 * matching CRC; the newest valid sequence number wins. Erased Flash reads 0xFF.
 */
import { TinytrainError } from '../../compiler/errors.js';
import type { Manifest } from '../../compiler/manifest.js';
import { FLASH_SLOT } from '../../compiler/formats/flash-slot.js';
import { crc32, decodeCheckpoint, layoutIdBytes } from '../checkpoint.js';

export const SLOT_HEADER_BYTES = FLASH_SLOT.bytes;
const AT = FLASH_SLOT.offset;
/** Erase unit the slots are aligned to: a 4 KiB page (nRF52). STM32F7 sectors are larger
 * (32-256 KiB); a port to one would align the slots to its sectors instead. */
export const SLOT_ALIGN = 4096;
const SLOT_MAGIC = FLASH_SLOT.value.MAGIC;

export type SlotState = 'valid' | 'erased' | 'bad-magic' | 'other-layout' | 'bad-length' | 'bad-crc';

export interface SlotInfo {
  state: SlotState;
  seq: number;
  payload?: Uint8Array;
}

/** One slot: header and checkpoint, rounded up to whole erase units (`eraseBytes`, the firmware's SLOT_ALIGN unless a C library export says otherwise). */
export function slotStride(m: Manifest, eraseBytes = SLOT_ALIGN): number {
  return Math.ceil((SLOT_HEADER_BYTES + m.checkpoint.bytes) / eraseBytes) * eraseBytes;
}

/** Bytes of Flash the two slots take. */
export function slotsAreaBytes(m: Manifest): number {
  return 2 * slotStride(m);
}

export function erasedFlash(m: Manifest): Uint8Array {
  return new Uint8Array(slotsAreaBytes(m)).fill(0xff);
}

/**
 * Programs slot `k` as the firmware does: erase, payload, then header. `stopAfter`
 * (payload bytes) cuts the write short before the header, like a power loss.
 */
export function writeSlot(m: Manifest, flash: Uint8Array, k: 0 | 1, seq: number, payload: Uint8Array, stopAfter?: number): void {
  checkArea(m, flash);
  if (payload.length !== m.checkpoint.bytes) throw new Error(`slot payload has ${payload.length} bytes, expected ${m.checkpoint.bytes}`);
  const base = k * slotStride(m);
  flash.fill(0xff, base, base + slotStride(m));
  if (stopAfter !== undefined && stopAfter < payload.length) {
    flash.set(payload.subarray(0, stopAfter), base + SLOT_HEADER_BYTES);
    return;
  }
  flash.set(payload, base + SLOT_HEADER_BYTES);
  const h = new DataView(flash.buffer, flash.byteOffset + base, SLOT_HEADER_BYTES);
  h.setUint32(AT.magic, SLOT_MAGIC, true);
  h.setUint32(AT.seq, seq >>> 0, true);
  h.setUint32(AT.length, payload.length, true);
  h.setUint32(AT.crc, crc32(payload), true);
  flash.set(layoutIdBytes(m.layoutId), base + AT.layoutId);
}

/** A Flash area holding `checkpoint` (a checkpoint file, host/checkpoint.ts) in slot 0. */
export function flashWithCheckpoint(m: Manifest, checkpoint: Uint8Array, source = 'checkpoint to load'): Uint8Array {
  const flash = erasedFlash(m);
  writeSlot(m, flash, 0, 1, decodeCheckpoint(m, checkpoint, source));
  return flash;
}

export function readSlots(m: Manifest, flash: Uint8Array): [SlotInfo, SlotInfo] {
  checkArea(m, flash);
  const one = (k: number): SlotInfo => {
    const base = k * slotStride(m);
    const h = new DataView(flash.buffer, flash.byteOffset + base, SLOT_HEADER_BYTES);
    const magic = h.getUint32(AT.magic, true);
    if (magic === 0xffffffff) return { state: 'erased', seq: 0 };
    if (magic !== SLOT_MAGIC) return { state: 'bad-magic', seq: 0 };
    const id = flash.subarray(base + AT.layoutId, base + AT.layoutId + 16);
    if (!layoutIdBytes(m.layoutId).equals(id)) return { state: 'other-layout', seq: 0 };
    if (h.getUint32(AT.length, true) !== m.checkpoint.bytes) return { state: 'bad-length', seq: 0 };
    const payload = flash.slice(base + SLOT_HEADER_BYTES, base + SLOT_HEADER_BYTES + m.checkpoint.bytes);
    if (crc32(payload) !== h.getUint32(AT.crc, true)) return { state: 'bad-crc', seq: 0 };
    return { state: 'valid', seq: h.getUint32(AT.seq, true), payload };
  };
  return [one(0), one(1)];
}

/** The valid slot with the newest sequence number (wrap-safe, as on the device). */
export function newestSlot(m: Manifest, flash: Uint8Array): { slot: 0 | 1; seq: number; payload: Uint8Array } | undefined {
  const [a, b] = readSlots(m, flash);
  const pick = (k: 0 | 1, s: SlotInfo) => ({ slot: k, seq: s.seq, payload: s.payload! });
  if (a.state === 'valid' && b.state === 'valid') return ((b.seq - a.seq) | 0) > 0 ? pick(1, b) : pick(0, a);
  if (a.state === 'valid') return pick(0, a);
  if (b.state === 'valid') return pick(1, b);
  return undefined;
}

function checkArea(m: Manifest, flash: Uint8Array): void {
  if (flash.length !== slotsAreaBytes(m)) {
    throw new TinytrainError(
      `checkpoint Flash image has ${flash.length} bytes, this artifact's two slots take ${slotsAreaBytes(m)}`,
      "use a Flash image written by this artifact's firmware",
    );
  }
}
