/**
 * Builds generated AssemblyScript into WASM: asc (stub runtime, no allocation at run
 * time, memory fixed to the planned size and not growable), then a binaryen pass over
 * the result. One source gives a SIMD and a scalar module.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAsc, type BinaryenFeature } from './asc.js';
import { cachedBuild, placeholderModule, simdPlaceholdersOn } from './build-cache.js';

export const WASM_PAGE = 65536;

/** The package root (where assembly/ lives), from either src or dist. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'assembly'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('tinytrain: cannot find the package root (assembly/ folder)');
    dir = up;
  }
  return dir;
}

export interface BuildRequest {
  source: string;
  /** Bytes of linear memory the program's own regions need (static data goes after). */
  memoryBase: number;
  simd: boolean;
}

export interface BuildResult {
  wasm: Uint8Array;
  pages: number;
}

/** Room for asc's own static data (abort message strings): far more than it uses. */
export const STATIC_DATA_ROOM = 8192;

/** The SIMD or scalar module for a generated source (from the test runs' build cache when it is on). */
export function buildRuntime(req: BuildRequest): Promise<BuildResult> {
  const memoryBase = Math.ceil(req.memoryBase / 16) * 16;
  const pages = Math.ceil((memoryBase + STATIC_DATA_ROOM) / WASM_PAGE);
  if (req.simd && simdPlaceholdersOn()) return Promise.resolve({ wasm: placeholderModule(pages), pages });
  return cachedBuild(req.simd ? 'simd' : 'scalar', req.source, req.memoryBase, () => build(req, memoryBase, pages));
}

async function build(req: BuildRequest, memoryBase: number, pages: number): Promise<BuildResult> {
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-build-'));
  try {
    cpSync(join(packageRoot(), 'assembly', 'kernels'), join(work, 'kernels'), { recursive: true });
    writeFileSync(join(work, 'model.ts'), req.source);
    const out = join(work, 'model.wasm');
    const args = [
      join(work, 'model.ts'),
      '--outFile',
      out,
      '--runtime',
      'stub',
      '-O3',
      '--noAssert',
      '--memoryBase',
      String(memoryBase),
      '--initialMemory',
      String(pages),
      '--maximumMemory',
      String(pages),
      ...(req.simd ? ['--enable', 'simd'] : []),
    ];
    await runAsc(args, req.simd ? 'SIMD build' : 'scalar build', { features: RUNTIME_FEATURES, invalid: 'binaryen: generated module does not validate' });
    return { wasm: new Uint8Array(readFileSync(out)), pages };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * binaryen, loaded on the first build: its 15 MB module costs about 0.35 s of CPU to load,
 * which every CLI command but `compile` (and every cached build in the tests) would pay.
 */
export async function loadBinaryen(): Promise<typeof import('binaryen').default> {
  return (await import('binaryen')).default;
}

/** What asc emits, exactly. Not every feature binaryen has: that also turns on its compact import encoding, which wasmtime and Node 20 reject. */
const RUNTIME_FEATURES: readonly BinaryenFeature[] = ['MVP', 'MutableGlobals', 'SignExt', 'NontrappingFPToInt', 'BulkMemory', 'BulkMemoryOpt', 'SIMD128'];
