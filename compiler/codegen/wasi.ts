/**
 * Builds the WASI command variant of a runtime: the generated model plus
 * assembly/wasi/main.ts (the job runner), scalar only so wasm2c can take it too.
 *
 * Linear memory is fixed like the plain builds (initial = maximum pages). Past
 * `memoryBase` it holds only asc's static data: abort/error literals and the job
 * runner's 512-byte I/O scratch (SCRATCH in main.ts). The build fails if that static
 * data (scratch counted, conservatively) does not fit the reserved room; main.ts also
 * checks __heap_base against the memory size before it touches anything.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runAsc, type BinaryenFeature } from './asc.js';
import { cachedBuild, placeholderModule, wasiPlaceholders } from './build-cache.js';
import { loadBinaryen, packageRoot, STATIC_DATA_ROOM, WASM_PAGE, type BuildResult } from './build.js';

/**
 * Room after memoryBase for static data: wasi-shim and error literals (about 4.6 KiB for
 * mnist-cnn) and main.ts's I/O scratch. Equal to build.ts's STATIC_DATA_ROOM so the WASI
 * build gets the same page count as the plain builds (manifest.wasmMemoryBytes).
 */
export const WASI_STATIC_ROOM = STATIC_DATA_ROOM;
/** SCRATCH_BYTES in assembly/wasi/main.ts: a zero segment binaryen may drop, so counted here. */
const WASI_SCRATCH_BYTES = 512;

/** The wasi-shim's asconfig (routes abort/trace to WASI, exports `_start`). */
function wasiShimConfig(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('@assemblyscript/wasi-shim/package.json');
  } catch {
    throw new Error('tinytrain: @assemblyscript/wasi-shim is not installed (run npm install)');
  }
  return join(dirname(pkg), 'asconfig.json');
}

/**
 * What main.ts needs to know of the loss beyond the runtime's own exports: where each
 * sample's K float32 targets go (manifest loss.targets), or count 0 when the loss reads the
 * label. Appended to the model for this build only, so the runtime source (runtime.ts)
 * of every artifact is what it was before losses had targets.
 */
export function wasiTargetExports(targets: { offset: number; count: number } | null): string {
  return `
/** The loss's target buffer (manifest.json loss.targets): K float32 per sample, written before trainStep; count 0 when the loss reads the label. */
export function targetOffset(): usize { return ${targets?.offset ?? 0}; }
export function targetCount(): i32 { return ${targets?.count ?? 0}; }
`;
}

/** The WASI command module for a generated source (from the test runs' build cache when it is on). */
export function buildWasiRuntime(runtime: string, memoryBase: number, targets: { offset: number; count: number } | null): Promise<BuildResult> {
  const source = runtime + wasiTargetExports(targets);
  const base = Math.ceil(memoryBase / 16) * 16;
  const pages = Math.ceil((base + WASI_STATIC_ROOM) / WASM_PAGE);
  if (wasiPlaceholders()) return Promise.resolve({ wasm: placeholderModule(pages), pages });
  return cachedBuild('wasi', source, memoryBase, () => build(source, base, pages));
}

async function build(source: string, base: number, pages: number): Promise<BuildResult> {
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-wasi-'));
  try {
    // Layout main.ts expects: ./model, ./job-format (generated, compiler/formats) and ./kernels beside it.
    const root = packageRoot();
    cpSync(join(root, 'assembly', 'kernels'), join(work, 'kernels'), { recursive: true });
    cpSync(join(root, 'assembly', 'wasi', 'main.ts'), join(work, 'main.ts'));
    cpSync(join(root, 'assembly', 'wasi', 'job-format.ts'), join(work, 'job-format.ts'));
    writeFileSync(join(work, 'model.ts'), source);
    const out = join(work, 'main.wasm');
    // Every path is absolute and baseDir is '/': asc joins the config's `lib` folder
    // onto baseDir, which would turn that absolute path into a relative one under '.'.
    const args = [
      join(work, 'main.ts'),
      '--outFile',
      out,
      '--baseDir',
      '/',
      '--config',
      wasiShimConfig(),
      '--runtime',
      'stub',
      '-O3',
      '--noAssert',
      '--memoryBase',
      String(base),
      '--initialMemory',
      String(pages),
      '--maximumMemory',
      String(pages),
    ];
    await runAsc(args, 'WASI build', { features: WASI_FEATURES, invalid: 'binaryen: the WASI module does not validate (SIMD in a scalar build?)' });
    const wasm = await checkWasiModule(new Uint8Array(readFileSync(out)), base + WASI_STATIC_ROOM);
    return { wasm, pages };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** binaryen 132's data-segment API; its index.d.ts still declares the removed getMemorySegment* names. */
interface DataSegments {
  getNumDataSegments(): number;
  getDataSegmentByIndex(index: number): number;
  getDataSegmentInfo(ref: number): { offset: number | null; data: ArrayBuffer; passive: boolean };
}

/**
 * Exactly the features asc enables by default. Not every feature binaryen has: that also
 * turns on binaryen's newer encodings (compact imports), which wasmtime 50 and Node 20
 * reject, and SIMD, which must fail validation (wasm2c takes no SIMD).
 */
const WASI_FEATURES: readonly BinaryenFeature[] = ['MVP', 'MutableGlobals', 'SignExt', 'NontrappingFPToInt', 'BulkMemory', 'BulkMemoryOpt'];

/**
 * Checks the promises the engines rely on in the optimised module: only WASI imports (no
 * `env.abort`, which a WASI host would not provide) and static data that ends inside the
 * reserved room.
 */
async function checkWasiModule(bytes: Uint8Array, staticLimit: number): Promise<Uint8Array> {
  const binaryen = await loadBinaryen();
  const mod = binaryen.readBinary(bytes);
  try {
    for (let i = 0; i < mod.getNumFunctions(); i++) {
      const f = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
      if (f.module && f.module !== 'wasi_snapshot_preview1') {
        throw new Error(`tinytrain: the WASI module imports ${f.module}.${f.base}; only wasi_snapshot_preview1 is allowed`);
      }
    }
    const data = mod as unknown as DataSegments;
    for (let i = 0; i < data.getNumDataSegments(); i++) {
      const seg = data.getDataSegmentInfo(data.getDataSegmentByIndex(i));
      const end = (seg.offset ?? 0) + seg.data.byteLength + WASI_SCRATCH_BYTES;
      if (end > staticLimit) throw new Error(`tinytrain: WASI static data ends at ${end}, past the reserved ${staticLimit}`);
    }
    return bytes;
  } finally {
    mod.dispose();
  }
}
