/**
 * The WASI build of an artifact's runtime (runtime-wasi.wasm), as readArtifact verified
 * it: same sha256 as the manifest states and the manifest's fixed memory size, which is
 * the cap every WASI engine enforces.
 */
import type { LoadedArtifact } from '../artifact.js';

export interface WasiModule {
  wasm: Uint8Array;
  /** Fixed linear-memory size: the cap every engine enforces. */
  memoryBytes: number;
}

export function wasiModuleFor(a: LoadedArtifact): WasiModule {
  return { wasm: a.wasm('wasi'), memoryBytes: a.manifest.wasmMemoryBytes };
}
