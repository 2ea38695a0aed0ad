/**
 * The kernel test library (assembly/testing/kernels.ts) through the run's build cache
 * (compiler/codegen/build-cache.ts): every kernels-* file builds the same library, SIMD
 * and scalar, in its own process (kernel-module.ts), about 4 s of CPU a build.
 *
 * Only entries inside this checkout's assembly/ are cached, keyed by all of assembly/,
 * kernel-module.ts (which holds the asc options) and the build toolchain; another entry
 * (TINYTRAIN_KERNELS_ENTRY, a mutated copy for mutation testing) is always built.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedBytes, isWasm, toolchainId } from '../../compiler/codegen/build-cache.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ASSEMBLY = resolve(HERE, '..', '..', 'assembly');
const BUILDER = join(HERE, 'kernel-module.ts');

let sources: string | undefined;
/** sha256 of every file under assembly/ and of the builder; once per process. */
function sourcesId(): string {
  if (sources) return sources;
  const h = createHash('sha256');
  for (const rel of (readdirSync(ASSEMBLY, { recursive: true }) as string[]).sort()) {
    const path = join(ASSEMBLY, rel);
    if (statSync(path).isFile()) h.update(`${rel}\0`).update(readFileSync(path)).update('\0');
  }
  h.update(readFileSync(BUILDER));
  return (sources = h.digest('hex'));
}

export async function cachedKernelLibrary(entry: string, simd: boolean, build: () => Promise<Uint8Array<ArrayBuffer>>): Promise<Uint8Array<ArrayBuffer>> {
  const rel = relative(ASSEMBLY, resolve(entry));
  if (rel.startsWith('..')) return build();
  const key = createHash('sha256')
    .update(toolchainId())
    .update(sourcesId())
    .update(JSON.stringify({ library: rel, simd }))
    .digest('hex');
  return (await cachedBytes(key, build, isWasm)) as Uint8Array<ArrayBuffer>;
}
