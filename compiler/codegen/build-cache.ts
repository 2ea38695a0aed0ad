/**
 * The test runs' build layer: a per-run cache of built modules and the fast tier's WASI and
 * SIMD placeholders (setWasiPlaceholders, setSimdPlaceholders below). All are off for every user.
 *
 * The cache is on disk, and off unless TINYTRAIN_BUILD_CACHE names an existing folder. The
 * test setup (test/support/global-setup.ts) creates a fresh folder for each run, sets the
 * variable for the run (its worker processes and the CLI processes they start) and deletes
 * the folder at the end, so nothing is shared between runs, and a variable left in a shell
 * names a folder that no longer exists (the cache is then off).
 *
 * Why: the test suites compile the same (model, options) in many files and CLI runs, and
 * the three asc builds of a compile cost about 9 s of CPU.
 *
 * The key is a sha256 of everything a build reads: the module kind, memoryBase, the
 * generated source, the kernel library and WASI runner sources, the installed asc,
 * binaryen and wasi-shim packages, and this folder's build code (buildCode() below), so a
 * hit gives exactly the bytes the build would give. Failed builds are not stored; any
 * trouble reading or writing the cache is a miss, never a failed compile.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildResult } from './build.js';

export type ModuleKind = 'simd' | 'scalar' | 'wasi';

/** The build code: this folder's files that turn a generated source into a module. */
const BUILD_CODE = ['asc', 'build', 'build-cache', 'wasi'];
/** The packages a build runs, by their package.json (name and version). */
const TOOL_PACKAGES = ['assemblyscript', 'binaryen', '@assemblyscript/wasi-shim'];

export const BUILD_CACHE_ENV = 'TINYTRAIN_BUILD_CACHE';

const HERE = fileURLToPath(import.meta.url);
/** The package root: two folders up from compiler/codegen, three from dist/compiler/codegen. */
const ROOT = [join(dirname(HERE), '..', '..'), join(dirname(HERE), '..', '..', '..')].find((d) => existsSync(join(d, 'assembly'))) ?? join(dirname(HERE), '..', '..');

let placeholders = false;
/**
 * The fast test tier's switch, set by its setup in each test worker (test/support/tier-setup.ts),
 * never by an environment variable, so the CLI processes a test starts build real modules:
 * true makes buildWasiRuntime() return placeholderModule() instead of building (no test in
 * a worker of the fast tier runs a WASI module; the engines that do are full-tier suites).
 */
export function setWasiPlaceholders(on: boolean): void {
  placeholders = on;
}

export function wasiPlaceholders(): boolean {
  return placeholders;
}

let simdPlaceholders = false;
/**
 * The fast test tier's other switch, set by a test around one compile() whose SIMD module
 * no test runs (test/support/models.ts withoutSimdBuild), never by an environment variable:
 * true makes buildRuntime() return placeholderModule() for the SIMD module instead of
 * building it (about 2.5 s of CPU for a small model). Only for targets that run their
 * scalar module, so every manifest figure (code size: the scalar module's) stays the same.
 */
export function setSimdPlaceholders(on: boolean): void {
  simdPlaceholders = on;
}

export function simdPlaceholdersOn(): boolean {
  return simdPlaceholders;
}

/**
 * A module with only what an artifact's reader checks of every module: a memory of exactly
 * `pages` (exported, fixed), and a custom section that says what it is. No code.
 */
export function placeholderModule(pages: number): Uint8Array {
  const leb = (n: number): number[] => {
    const out: number[] = [];
    do {
      out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
      n >>>= 7;
    } while (n > 0);
    return out;
  };
  const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
  const name = (text: string): number[] => [...leb(text.length), ...Buffer.from(text)];
  const note = [...name('tinytrain-placeholder'), ...Buffer.from('fast test tier: no WASI build (compiler/codegen/build-cache.ts)')];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(5, [1, 0x01, ...leb(pages), ...leb(pages)]),
    ...section(7, [1, ...name('memory'), 0x02, 0]),
    ...section(0, note),
  ]);
}

/** The cache folder of this run, or undefined (cache off). */
function cacheDir(): string | undefined {
  const dir = process.env[BUILD_CACHE_ENV];
  return dir && existsSync(dir) ? dir : undefined;
}

/** The built module for (kind, source, memoryBase): from the cache when on and present, else `build()` (then stored). */
export async function cachedBuild(kind: ModuleKind, source: string, memoryBase: number, build: () => Promise<BuildResult>): Promise<BuildResult> {
  if (!cacheDir()) return build();
  let built: BuildResult | undefined;
  const entry = await cachedBytes(
    buildKey(kind, source, memoryBase),
    async () => encodeBuild((built = await build())),
    (e) => isWasm(e.subarray(4)),
  );
  return built ?? { pages: Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength).readUInt32LE(0), wasm: entry.slice(4) };
}

/**
 * Bytes made by `make()`, stored under `key` (a sha256 of everything `make` reads: the
 * caller's promise); an entry that fails `valid` is a miss. Without the cache, `make()`.
 */
export async function cachedBytes(key: string, make: () => Promise<Uint8Array>, valid: (entry: Uint8Array) => boolean): Promise<Uint8Array> {
  const dir = cacheDir();
  if (!dir) return make();
  const file = join(dir, `${key}.bin`);
  const hit = await entryOrTurn(file, valid);
  if (hit) return hit;
  try {
    const made = await make();
    writeEntry(file, made);
    return made;
  } finally {
    rmSync(lockOf(file), { force: true });
  }
}

/**
 * The entry, or undefined once this process holds the entry's build lock (then it builds).
 * Why a lock: the suites start several compiles of the same model at once (two test workers
 * and their CLI runs), and without one each of them misses and builds the same module, a
 * few seconds of CPU each. A lock whose holder has died (a test kills a compile) is taken
 * over; a wait that outlasts LOCK_WAIT_MS builds anyway rather than fail.
 */
async function entryOrTurn(file: string, valid: (entry: Uint8Array) => boolean): Promise<Uint8Array | undefined> {
  const until = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const hit = readEntry(file);
    if (hit && valid(hit)) return hit;
    if (takeLock(lockOf(file)) || Date.now() > until) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const LOCK_WAIT_MS = 120_000;

const lockOf = (file: string): string => `${file}.lock`;

/** Creates the lock holding this pid; true when this process now holds it. */
function takeLock(lock: string): boolean {
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return true; // a folder we may not write: build without the lock
    const holder = Number(readEntryText(lock));
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) rmSync(lock, { force: true });
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readEntryText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function isWasm(bytes: Uint8Array): boolean {
  return bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
}

/** An entry of cachedBuild: the page count (u32 little-endian), then the module. */
function encodeBuild(r: BuildResult): Uint8Array {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(r.pages, 0);
  return Buffer.concat([head, r.wasm]);
}

function buildKey(kind: ModuleKind, source: string, memoryBase: number): string {
  return createHash('sha256').update(toolchainId()).update(JSON.stringify({ kind, memoryBase })).update(source).digest('hex');
}

let toolchain: string | undefined;
/** sha256 of the build code, the AssemblyScript sources a build copies in, and the tool packages; once per process. */
export function toolchainId(): string {
  if (toolchain) return toolchain;
  const h = createHash('sha256');
  const add = (name: string, path: string): void => {
    h.update(`${name}\0`).update(readFileSync(path)).update('\0');
  };
  for (const path of buildCode()) add(relative(ROOT, path), path);
  for (const sub of ['kernels', 'wasi']) {
    const top = join(ROOT, 'assembly', sub);
    for (const rel of (readdirSync(top, { recursive: true }) as string[]).sort()) if (statSync(join(top, rel)).isFile()) add(join(sub, rel), join(top, rel));
  }
  const require = createRequire(import.meta.url);
  for (const pkg of TOOL_PACKAGES) add(pkg, require.resolve(`${pkg}/package.json`));
  // asc runs its own binaryen, not necessarily the one we optimise with.
  add('asc binaryen', createRequire(require.resolve('assemblyscript/package.json')).resolve('binaryen/package.json'));
  return (toolchain = h.digest('hex'));
}

/**
 * The build code's files in the key: its TypeScript sources, so the tests' in-process
 * builds (which run them) and the CLI runs they start (which run dist/, compiled from
 * them) share entries. Compiled code older than its source (dist/ not rebuilt after an
 * edit) adds itself, so a stale build never shares an entry with the sources.
 */
function buildCode(): string[] {
  const running = BUILD_CODE.map((name) => join(dirname(HERE), name + extname(HERE)));
  if (extname(HERE) === '.ts') return running;
  const sources = BUILD_CODE.map((name) => join(ROOT, 'compiler', 'codegen', `${name}.ts`));
  const fresh = sources.every((src, i) => existsSync(src) && statSync(running[i]!).mtimeMs >= statSync(src).mtimeMs);
  return fresh ? sources : [...sources.filter((src) => existsSync(src)), ...running];
}

function readEntry(file: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(file));
  } catch {
    return undefined;
  }
}

/** Written beside the entry and renamed onto it, so a reader never sees half an entry. */
function writeEntry(file: string, bytes: Uint8Array): void {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(temp, bytes);
    renameSync(temp, file);
  } catch {
    // A folder we may not write (a test running the CLI as another user): no entry.
  }
}
