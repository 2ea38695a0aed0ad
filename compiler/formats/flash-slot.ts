/**
 * A checkpoint slot header in the firmware's Flash area (targets/firmware/ckpt-slots.c
 * writes and checks it on the device, host/firmware/flash-slots.ts on the host). The
 * payload follows the header; slot k starts at k * slot stride.
 */
import { defineFormat, fourCC } from './format.js';

export const FLASH_SLOT = defineFormat(
  'SLOT',
  'checkpoint slot header in Flash, followed by the payload (targets/firmware/ckpt-slots.c, host/firmware/flash-slots.ts)',
  [
    { name: 'magic', type: 'u32', doc: "MAGIC ('TTSL'); all 0xFF = erased" },
    { name: 'seq', type: 'u32', doc: 'sequence number: the newest valid slot wins (wrap-safe comparison)' },
    { name: 'length', type: 'u32', doc: 'payload bytes (the checkpoint region)' },
    { name: 'crc', type: 'u32', doc: 'CRC-32 (IEEE) of the payload' },
    { name: 'layoutId', type: 'ascii16', doc: "the manifest's layoutId: a slot written for another artifact is refused" },
  ],
  [{ name: 'MAGIC', value: fourCC('TTSL'), doc: "'TTSL' read as a little-endian u32" }],
);
