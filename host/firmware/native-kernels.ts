/**
 * Native kernels of the Cortex-M firmware (issue 15): C functions linked in place of the
 * wasm2c translation of some kernel-library functions.
 *
 * The WASM module stays the one description of the program. The firmware build rebuilds
 * the artifact's scalar module from its runtime.ts with the chosen kernels declared
 * `@external("tt_native", NAME)` instead of imported from the kernel library (nothing
 * else in the source changes), so wasm2c emits a call to the import
 * `Z_tt_nativeZ_NAME`, which targets/firmware/native-*.c define. A native kernel must
 * give the bytes the WASM kernel gives: integer sums may run in any order (the DSP
 * extension's SMLAD pairs), requantisation and anything in float follow the WASM kernel
 * operation for operation (the firmware is built with -ffp-contract=off).
 *
 * Bounds: a native kernel translates each buffer of its record once, checking the
 * buffer's whole extent against one region (targets/firmware/native-memory.h, on top of
 * tt-memory.h's checks), then runs unchecked inner loops. An out-of-range record traps
 * exactly as a wasm2c access would.
 *
 * $TINYTRAIN_FIRMWARE_NATIVE=0 builds the firmware without them (the wasm2c-only
 * firmware, for before/after measurements and for the bit-identity test).
 */
import { buildRuntime } from '../../compiler/codegen/build.js';
import { asSignature } from '../../compiler/formats/generate-kernels.js';
import { libraryKernels } from '../../compiler/formats/kernel-library.js';
import type { KernelSpec } from '../../compiler/formats/kernel-records.js';
import { TinytrainError } from '../../compiler/errors.js';
import type { LoadedArtifact } from '../artifact.js';
import { staticDataBase } from '../../compiler/manifest.js';

export interface NativeKernel {
  /** The kernel library's export (assembly/kernels/index.ts) it replaces. */
  name: string;
  /** The C file under targets/firmware/ that defines Z_tt_nativeZ_<name>. */
  source: string;
  /** It counts non-finite gradients (update.ts) in the C file's own counter, which the runtime's count must include. */
  countsNonFinite?: boolean;
}

/** The import module wasm2c's names come from: Z_tt_nativeZ_<name>. */
export const NATIVE_MODULE = 'tt_native';

/** Every kernel the firmware has natively, hottest first. The C uses the DSP extension when the core has one (__ARM_FEATURE_DSP: M4/M7/M33), plain C otherwise. */
export const NATIVE_KERNELS: readonly NativeKernel[] = [
  { name: 'conv2dForwardRowsS8', source: 'native-conv2d.c' },
  { name: 'conv2dForwardS8', source: 'native-conv2d.c' },
  { name: 'conv2dWeightUpdateS8', source: 'native-update.c', countsNonFinite: true },
  { name: 'conv2dBackwardInputF32', source: 'native-conv2d-igrad.c' },
  { name: 'depthwiseBackwardInputInPlaceF32', source: 'native-conv2d-igrad.c' },
  { name: 'gapHeadBackwardF32', source: 'native-conv2d-igrad.c' },
  { name: 'saveMaskBits', source: 'native-eltwise.c' },
  { name: 'clampBackwardBitsF32', source: 'native-eltwise.c' },
  { name: 'addS8', source: 'native-eltwise.c' },
  { name: 'biasUpdateAllS32', source: 'native-update.c', countsNonFinite: true },
];

export const NATIVE_ENV = 'TINYTRAIN_FIRMWARE_NATIVE';

/** Whether firmware builds use native kernels: yes unless $TINYTRAIN_FIRMWARE_NATIVE is 0. */
export function nativeKernelsEnabled(): boolean {
  const v = process.env[NATIVE_ENV];
  if (v === undefined || v === '' || v === '1') return true;
  if (v === '0') return false;
  throw new TinytrainError(`${NATIVE_ENV} is '${v}'`, `set it to 0 (wasm2c kernels only) or 1 (native kernels, the default)`);
}

/** The C file with the native kernels' non-finite gradient count (Z_tt_nativeZ_nonFiniteGradientCount, ...). */
const NON_FINITE_SOURCE = 'native-update.c';

/** The C sources the native kernels need (each once). */
export function nativeSources(kernels: readonly NativeKernel[]): string[] {
  // The count's two functions are called whenever the source rewrite declared them, i.e. when any counting kernel was replaced.
  return [...new Set(kernels.length ? [...kernels.map((k) => k.source), NON_FINITE_SOURCE] : [])];
}

/** The kernel library's non-finite gradient count (update.ts), which native update kernels add to. */
const NON_FINITE_FUNCTIONS = ['resetNonFiniteGradients', 'nonFiniteGradientCount'];

const IMPORT_BLOCK = /^import \{([^}]*)\} from '\.\/kernels\/index';$/m;

/**
 * runtime.ts with the kernels in `kernels` that it imports declared external instead;
 * returns the source and the kernels it actually replaced (a model that does not call a
 * kernel gets no import for it).
 */
export function withNativeKernels(source: string, kernels: readonly NativeKernel[]): { source: string; replaced: NativeKernel[] } {
  const m = IMPORT_BLOCK.exec(source);
  if (!m) {
    throw new TinytrainError('runtime.ts has no kernel-library import block where the firmware build expects it', 'recompile the artifact with this version of tinytrain');
  }
  const imported = m[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const replaced = kernels.filter((k) => imported.includes(k.name));
  if (replaced.length === 0) return { source, replaced };
  let kept = imported.filter((n) => !replaced.some((k) => k.name === n));
  const external = (name: string, params: string, result: string, as = name): string => `@external("${NATIVE_MODULE}", "${name}")\ndeclare function ${as}(${params}): ${result};`;
  const declarations = replaced.map((k) => {
    const { params, result } = asSignature(librarySpec(k.name));
    return external(k.name, params, result);
  });
  if (replaced.some((k) => k.countsNonFinite)) {
    // The count the runtime reads is the kernel library's plus the native kernels' (native-update.c).
    for (const f of NON_FINITE_FUNCTIONS) {
      if (!kept.includes(f))
        throw new TinytrainError(`runtime.ts does not import ${f}, which a native update kernel's count needs`, 'recompile the artifact with this version of tinytrain');
    }
    kept = kept.map((n) => (NON_FINITE_FUNCTIONS.includes(n) ? `${n} as lib_${n}` : n));
    declarations.push(
      external('resetNonFiniteGradients', '', 'void', 'native_resetNonFiniteGradients'),
      external('nonFiniteGradientCount', '', 'u32', 'native_nonFiniteGradientCount'),
      'function resetNonFiniteGradients(): void { lib_resetNonFiniteGradients(); native_resetNonFiniteGradients(); }',
      'function nonFiniteGradientCount(): u32 { return lib_nonFiniteGradientCount() + native_nonFiniteGradientCount(); }',
    );
  }
  const block = `// Firmware build: these kernels are the firmware's native C (host/firmware/native-kernels.ts).\n${declarations.join('\n')}\nimport {\n  ${kept.join(', ')},\n} from './kernels/index';`;
  return { source: source.slice(0, m.index) + block + source.slice(m.index + m[0].length), replaced };
}

/** The kernel library's description of a kernel: its parameter list is written there once (compiler/formats/kernel-records.ts). */
function librarySpec(name: string): KernelSpec {
  const spec = libraryKernels().find((k) => k.name === name);
  if (!spec) throw new Error(`tinytrain: native kernel ${name} is not in the kernel library`);
  return spec;
}

export interface FirmwareModule {
  /** The scalar module the firmware compiles with wasm2c. */
  wasm: Uint8Array;
  /** The kernels it imports from tt_native (empty: the artifact's own scalar module). */
  native: NativeKernel[];
}

/**
 * The module for a firmware build: with `native`, the artifact's scalar module rebuilt
 * with the native kernels it calls declared external (same source otherwise, same memory
 * map); without, or when it calls none of them, the artifact's own scalar module.
 */
export async function firmwareModule(a: LoadedArtifact, native: boolean): Promise<FirmwareModule> {
  if (!native) return { wasm: a.wasm('scalar'), native: [] };
  const { source, replaced } = withNativeKernels(a.source(), NATIVE_KERNELS);
  if (replaced.length === 0) return { wasm: a.wasm('scalar'), native: [] };
  const { wasm } = await buildRuntime({ source, memoryBase: staticDataBase(a.manifest), simd: false });
  const used = nativeKernelsCalledBy(wasm);
  if (used.length === 0) return { wasm: a.wasm('scalar'), native: [] };
  return { wasm, native: used };
}

/** The native kernels a module imports (runtime.ts imports the whole library; a module imports only what its program calls). */
export function nativeKernelsCalledBy(wasm: Uint8Array): NativeKernel[] {
  const called = new Set(
    WebAssembly.Module.imports(new WebAssembly.Module(new Uint8Array(wasm)))
      .filter((i) => i.module === NATIVE_MODULE)
      .map((i) => i.name),
  );
  return NATIVE_KERNELS.filter((k) => called.has(k.name));
}
