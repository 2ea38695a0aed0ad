/**
 * buildFirmware(): artifact -> Cortex-M ELF.
 *
 *   runtime-scalar.wasm --wasm2c--> runtime.c (memory accesses split, wasm2c.ts)
 *   image.bin ------------------> tt-image.c (frozen part + initial trained region, const)
 *   manifest + target ----------> tt-config.h, link.ld
 *   + targets/firmware/*.c ------> arm-none-eabi-gcc -O2 -ffp-contract=off ... -> ELF
 *   gcc's call graphs (.ci) ----> the worst-case stack (stack-bound.ts), linked exactly
 *
 * The ELF is linked twice: first with regions far larger than any part, only to measure
 * it (so an oversized firmware gets our error, with figures, instead of ld's), then with
 * the target's real SRAM/Flash sizes, which ld enforces a second time.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TinytrainError } from '../../compiler/errors.js';
import type { Target } from '../../targets/index.js';
import { asLoaded, type LoadedArtifact } from '../artifact.js';
import { checkRuntimeModule } from '../runtime.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkOutputFile } from '../io/output-paths.js';
import { slotsAreaBytes } from './flash-slots.js';
import { configHeader, imageSource, linkerScript } from './generate.js';
import { checkDataSegments, firmwareLayout } from './layout.js';
import { checkFits, measure, type FirmwareUsage, type SectionSizes } from './sizes.js';
import { analyseStack, stackBytesToLink, type StackFrame } from './stack-bound.js';
import { checkWasm2cRuntimeHeaders, firmwareSourceDir, runToolOk, wasm2cIncludeDir } from './tools.js';
import { firmwareModule, nativeKernelsCalledBy, nativeKernelsEnabled, nativeSources, type FirmwareModule } from './native-kernels.js';
import { wasm2c } from './wasm2c.js';

export interface FirmwareBuild {
  elf: string;
  /** arm-none-eabi-size (Berkeley): text = code + .rodata, data, bss. */
  sizes: SectionSizes;
  sramUsedBytes: number;
  flashUsedBytes: number;
  usage: FirmwareUsage;
  /** Bytes of the runtime's linear memory in SRAM ([checkpoint.offset, heapBase)) and in Flash. */
  ramLinearBytes: number;
  frozenBytes: number;
  /** The kernels linked natively (empty: all from wasm2c). */
  nativeKernels: string[];
  stack: FirmwareStack;
}

/** The stack the firmware links: its static worst case, or the target's reserve when that cannot be bounded. */
export type FirmwareStack = { bytes: number; source: 'static-analysis'; chain: StackFrame[] } | { bytes: number; source: 'target-reserve'; reason: string };

export interface BuildOptions {
  /** Measurement only: drop the memory range checks (never for a shipped firmware). */
  unchecked?: boolean;
  /** Link the native kernels (native-kernels.ts) in place of their wasm2c translation; default: $TINYTRAIN_FIRMWARE_NATIVE, else yes. Not with `instrumented`, which brings its own module. */
  native?: boolean;
  /** Measurement only: another runtime module and extra C (the profiling build, host/firmware/profile-build.ts). */
  instrumented?: InstrumentedRuntime;
}

/** A measurement build's runtime: built from the artifact's runtime.ts with the same memory map. */
export interface InstrumentedRuntime {
  /** Scalar module compiled to C in place of the artifact's runtime-scalar.wasm. */
  wasm: Uint8Array;
  /** More sources from targets/firmware/ (its file names), and -D defines for every unit. */
  sources: string[];
  defines: Record<string, number>;
}

/** Bump when the generated files or flags change in a way the cache key cannot see. */
const BUILD_FORMAT = 'tinytrain-firmware@2';
const FIRMWARE_SOURCES = ['main.c', 'startup.c', 'semihost.c', 'wasm-rt-static.c', 'crc32.c', 'flash-semihost.c', 'ckpt-slots.c', 'out.c', 'cycles.c'];
/** Room for the measuring link: larger than any part, still below the SRAM origin. */
const MEASURE_REGION_BYTES = 256 * 1024 * 1024;

/** GCC flags for the target's core: hard-float ABI on the single-precision FPUs of these parts. */
export function cpuFlags(t: Target): string[] {
  const fpu: Record<string, string> = { 'cortex-m7': 'fpv5-sp-d16', 'cortex-m4': 'fpv4-sp-d16', 'cortex-m33': 'fpv5-sp-d16' };
  if (t.kind !== 'mcu' || !(t.cpu in fpu)) {
    throw new TinytrainError(
      `target ${t.name} (${t.cpu}) is not a Cortex-M target the firmware can be built for`,
      'choose an MCU target: tinytrain targets lists them (stm32f746, nrf52840)',
    );
  }
  return ['-mcpu=' + t.cpu, '-mthumb', ...(t.fpu ? ['-mfloat-abi=hard', '-mfpu=' + fpu[t.cpu]!] : ['-mfloat-abi=soft'])];
}

const COMMON_CFLAGS = [
  '-O2',
  '-std=gnu11',
  // Fused multiply-add would change float32 results: the bytes must equal every other engine's.
  '-ffp-contract=off',
  // Each object's call graph with frame sizes (work/N-name.ci), for the stack bound; it changes no code.
  '-fcallgraph-info=su',
  '-fno-math-errno',
  '-ffunction-sections',
  '-fdata-sections',
  // The generated code asserts wasm_rt_is_initialized(); newlib's assert would pull in stdio.
  '-DNDEBUG',
  '-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0',
];

/**
 * The native kernels (native-*.c) only, not the wasm2c output (whose Flash -O3 would grow):
 * MBV2 99kb on Cortex-M7 205.1 -> 201.7 M instructions/step; -funroll-loops on top gave
 * 202.4 (issue 15).
 */
const NATIVE_CFLAGS = ['-O3'];

/** `artifact`: a verified artifact, or its folder (then read and verified here). */
export async function buildFirmware(artifact: LoadedArtifact | string, target: Target, outElf: string, o: BuildOptions = {}): Promise<FirmwareBuild> {
  // Before wasm2c and gcc (and before asking for them): an ELF may replace only an ELF we built.
  const checkOut = (): void => checkOutputFile(outElf, 'firmware-elf', 'firmware');
  checkOut();
  const a = asLoaded(artifact);
  const flags = cpuFlags(target);
  // The firmware compiles this module to C: it must be the manifest's (layout id and memory).
  await checkRuntimeModule(a, 'scalar');
  checkWasm2cRuntimeHeaders();
  const layout = await firmwareLayout(a);
  const m = a.manifest;
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-firmware-'));
  try {
    // A measurement build's module may call native kernels too (the profiling build uses the shipped firmware's).
    const module: FirmwareModule = o.instrumented
      ? { wasm: o.instrumented.wasm, native: nativeKernelsCalledBy(o.instrumented.wasm) }
      : await firmwareModule(a, o.native ?? nativeKernelsEnabled());
    const wasmPath = join(work, 'runtime-scalar.wasm');
    writeFileSync(wasmPath, module.wasm);
    const gen = await wasm2c(wasmPath, work);
    checkDataSegments(layout, gen.dataSegments);
    writeFileSync(join(work, 'tt-config.h'), configHeader(m, layout, gen.importsAbort, !!o.unchecked, gen.importsEnv, module.native.length > 0));
    writeFileSync(join(work, 'tt-image.c'), imageSource(m, layout));

    const objects = await compileObjects(work, gen.source, flags, [...nativeSources(module.native), ...(o.instrumented?.sources ?? [])], o.instrumented?.defines);
    const stack = firmwareStack(work, target);
    const slots = slotsAreaBytes(m);
    const link = (name: string, sizes: { flash: number; sram: number }): Promise<string> => linkElf(work, name, objects, flags, linkerScript(target, sizes, slots, stack.bytes));

    const ramLinearBytes = layout.ramEnd - layout.ramBase;
    const frozenBytes = layout.frozenEnd - layout.frozenBase;
    const usage = await measure(await link('measure', { flash: MEASURE_REGION_BYTES, sram: MEASURE_REGION_BYTES }), slots, stack.bytes);
    checkFits(usage, target, { ramLinearBytes, frozenBytes, trainedRegionBytes: m.checkpoint.bytes, arenaBytes: m.arena.bytes });
    const elf = await link('firmware', { flash: target.flashBytes, sram: target.sramBytes });
    writeFileAtomic(outElf, readFileSync(elf), { beforeRename: checkOut });
    const nativeKernels = module.native.map((k) => k.name);
    return { elf: outElf, sizes: usage.sizes, sramUsedBytes: usage.sramUsedBytes, flashUsedBytes: usage.flashUsedBytes, usage, ramLinearBytes, frozenBytes, nativeKernels, stack };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The stack to link, from the objects' call graphs in `work`. The manifest's SRAM figure
 * counts the target's reserve, so a bound above it is refused rather than linked.
 */
function firmwareStack(work: string, t: Target): FirmwareStack {
  const graphs = readdirSync(work)
    .filter((f) => f.endsWith('.ci'))
    .sort()
    .map((f) => readFileSync(join(work, f), 'utf8'));
  const a = analyseStack(graphs);
  if (!a.bounded) return { bytes: t.stackReserveBytes, source: 'target-reserve', reason: a.reason };
  const bytes = stackBytesToLink(a.bytes);
  if (bytes > t.stackReserveBytes) {
    throw new TinytrainError(
      `the firmware's worst-case stack is ${bytes} B (${a.chain.map((f) => `${f.fn} ${f.bytes}`).join(' -> ')}), above the ${t.stackReserveBytes} B reserve of ${t.name} that the manifest's SRAM figure counts`,
      'this is a tinytrain bug: report it with the model; the firmware is not written',
    );
  }
  return { bytes, source: 'static-analysis', chain: a.chain };
}

/** Compiles the firmware sources (and `extraSources`: native kernels, a measurement build's C), the generated runtime and image (in `work`) to objects, in parallel. */
async function compileObjects(work: string, runtimeSource: string, flags: string[], extraSources: string[], extraDefines: Record<string, number> = {}): Promise<string[]> {
  const src = firmwareSourceDir();
  const defines = Object.entries(extraDefines).map(([k, v]) => `-D${k}=${v}`);
  const include = ['-I', work, '-I', src, '-I', wasm2cIncludeDir(), ...defines];
  const units = [
    ...[...FIRMWARE_SOURCES, ...extraSources].map((f) => ({ c: join(src, f), extra: ['-Wall', '-Wextra', ...(f.startsWith('native-') ? NATIVE_CFLAGS : [])] })),
    // wasm2c's output is not warning-clean (unused locals); it is not ours to fix.
    { c: runtimeSource, extra: ['-w'] },
    { c: join(work, 'tt-image.c'), extra: ['-Wall'] },
  ];
  return inParallel(
    units.map((u, i) => async () => {
      const obj = join(work, `${i}-${u.c.split('/').pop()!.replace(/\.c$/, '')}.o`);
      await runToolOk('arm-none-eabi-gcc', [...flags, ...COMMON_CFLAGS, ...u.extra, ...include, '-c', u.c, '-o', obj], 'arm-none-eabi-gcc (Debian package gcc-arm-none-eabi)');
      return obj;
    }),
  );
}

/** Links `objects` with linker script `script` (its text) into work/NAME.elf. */
async function linkElf(work: string, name: string, objects: string[], flags: string[], script: string): Promise<string> {
  const scriptPath = join(work, `${name}.ld`);
  writeFileSync(scriptPath, script);
  const elf = join(work, `${name}.elf`);
  await runToolOk(
    'arm-none-eabi-gcc',
    [...flags, '-nostartfiles', '--specs=nano.specs', '--specs=rdimon.specs', '-Wl,--gc-sections', '-T', scriptPath, '-L', firmwareSourceDir(), ...objects, '-lm', '-o', elf],
    'arm-none-eabi-gcc (link)',
  );
  return elf;
}

/**
 * Identity of a firmware build: the runtime, the image, the target and every firmware
 * source. A cached ELF with another key is stale.
 */
export function firmwareBuildKey(a: LoadedArtifact, t: Target, o: BuildOptions = {}): string {
  const h = createHash('sha256')
    .update(BUILD_FORMAT)
    .update(JSON.stringify(t))
    .update(
      JSON.stringify({ ...o, native: o.instrumented ? undefined : (o.native ?? nativeKernelsEnabled()), instrumented: o.instrumented && { ...o.instrumented, wasm: undefined } }),
    )
    .update(o.instrumented?.wasm ?? a.wasm('scalar'))
    // The native build rebuilds the module from it.
    .update(a.source())
    .update(a.manifest.image.sha256)
    .update(a.manifest.layoutId)
    .update(wasm2cIncludeDir());
  // The C sources, and this folder's generators (src or dist, whichever is running).
  for (const dir of [firmwareSourceDir(), dirname(fileURLToPath(import.meta.url))]) {
    for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
  }
  return h.digest('hex');
}

/** Runs the jobs with at most one per core (gcc on a 500 KB image array is the slow one). */
async function inParallel<T>(jobs: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const k = next++;
      out[k] = await jobs[k]!();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(cpus().length, jobs.length)) }, worker));
  return out;
}
