/** Reading and writing artifact folders (manifest.json + runtime WASM + image). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TinytrainError } from '../compiler/errors.js';
import type { Artifact } from '../compiler/index.js';
import type { Manifest } from '../compiler/manifest.js';
import { writeDirAtomic } from './io/atomic.js';

export async function writeArtifact(dir: string, a: Artifact, extra: Record<string, string> = {}): Promise<void> {
  await writeDirAtomic(dir, (tmp) => {
    writeFileSync(join(tmp, a.manifest.files.wasmSimd), a.wasmSimd);
    writeFileSync(join(tmp, a.manifest.files.wasmScalar), a.wasmScalar);
    writeFileSync(join(tmp, a.manifest.files.wasmWasi), a.wasmWasi);
    writeFileSync(join(tmp, a.manifest.files.image), a.image);
    writeFileSync(join(tmp, 'runtime.ts'), a.source);
    for (const [name, text] of Object.entries(extra)) writeFileSync(join(tmp, name), text);
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(a.manifest, null, 2) + '\n');
  });
}

export interface LoadedArtifact { dir: string; manifest: Manifest; image: Uint8Array; wasm(variant?: 'simd' | 'scalar'): Uint8Array }

export function readArtifact(dir: string): LoadedArtifact {
  const mpath = join(dir, 'manifest.json');
  if (!existsSync(mpath)) {
    throw new TinytrainError(`${dir}: not a tinytrain artifact (no manifest.json)`, 'create one with: tinytrain compile MODEL --target NAME --out DIR');
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(mpath, 'utf8')) as Manifest;
  } catch (e) {
    throw new TinytrainError(`${mpath}: not valid JSON (${(e as Error).message})`, 'recompile the artifact');
  }
  if (manifest.format !== 'tinytrain-artifact@1') {
    throw new TinytrainError(`${mpath}: unknown artifact format '${String(manifest.format)}'`, 'recompile with this version of tinytrain');
  }
  const file = (name: string): Uint8Array => {
    const p = join(dir, name);
    if (!existsSync(p)) throw new TinytrainError(`${dir}: missing ${name}`, 'recompile the artifact');
    return readFileSync(p);
  };
  const image = file(manifest.files.image);
  if (image.length !== manifest.image.bytes) {
    throw new TinytrainError(`${dir}/${manifest.files.image}: ${image.length} bytes, manifest says ${manifest.image.bytes}`, 'recompile the artifact');
  }
  return {
    dir, manifest, image,
    wasm: (variant) => file(variant === 'simd' ? manifest.files.wasmSimd : variant === 'scalar' ? manifest.files.wasmScalar : manifest.files.wasm),
  };
}
