/**
 * Checkpoint files: the runtime's checkpoint region behind a small header so a file
 * from another artifact, or a damaged one, is refused instead of silently loaded.
 *
 *   "TTCK" | version u32 | layoutId (16 ASCII) | payload length u32 | crc32 u32 | payload
 *
 * The header's layout is compiler/formats/checkpoint-file.ts.
 */
import { TinytrainError } from '../compiler/errors.js';
import { CHECKPOINT_FILE } from '../compiler/formats/checkpoint-file.js';
import { fourCCText } from '../compiler/formats/format.js';
import type { Manifest } from '../compiler/manifest.js';

const AT = CHECKPOINT_FILE.offset;
const VERSION = CHECKPOINT_FILE.value.VERSION;
const HEADER = CHECKPOINT_FILE.bytes;

/** The first four bytes of every checkpoint file (MAGIC as ASCII); also how an output path is recognised as a checkpoint (host/io/output-paths.ts). */
export const CHECKPOINT_MAGIC = fourCCText(CHECKPOINT_FILE.value.MAGIC);

/** The layout id as the 16 ASCII bytes a header holds (padded with spaces, cut at 16). */
export function layoutIdBytes(layoutId: string): Buffer {
  return Buffer.from(layoutId.padEnd(16).slice(0, 16), 'ascii');
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function encodeCheckpoint(m: Manifest, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(AT.magic, CHECKPOINT_FILE.value.MAGIC, true);
  dv.setUint32(AT.version, VERSION, true);
  out.set(layoutIdBytes(m.layoutId), AT.layoutId);
  dv.setUint32(AT.payloadBytes, payload.length, true);
  dv.setUint32(AT.crc32, crc32(payload), true);
  out.set(payload, HEADER);
  return out;
}

export function decodeCheckpoint(m: Manifest, file: Uint8Array, source: string): Uint8Array {
  const bad = (what: string): never => {
    throw new TinytrainError(`${source}: ${what}`, 'use a checkpoint saved from this artifact (tinytrain train DIR --save FILE)');
  };
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < HEADER || dv.getUint32(AT.magic, true) !== CHECKPOINT_FILE.value.MAGIC) bad('not a tinytrain checkpoint');
  if (dv.getUint32(AT.version, true) !== VERSION) bad(`checkpoint version ${dv.getUint32(AT.version, true)} is not supported`);
  const id = Buffer.from(file.subarray(AT.layoutId, AT.layoutId + 16))
    .toString('ascii')
    .trim();
  if (id !== m.layoutId) bad(`checkpoint belongs to another artifact layout (${id}, this artifact is ${m.layoutId})`);
  const len = dv.getUint32(AT.payloadBytes, true);
  if (len !== m.checkpoint.bytes || file.length !== HEADER + len) bad(`checkpoint holds ${file.length - HEADER} payload bytes, expected ${m.checkpoint.bytes}`);
  const payload = file.subarray(HEADER);
  if (crc32(payload) !== dv.getUint32(AT.crc32, true)) bad('checksum mismatch: the file is damaged');
  return payload;
}
