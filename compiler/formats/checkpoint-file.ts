/**
 * The checkpoint file header (host/checkpoint.ts): the runtime's checkpoint region
 * behind it, so a file from another artifact, or a damaged one, is refused. Only the
 * host reads checkpoint files; devices keep checkpoints in Flash slots (flash-slot.ts).
 */
import { defineFormat, fourCC } from './format.js';

export const CHECKPOINT_FILE = defineFormat(
  'CHECKPOINT',
  'checkpoint file header, followed by the payload (host/checkpoint.ts)',
  [
    { name: 'magic', type: 'u32', doc: "MAGIC ('TTCK'), also how an output path is recognised as a checkpoint" },
    { name: 'version', type: 'u32', doc: 'VERSION; a reader refuses any other' },
    { name: 'layoutId', type: 'ascii16', doc: "the manifest's layoutId (16 hex digits)" },
    { name: 'payloadBytes', type: 'u32', doc: "bytes of payload after the header: the artifact's checkpoint region" },
    { name: 'crc32', type: 'u32', doc: 'CRC-32 (IEEE) of the payload' },
  ],
  [
    { name: 'MAGIC', value: fourCC('TTCK'), doc: "'TTCK' read as a little-endian u32" },
    { name: 'VERSION', value: 1, doc: 'the only version there is' },
  ],
);
