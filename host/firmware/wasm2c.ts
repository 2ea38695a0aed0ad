/**
 * wasm2c (Debian's wabt 1.0.32) on the scalar runtime, then the one edit that keeps the
 * frozen weights in Flash: every linear-memory access of the generated C is routed
 * through targets/firmware/tt-memory.h, which serves the frozen region from a const
 * array and everything above it from an SRAM array. wasm2c 1.0.32 has no hook for
 * this (its accessors are macros defined unconditionally in the .c file), so we replace
 * that block by an #include, and rename the bulk-memory calls. Each edit checks that the
 * text it expects is there exactly once, so a different wasm2c fails loudly here
 * rather than building a firmware that silently uses wasm2c's own memory.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TinytrainError } from '../../compiler/errors.js';
import { FIRMWARE_SETUP_COMMAND, runToolOk } from './tools.js';

/** The module name given to wasm2c: the C API is Z_tt_instantiate, Z_ttZ_trainStep, ... */
export const MODULE_NAME = 'tt';

export interface GeneratedRuntime {
  /** runtime.c / runtime.h in `dir`. */
  source: string;
  header: string;
  /** Whether the module imports env.abort. */
  importsAbort: boolean;
  /** Whether it imports anything (wasm2c then adds an env-instance argument to instantiate). */
  importsEnv: boolean;
  /** Active data segments: [address, bytes]. */
  dataSegments: Array<[number, number]>;
}

/** `name`: of the generated files, NAME.c and NAME.h (the firmware's runtime.c, the C library's tt-runtime.c). */
export async function wasm2c(wasmPath: string, dir: string, name = 'runtime'): Promise<GeneratedRuntime> {
  const source = join(dir, `${name}.c`);
  const header = join(dir, `${name}.h`);
  await runToolOk('wasm2c', [wasmPath, '-n', MODULE_NAME, '-o', source], 'wasm2c (Debian package wabt)');
  const h = readFileSync(header, 'utf8');
  const c = splitMemory(readFileSync(source, 'utf8'), h);
  writeFileSync(source, c);
  const dataSegments = [...c.matchAll(/LOAD_DATA\(instance->w2c_memory, (\d+)u, \w+, (\d+)\);/g)].map((m) => [Number(m[1]), Number(m[2])] as [number, number]);
  return { source, header, importsAbort: /\bZ_envZ_abort\b/.test(h), importsEnv: /\bZ_tt_instantiate\([^)]*\bstruct Z_env_instance_t\*/.test(h), dataSegments };
}

/** Pure text edit, exported for tests. */
export function splitMemory(c: string, header: string): string {
  // One memory only: tt-memory.h serves exactly one address space.
  const memories = header.match(/wasm_rt_memory_t\s+\w+;/g) ?? [];
  if (memories.length !== 1 || !/wasm_rt_memory_t w2c_memory;/.test(header)) unsupported(`expected one memory named w2c_memory, found ${memories.length}`);

  // wasm2c's accessor block: from the endianness switch to the last DEFINE_STORE.
  const start = '#if WABT_BIG_ENDIAN\n';
  const end = 'DEFINE_STORE(i64_store32, u32, u64)\n';
  const i = once(c, start);
  const j = once(c, end);
  const block = c.slice(i, j + end.length);
  if (j < i || !block.includes('#define LOAD_DATA') || !block.includes('DEFINE_LOAD(i32_load, u32, u32, u32)')) unsupported('the accessor block is not where expected');
  let out = c.slice(0, i) + '/* tinytrain: linear memory split between Flash and SRAM (targets/firmware/tt-memory.h) */\n#include "tt-memory.h"\n' + c.slice(j + end.length);

  // Bulk memory on the one memory: wasm2c's helpers index mem->data directly.
  out = out.replace(/\bmemory_copy\(&instance->w2c_memory, &instance->w2c_memory, /g, 'tt_memory_copy(').replace(/\bmemory_fill\(&instance->w2c_memory, /g, 'tt_memory_fill(');
  // Anything still reaching into the memory's data pointer would bypass the split.
  const leftovers = [...out.matchAll(/\b(memory_init|memory_copy|memory_fill)\(&instance|w2c_memory\.data|w2c_memory->data/g)].map((m) => m[0]);
  if (leftovers.length) unsupported(`unhandled memory operations: ${[...new Set(leftovers)].join(', ')}`);
  return out;
}

function once(text: string, needle: string): number {
  const at = text.indexOf(needle);
  if (at < 0 || text.indexOf(needle, at + 1) >= 0) unsupported(`'${needle.trim()}' does not occur exactly once`);
  return at;
}

function unsupported(what: string): never {
  throw new TinytrainError(
    `the wasm2c output does not have the shape the firmware build expects: ${what}`,
    `the firmware build is written against wabt 1.0.32 (Debian 12); install it with: ${FIRMWARE_SETUP_COMMAND}`,
  );
}
