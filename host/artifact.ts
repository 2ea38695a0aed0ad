/**
 * Reading and writing artifact folders (manifest.json + runtime WASM + image).
 *
 * Reading is where an artifact is verified, for every engine: the manifest against its
 * schema and itself (artifact-verify.ts), then every file it lists by size and sha256,
 * read once into memory. Hosts use only those verified bytes; nothing else in the folder
 * is read, and no name from the manifest can reach outside it.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TinytrainError } from '../compiler/errors.js';
import type { Artifact } from '../compiler/index.js';
import { SOURCE_FILE, type Manifest } from '../compiler/manifest.js';
import { RECOMPILE_HINT, verifyManifest, verifyModuleMemory } from './artifact-verify.js';
import { writeDirAtomic } from './io/atomic.js';

export const MANIFEST_FILE = 'manifest.json';
/** Far above any manifest tinytrain writes (MobileNetV2's is ~0.3 MB); a bigger file is not ours. */
const MANIFEST_MAX_BYTES = 64 * 1024 * 1024;

export async function writeArtifact(dir: string, a: Artifact, extra: Record<string, string> = {}): Promise<void> {
  const files: Record<string, Uint8Array | string> = {
    [a.manifest.files.wasmSimd]: a.wasmSimd,
    [a.manifest.files.wasmScalar]: a.wasmScalar,
    [a.manifest.files.wasmWasi]: a.wasmWasi,
    [a.manifest.files.image]: a.image,
    [SOURCE_FILE]: a.source,
    ...extra,
  };
  // Extra files (scheme.json) are listed too: a folder holds nothing the manifest does not vouch for.
  const integrity = { ...a.manifest.integrity };
  for (const [name, text] of Object.entries(extra)) integrity[name] = { bytes: Buffer.byteLength(text, 'utf8'), sha256: createHash('sha256').update(text).digest('hex') };
  const manifest: Manifest = { ...a.manifest, integrity };
  await writeDirAtomic(dir, (tmp) => {
    for (const [name, data] of Object.entries(files)) writeFileSync(join(tmp, name), data);
    writeFileSync(join(tmp, MANIFEST_FILE), sealManifest(manifest));
  });
}

/**
 * manifest.json carries the sha256 of its own content (`manifestSha256`, over the compact
 * JSON of every other field), so an edited or damaged manifest is refused as a whole:
 * the fields say where the host writes into the runtime's memory and how it quantises
 * inputs, and a wrong value there would train garbage without any error.
 */
const SEAL = 'manifestSha256';

function sealManifest(m: Manifest): string {
  const sealed = { ...m, [SEAL]: createHash('sha256').update(JSON.stringify(m)).digest('hex') };
  return JSON.stringify(sealed, null, 2) + '\n';
}

function unsealManifest(json: unknown, where: string): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TinytrainError(`${where}: not a JSON object`, RECOMPILE_HINT);
  const { [SEAL]: seal, ...rest } = json as Record<string, unknown>;
  if (seal === undefined) throw new TinytrainError(`${where}: no ${SEAL} (written by an older tinytrain, or not by tinytrain)`, RECOMPILE_HINT);
  if (seal !== createHash('sha256').update(JSON.stringify(rest)).digest('hex')) {
    throw new TinytrainError(`${where}: its content does not match its ${SEAL}: the manifest was edited or damaged`, RECOMPILE_HINT);
  }
  return rest;
}

export interface LoadedArtifact {
  dir: string;
  manifest: Manifest;
  image: Uint8Array;
  /** The verified bytes of a runtime module (default: the one the target runs). */
  wasm(variant?: 'simd' | 'scalar' | 'wasi'): Uint8Array;
  /** The generated AssemblyScript (runtime.ts), verified like the modules. */
  source(): string;
}

/**
 * Loads and verifies an artifact folder. Every file is checked against the manifest that
 * was read, so a load that succeeds is one consistent artifact. A compile that replaces
 * the folder meanwhile swaps whole folders (io/atomic.ts): a load that failed because the
 * folder changed under it, or was briefly absent mid-swap, is repeated, so a reader
 * never sees half of one artifact and half of another, nor a spurious error.
 */
export function readArtifact(dir: string): LoadedArtifact {
  for (let attempt = 0; ; attempt++) {
    const before = folderIdentity(dir);
    try {
      return readOnce(dir);
    } catch (e) {
      const swapped = folderIdentity(dir) !== before || replacementInProgress(dir);
      if (!swapped || attempt >= 50) throw e;
    }
    sleepMs(20);
  }
}

/** Entry points take a verified artifact, or its folder (read and verified here): never both reads. */
export function asLoaded(artifact: LoadedArtifact | string): LoadedArtifact {
  return typeof artifact === 'string' ? readArtifact(artifact) : artifact;
}

function readOnce(dir: string): LoadedArtifact {
  const mpath = join(dir, MANIFEST_FILE);
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new TinytrainError(`${dir}: no such folder, so not a tinytrain artifact`, 'create one with: tinytrain compile MODEL --target NAME --out DIR');
  }
  if (!st.isDirectory()) throw new TinytrainError(`${dir}: not a folder, so not a tinytrain artifact`, 'give the folder tinytrain compile --out wrote');
  const manifestBytes = readListed(dir, MANIFEST_FILE, undefined, 'not a tinytrain artifact (no manifest.json)');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(manifestBytes).toString('utf8'));
  } catch (e) {
    throw new TinytrainError(`${mpath}: not valid JSON (${(e as Error).message})`, RECOMPILE_HINT);
  }
  const manifest = verifyManifest(unsealManifest(json, mpath), mpath);
  const bytes = new Map<string, Uint8Array>();
  for (const [name, want] of Object.entries(manifest.integrity)) {
    const data = readListed(dir, name, want.bytes);
    const got = createHash('sha256').update(data).digest('hex');
    if (got !== want.sha256) {
      throw new TinytrainError(
        `${join(dir, name)}: sha256 ${got.slice(0, 16)}… does not match manifest.json's ${want.sha256.slice(0, 16)}…: the file is damaged, or it and manifest.json come from different artifacts`,
        RECOMPILE_HINT,
      );
    }
    bytes.set(name, data);
  }
  const f = manifest.files;
  for (const name of [f.wasmSimd, f.wasmScalar, f.wasmWasi]) verifyModuleMemory(bytes.get(name)!, manifest, join(dir, name));
  const source = Buffer.from(bytes.get(SOURCE_FILE)!).toString('utf8');
  return {
    dir,
    manifest,
    image: bytes.get(f.image)!,
    wasm: (variant) => bytes.get(variant === 'simd' ? f.wasmSimd : variant === 'scalar' ? f.wasmScalar : variant === 'wasi' ? f.wasmWasi : f.wasm)!,
    source: () => source,
  };
}

/**
 * One file of the folder, by a name the schema has already confined to a plain file name.
 * It must be a regular file (a symlink could point anywhere) of the expected size, which
 * is checked before reading so a huge file is never read.
 */
function readListed(dir: string, name: string, bytes: number | undefined, missing = `missing ${name}`): Uint8Array {
  const path = join(dir, name);
  let st;
  try {
    st = lstatSync(path);
  } catch {
    throw new TinytrainError(`${dir}: ${missing}`, RECOMPILE_HINT);
  }
  if (!st.isFile()) throw new TinytrainError(`${path}: not a regular file (${st.isSymbolicLink() ? 'a symbolic link' : 'a folder or device'})`, RECOMPILE_HINT);
  const limit = bytes ?? MANIFEST_MAX_BYTES;
  if (bytes !== undefined ? st.size !== bytes : st.size > limit) {
    throw new TinytrainError(`${path}: ${st.size} bytes, manifest.json says ${bytes ?? `at most ${limit}`}`, RECOMPILE_HINT);
  }
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TinytrainError(`${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, "check the file's permissions");
  }
}

/** Device and inode of the folder (or '' when absent): a replacement gives it new ones. */
function folderIdentity(dir: string): string {
  try {
    const st = statSync(dir);
    return `${st.dev}:${st.ino}`;
  } catch {
    return '';
  }
}

/** A compile is swapping this folder: io/atomic.ts's temp or old-aside folders exist beside it. */
function replacementInProgress(dir: string): boolean {
  const name = basename(dir);
  try {
    return readdirSync(dirname(dir)).some((e) => e.startsWith(`.${name}.tmp-`) || e.startsWith(`.${name}.old-`));
  } catch {
    return false;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
