/**
 * An on-disk cache of built modules, for test runs: off unless TINYTRAIN_BUILD_CACHE names
 * an existing folder. The test setup (test/support/global-setup.ts) creates a fresh folder
 * for each run, sets the variable for the run (its worker processes and the CLI processes
 * they start) and deletes the folder at the end, so nothing is shared between runs, and a
 * variable left in a shell names a folder that no longer exists (the cache is then off).
 *
 * Why: the test suites compile the same (model, options) in many files and CLI runs, and
 * the three asc builds of a compile cost about 9 s of CPU.
 *
 * The key is a sha256 of everything a build reads: the module kind, memoryBase, the
 * generated source, the kernel library and WASI runner sources, the installed asc,
 * binaryen and wasi-shim packages, and this folder's build code as it is running (the
 * .ts sources under vitest, the compiled .js under the CLI), so a hit gives exactly
 * the bytes the build would give. Failed builds are not stored; any trouble reading or
 * writing the cache is a miss, never a failed compile.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildResult } from './build.js';

export type ModuleKind = 'simd' | 'scalar' | 'wasi';

/** The build code that turns a source into a module: this folder's files, as they run. */
const BUILD_CODE = ['asc', 'build', 'build-cache', 'wasi'];
/** The packages a build runs, by their package.json (name and version). */
const TOOL_PACKAGES = ['assemblyscript', 'binaryen', '@assemblyscript/wasi-shim'];

export const BUILD_CACHE_ENV = 'TINYTRAIN_BUILD_CACHE';

/** The cache folder of this run, or undefined (cache off). */
function cacheDir(): string | undefined {
  const dir = process.env[BUILD_CACHE_ENV];
  return dir && existsSync(dir) ? dir : undefined;
}

/** The built module for (kind, source, memoryBase): from the cache when on and present, else `build()` (then stored). */
export async function cachedBuild(kind: ModuleKind, source: string, memoryBase: number, build: () => Promise<BuildResult>): Promise<BuildResult> {
  const dir = cacheDir();
  if (!dir) return build();
  const file = join(dir, `${buildKey(kind, source, memoryBase)}.bin`);
  const hit = readEntry(file);
  if (hit) return hit;
  const result = await build();
  writeEntry(file, result);
  return result;
}

function buildKey(kind: ModuleKind, source: string, memoryBase: number): string {
  return createHash('sha256').update(toolchainId()).update(JSON.stringify({ kind, memoryBase })).update(source).digest('hex');
}

let toolchain: string | undefined;
/** sha256 of the build code, the AssemblyScript sources a build copies in, and the tool packages; once per process. */
function toolchainId(): string {
  if (toolchain) return toolchain;
  const h = createHash('sha256');
  const add = (path: string): void => {
    h.update(`${path}\0`).update(readFileSync(path)).update('\0');
  };
  const here = fileURLToPath(import.meta.url);
  for (const name of BUILD_CODE) add(join(dirname(here), name + extname(here)));
  const root = join(dirname(here), '..', '..');
  const assembly = existsSync(join(root, 'assembly')) ? join(root, 'assembly') : join(root, '..', 'assembly'); // src or dist
  for (const sub of ['kernels', 'wasi']) {
    const top = join(assembly, sub);
    for (const rel of (readdirSync(top, { recursive: true }) as string[]).sort()) if (statSync(join(top, rel)).isFile()) add(join(top, rel));
  }
  const require = createRequire(import.meta.url);
  for (const pkg of TOOL_PACKAGES) add(require.resolve(`${pkg}/package.json`));
  // asc runs its own binaryen, not necessarily the one we optimise with.
  add(createRequire(require.resolve('assemblyscript/package.json')).resolve('binaryen/package.json'));
  return (toolchain = h.digest('hex'));
}

/** An entry: the page count (u32 little-endian), then the module. */
function readEntry(file: string): BuildResult | undefined {
  try {
    const bytes = readFileSync(file);
    const wasm = new Uint8Array(bytes.subarray(4));
    if (wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) return undefined;
    return { pages: bytes.readUInt32LE(0), wasm };
  } catch {
    return undefined;
  }
}

/** Written beside the entry and renamed onto it, so a reader never sees half an entry. */
function writeEntry(file: string, r: BuildResult): void {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(r.pages, 0);
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(temp, Buffer.concat([head, r.wasm]));
    renameSync(temp, file);
  } catch {
    // A folder we may not write (a test running the CLI as another user): no entry.
  }
}
