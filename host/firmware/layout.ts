/**
 * Where the firmware puts each part of the runtime's linear memory, from the manifest
 * plus the one number only the module knows (heapBase, the end of asc's static data):
 *
 *   [frozenBase, frozenEnd)  Flash: the frozen part of image.bin, never copied to SRAM
 *   [ramBase, ramEnd)        SRAM: trained region (the checkpoint), arena, static data
 *
 * SRAM ends at heapBase (rounded up to 16), not at the WASM memory's last page: nothing
 * in the runtime allocates, so the tail of the last page is never used, and an access
 * there traps on the device instead of costing SRAM.
 */
import { TinytrainError } from '../../compiler/errors.js';
import type { LoadedArtifact } from '../artifact.js';
import { slotStride } from './flash-slots.js';

export interface FirmwareLayout {
  frozenBase: number;
  frozenEnd: number;
  ramBase: number;
  ramEnd: number;
  heapBase: number;
  /** The frozen part of the image (Flash) and the initial trained region (Flash, copied to SRAM at boot). */
  frozen: Uint8Array;
  trainedInit: Uint8Array;
  slotStride: number;
}

const bug = (what: string): TinytrainError => new TinytrainError(`firmware build: ${what}`, 'this is a tinytrain bug; please report it with the artifact');

export async function firmwareLayout(a: LoadedArtifact): Promise<FirmwareLayout> {
  const m = a.manifest;
  const heapBase = await heapBaseOf(a.wasm('scalar'));
  const frozenBase = m.image.offset;
  const frozenEnd = frozenBase + m.memory.breakdown.frozenParamsBytes;
  const ramBase = m.checkpoint.offset;
  const ramEnd = Math.ceil(heapBase / 16) * 16;
  // The image is the frozen part followed by the initial checkpoint region, back to back.
  if (frozenEnd !== ramBase || m.image.offset + m.image.bytes !== ramBase + m.checkpoint.bytes) {
    throw bug(`image [${m.image.offset}, +${m.image.bytes}) is not frozen [${frozenBase}, ${frozenEnd}) followed by the checkpoint [${ramBase}, +${m.checkpoint.bytes})`);
  }
  if (m.arena.offset < ramBase || m.arena.offset + m.arena.bytes > heapBase || heapBase > m.wasmMemoryBytes) {
    throw bug(`arena [${m.arena.offset}, +${m.arena.bytes}) or heapBase ${heapBase} lies outside [${ramBase}, ${m.wasmMemoryBytes})`);
  }
  const port = m.inputs[0]!;
  if (port.offset < ramBase || port.offset + port.shape.reduce((x, y) => x * y, 1) > ramEnd) throw bug('the input port is not in the SRAM region');
  return {
    frozenBase,
    frozenEnd,
    ramBase,
    ramEnd,
    heapBase,
    frozen: a.image.subarray(0, frozenEnd - frozenBase),
    trainedInit: a.image.subarray(ramBase - frozenBase),
    slotStride: slotStride(m),
  };
}

/** The module's heapBase() export, from a throwaway instance (instantiating is cheap). */
async function heapBaseOf(wasm: Uint8Array): Promise<number> {
  const imports = {
    env: {
      abort: (): never => {
        throw new Error('abort during heapBase()');
      },
    },
  };
  const { instance } = await WebAssembly.instantiate(wasm as Uint8Array<ArrayBuffer>, imports);
  const heapBase = instance.exports.heapBase;
  if (typeof heapBase !== 'function') throw bug('the runtime has no heapBase export');
  return (heapBase as () => number)() >>> 0;
}

/** Every data segment must land in SRAM: one in the frozen region would need an SRAM copy. */
export function checkDataSegments(l: FirmwareLayout, segments: Array<[number, number]>): void {
  for (const [at, bytes] of segments) {
    if (at < l.ramBase || at + bytes > l.ramEnd) {
      throw bug(`a data segment [${at}, +${bytes}) lies outside the SRAM region [${l.ramBase}, ${l.ramEnd}); the frozen region must come from the image, not from data segments`);
    }
  }
}
