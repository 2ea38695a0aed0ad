/**
 * fwjob.bin, the Cortex-M firmware's own job options beside job.bin (written by
 * host/firmware/qemu.ts, read by targets/firmware/main.c).
 */
import { defineFormat, fourCC } from './format.js';

export const FIRMWARE_JOB = defineFormat(
  'FWJOB',
  'fwjob.bin: firmware-only job options (host/firmware/qemu.ts writes it; targets/firmware/main.c reads it)',
  [
    { name: 'magic', type: 'u32', doc: "MAGIC ('TTFW')" },
    { name: 'version', type: 'u32', doc: 'VERSION; the firmware refuses any other' },
    { name: 'flags', type: 'u32', doc: 'FLAG_* bits' },
    { name: 'lossEvery', type: 'u32', doc: 'print the mean loss of every this many steps (0 means 1)' },
  ],
  [
    { name: 'MAGIC', value: fourCC('TTFW'), doc: "'TTFW' read as a little-endian u32" },
    { name: 'VERSION', value: 1, doc: 'the only version there is' },
    { name: 'FLAG_POWER_LOSS', value: 1, doc: 'cut the checkpoint save off halfway (simulated power loss)' },
    { name: 'FLAG_PROBE_FROZEN_STORE', value: 2, doc: 'store into the frozen region before training: must trap' },
  ],
);
