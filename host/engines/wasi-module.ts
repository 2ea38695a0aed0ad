/**
 * The WASI build of an artifact's runtime. compile() is to write it into the artifact as
 * runtime-wasi.wasm; until an artifact has one, it is built here from the artifact's
 * runtime.ts and memory map (memoryBase = arena end), once per process and source.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TinytrainError } from '../../compiler/errors.js';
import { buildWasiRuntime } from '../../compiler/codegen/wasi.js';
import type { LoadedArtifact } from '../artifact.js';
import { wasmMemoryLimits } from './wasm-memory.js';

export const WASI_WASM_FILE = 'runtime-wasi.wasm';
const WASM_PAGE = 65536;

export interface WasiModule {
  wasm: Uint8Array;
  /** Fixed linear-memory size: the cap every engine enforces. */
  memoryBytes: number;
}

const built = new Map<string, Promise<Uint8Array>>();

export async function wasiModuleFor(a: LoadedArtifact): Promise<WasiModule> {
  const file = join(a.dir, WASI_WASM_FILE);
  const wasm = existsSync(file) ? readFileSync(file) : await buildFromSource(a);
  const lim = wasmMemoryLimits(wasm);
  if (lim.maximumPages !== lim.initialPages) {
    throw new TinytrainError(`${a.dir}: the WASI runtime's memory can grow (${lim.initialPages} pages initially, maximum ${lim.maximumPages ?? 'none'})`,
      'recompile the artifact with this version of tinytrain');
  }
  return { wasm, memoryBytes: lim.initialPages * WASM_PAGE };
}

function buildFromSource(a: LoadedArtifact): Promise<Uint8Array> {
  const path = join(a.dir, 'runtime.ts');
  if (!existsSync(path)) throw new TinytrainError(`${a.dir}: missing runtime.ts, needed to build the WASI runtime`, 'recompile the artifact');
  const source = readFileSync(path, 'utf8');
  const memoryBase = a.manifest.arena.offset + a.manifest.arena.bytes;
  const key = createHash('sha256').update(source).update(`@${memoryBase}`).digest('hex');
  let p = built.get(key);
  if (!p) {
    p = buildWasiRuntime(source, memoryBase).then((r) => r.wasm);
    built.set(key, p);
    p.catch(() => built.delete(key)); // a failed build is retried next time, not cached
  }
  return p;
}
