/**
 * exportCLibrary(): artifact -> a self-contained C99 library folder for one model.
 *
 *   runtime-scalar.wasm --wasm2c--> tt-runtime.c/.h (memory accesses split: host/firmware/wasm2c.ts)
 *   image.bin ------------------> tt-image.c (frozen part + initial trained region, const)
 *   manifest -------------------> tt-config.h (memory map), tt-model.h/.c (the public constants, input table)
 *   targets/clib/ --------------> tinytrain.h/.c (the API), Makefile, CMakeLists.txt
 *   targets/firmware/ ----------> tt-memory.h, wasm-rt-static.c, ckpt-slots, crc32, flash.h, tt-formats.h
 *   wabt ------------------------> wasm-rt.h (the wasm2c runtime interface, Apache-2.0)
 *
 * The folder is written atomically and may replace only a folder this function wrote
 * (its tinytrain-c.json names every file; host/io/output-paths.ts checks).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asLoaded, type LoadedArtifact } from '../artifact.js';
import { TinytrainError } from '../../compiler/errors.js';
import { SLOT_ALIGN, slotStride } from '../firmware/flash-slots.js';
import { configHeader, imageSource } from '../firmware/generate.js';
import { checkDataSegments, firmwareLayout } from '../firmware/layout.js';
import { packageRoot } from '../../compiler/codegen/build.js';
import { checkWasm2cRuntimeHeaders, firmwareSourceDir, wasm2cIncludeDir } from '../firmware/tools.js';
import { wasm2c } from '../firmware/wasm2c.js';
import { writeDirAtomic } from '../io/atomic.js';
import { C_LIBRARY_FORMAT, C_LIBRARY_MARKER } from '../io/provenance.js';
import { checkRuntimeModule } from '../runtime.js';
import { buildFiles } from './build-files.js';
import { modelHeader, modelSource } from './model-header.js';

/** Copied from targets/firmware/: the firmware's runtime glue, shared with the library. */
const FIRMWARE_FILES = ['tt-memory.h', 'wasm-rt-static.c', 'ckpt-slots.c', 'ckpt-slots.h', 'crc32.c', 'crc32.h', 'flash.h', 'tt-formats.h'];
/** Copied from targets/clib/. */
const LIBRARY_FILES = ['tinytrain.h', 'tinytrain.c', 'README.md'];

/** The C sources a build compiles, in the order the Makefile lists them. */
export const C_LIBRARY_SOURCES = ['tinytrain.c', 'tt-runtime.c', 'tt-image.c', 'tt-model.c', 'wasm-rt-static.c', 'ckpt-slots.c', 'crc32.c'];

export interface CLibraryExport {
  dir: string;
  files: string[];
  /** Bytes of .bss the arena takes ([checkpoint.offset, heapBase)); frozen weights in const data. */
  sramBytes: number;
  frozenBytes: number;
  flashAreaBytes: number;
}

export interface CLibraryOptions {
  /**
   * The Flash erase unit the checkpoint slots are aligned to (each slot a whole number of
   * them): 4 KiB pages by default (nRF52, most SPI NOR); an STM32F4's sectors are 16-128 KiB.
   */
  eraseBytes?: number;
}

export async function exportCLibrary(artifact: LoadedArtifact | string, outDir: string, o: CLibraryOptions = {}): Promise<CLibraryExport> {
  const eraseBytes = o.eraseBytes ?? SLOT_ALIGN;
  if (!Number.isSafeInteger(eraseBytes) || eraseBytes < 256 || eraseBytes > 1 << 24 || (eraseBytes & (eraseBytes - 1)) !== 0) {
    throw new TinytrainError(
      `--flash-erase ${String(eraseBytes)}: the erase unit must be a power of two from 256 B to 16 MiB`,
      "give your Flash part's erase unit (sector or page size), e.g. 4KB or 128KB",
    );
  }
  const a = asLoaded(artifact);
  // The library compiles this module to C: it must be the manifest's (layout id and memory).
  await checkRuntimeModule(a, 'scalar');
  checkWasm2cRuntimeHeaders();
  const m = a.manifest;
  const slotBytes = slotStride(m, eraseBytes);
  const layout = { ...(await firmwareLayout(a)), slotStride: slotBytes };
  const sramBytes = layout.ramEnd - layout.ramBase;
  const frozenBytes = layout.frozenEnd - layout.frozenBase;
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-clib-'));
  const files: Record<string, string | Uint8Array> = {};
  let importsAbort: boolean;
  try {
    const wasmPath = join(work, 'runtime-scalar.wasm');
    writeFileSync(wasmPath, a.wasm('scalar'));
    const gen = await wasm2c(wasmPath, work, 'tt-runtime');
    checkDataSegments(layout, gen.dataSegments);
    importsAbort = gen.importsAbort;
    // wasm2c's output is not warning-clean (unused locals and labels); the pragma keeps a
    // user's -Wall -Wextra build quiet without hiding their own code's warnings.
    files['tt-runtime.c'] = `${WASM2C_PRAGMAS}${readFileSync(gen.source, 'utf8')}`;
    files['tt-runtime.h'] = readFileSync(gen.header, 'utf8');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  files['tt-config.h'] = configHeader(m, layout, importsAbort, false);
  files['tt-image.c'] = imageSource(m, layout);
  files['tt-model.h'] = modelHeader(m, { sramBytes, frozenBytes, slotBytes, eraseBytes });
  files['tt-model.c'] = modelSource(m);
  for (const f of FIRMWARE_FILES) files[f] = readFileSync(join(firmwareSourceDir(), f));
  for (const f of LIBRARY_FILES) files[f] = readFileSync(join(packageRoot(), 'targets', 'clib', f));
  files['wasm-rt.h'] = readFileSync(join(wasm2cIncludeDir(), 'wasm-rt.h'));
  Object.assign(files, buildFiles(C_LIBRARY_SOURCES));
  const names = [...Object.keys(files), C_LIBRARY_MARKER].sort();
  files[C_LIBRARY_MARKER] = `${JSON.stringify({ format: C_LIBRARY_FORMAT, model: m.model, layoutId: m.layoutId, files: names }, null, 2)}\n`;

  await writeDirAtomic(
    outDir,
    (tmp) => {
      for (const [name, data] of Object.entries(files)) writeFileSync(join(tmp, name), data);
    },
    '--out',
    'c-library',
  );
  return { dir: outDir, files: names, sramBytes, frozenBytes, flashAreaBytes: 2 * slotBytes };
}

const WASM2C_PRAGMAS = [
  '/* tinytrain: wasm2c output, edited (linear memory split: tt-memory.h). Its unused locals',
  " * and labels are wasm2c's; the pragmas keep them out of -Wall -Wextra builds. */",
  '#if defined(__GNUC__)',
  '#pragma GCC diagnostic ignored "-Wunused-variable"',
  '#pragma GCC diagnostic ignored "-Wunused-parameter"',
  '#pragma GCC diagnostic ignored "-Wunused-function"',
  '#pragma GCC diagnostic ignored "-Wunused-label"',
  '#pragma GCC diagnostic ignored "-Wunused-but-set-variable"',
  '#pragma GCC diagnostic ignored "-Wunused-value"',
  '#endif',
  '',
].join('\n');
