/**
 * Test harness for the AssemblyScript kernel library (assembly/testing/kernels.ts).
 *
 * loadKernels({ simd }) compiles the library once per process and variant (SIMD or
 * scalar) with the same options as the `kernels-simd` / `kernels-scalar` targets of
 * asconfig.json, but into a private temp dir (build/ is left alone), instantiates it and
 * wraps it: a bump allocator over linear memory (16-byte aligned, reset()), typed
 * read/write helpers and the typed kernel exports. An `env.abort` from the module is
 * turned into a thrown Error carrying the decoded message and location.
 *
 * TINYTRAIN_KERNELS_ENTRY=<path to an alternative kernels.ts> builds another copy of the
 * library instead (used for mutation testing: copy assembly/ elsewhere, break a kernel,
 * and check that the tests notice).
 *
 * Also holds the small numeric helpers shared by the kernel tests (seeded PRNG, f32).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { libraryKernels, libraryRecords } from '../../compiler/formats/kernel-library.js';
import {
  KERNELS,
  specRecord,
  type KernelName,
  type KernelRecordValues,
  type KernelSpec,
  type KernelSpecOf,
  type RecordKernelName,
  type RecordKernelSpec,
  type SpecRecordValues,
} from '../../compiler/formats/kernel-records.js';
import { runAsc } from '../../compiler/codegen/asc.js';
import { cachedKernelLibrary } from './kernel-library-cache.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULT_ENTRY = join(REPO, 'assembly', 'testing', 'kernels.ts');
/** Same memory as the asconfig targets: 64 pages, fixed (never grows). */
const PAGES = 64;

/** bool arguments and record fields take JS booleans or 0/1. */
type Bool = boolean | number;
type ArgValue<T> = T extends 'bool' ? Bool : number;
type ArgTuple<A extends readonly unknown[]> = { -readonly [I in keyof A]: ArgValue<A[I] extends { type: infer T } ? T : never> };
type ArgValues<K extends KernelName> = ArgTuple<KernelSpecOf<K>['args']>;
type Result<K extends KernelName> = KernelSpecOf<K>['result'] extends 'void' ? void : number;
/** An op's own kernel (OpDef.kernels) as tests call it: its record as an object, then its run-time arguments. */
export type SpecCall<S extends RecordKernelSpec> = (record: SpecRecordValues<S>, ...args: ArgTuple<S['args']>) => S['result'] extends 'void' ? void : number;

/**
 * The kernel library as tests call it, typed from its one description
 * (compiler/formats/kernel-records.ts): a kernel that takes a parameter record gets it as
 * an object, which the harness writes into the module's memory and passes by address,
 * then the kernel's run-time arguments; a runtime service takes its plain arguments.
 */
export type KernelCalls = {
  [K in KernelName]: K extends RecordKernelName ? (record: KernelRecordValues<K>, ...args: ArgValues<K>) => Result<K> : (...args: ArgValues<K>) => Result<K>;
};

/** The kernels (KernelCalls) and the module's memory (pointers are byte offsets into it). */
export interface KernelExports extends KernelCalls {
  memory: WebAssembly.Memory;
}

/**
 * The reference kernel of each shipped kernel (assembly/kernels/reference, exported by
 * the test library only): the export that takes the same record and run-time arguments
 * and must leave the same bytes (test/kernels-reference.test.ts). Names follow XNNPACK's
 * datatype_op__isa convention (docs/anatomy-of-an-op.md, "Kernel names").
 */
export const REFERENCE_OF = {
  conv2dForwardS8: 'qs8_conv2d_fwd__ref',
  conv2dForwardRowsS8: 'qs8_conv2d_fwd_rows__ref',
  conv2dBackwardInputF32: 'f32_conv2d_igrad__ref',
  gapHeadBackwardF32: 'f32_gap_head_bwd__ref',
  conv2dWeightUpdateS8: 'qs8_conv2d_wupdate__ref',
  conv2dWeightGradF32: 'f32_conv2d_wgrad__ref',
  applyWeightUpdateS8: 'qs8_conv2d_wapply__ref',
  biasUpdateAllS32: 'qs32_bias_update__ref',
  biasGradF32: 'f32_bias_grad__ref',
  applyBiasUpdateS32: 'qs32_bias_apply__ref',
  avgpoolForwardS8: 'qs8_avgpool_fwd__ref',
  avgpoolBackwardF32: 'f32_avgpool_bwd__ref',
  addS8: 'qs8_add__ref',
  clampS8: 'qs8_clamp__ref',
  clampBackwardF32: 'f32_clamp_bwd__ref',
  gradInto: 'f32_grad_into__ref',
  saveChannelsS8: 'qs8_save_channels__ref',
  saveMaskBits: 'u1_clamp_mask__ref',
  clampBackwardBitsF32: 'f32_clamp_bwd_mask__ref',
  argmaxS8: 'qs8_argmax__ref',
  softmaxCrossEntropyS8: 'f32_softmax_xent__ref',
  sigmoidBceS8: 'f32_sigmoid_bce__ref',
  meanSquaredErrorS8: 'f32_mse__ref',
  sparse1x1ForwardS8: 'qs8_sparse1x1_fwd__ref',
  sparse1x1ForwardRowS8: 'qs8_sparse1x1_fwd_row__ref',
  sparse1x1BackwardInputF32: 'f32_sparse1x1_igrad__ref',
  sparseGapHeadBackwardF32: 'f32_sparse_gap_head_bwd__ref',
  resetNonFiniteGradients: 'u32_nonfinite_reset__ref',
  nonFiniteGradientCount: 'u32_nonfinite_count__ref',
} as const satisfies Partial<Record<KernelName, string>>;

/** The kernels that have a reference export of their own (depthwiseBackwardInputInPlaceF32 is checked against conv2dBackwardInputF32's). */
export type ReferencedKernel = keyof typeof REFERENCE_OF;
export type ReferenceCalls = Pick<KernelCalls, ReferencedKernel>;

/**
 * The conv records' geometry the way most cases write it: `stride` and `pad` (rows, and
 * columns too unless `strideW` / `padW` say otherwise) expanded to the record's per-axis
 * fields strideH, strideW, padH, padW; a case that gives strideH itself is passed as it is.
 */
function squareShorthand(spec: RecordKernelSpec, values: object): object {
  const v = values as Record<string, unknown>;
  if (!spec.record.fields.some((f) => f.name === 'strideH') || !('stride' in v) || 'strideH' in v) return values;
  const { stride, pad, strideW, padW, ...rest } = v;
  return { ...rest, strideH: stride, strideW: strideW ?? stride, padH: pad ?? 0, padW: padW ?? pad ?? 0 };
}

/** Room for one record below the test heap: every kernel call writes its record there first. */
const RECORD_SLOT = 128;

/**
 * Decodes an AssemblyScript string: UTF-16LE code units at `ptr`, their byte length in
 * the u32 just before `ptr` (the rtSize field of the object header).
 */
export function decodeAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return 'null';
  const buf = memory.buffer;
  if (ptr < 4 || ptr > buf.byteLength) return `<bad string pointer ${ptr}>`;
  const byteLen = new DataView(buf).getUint32(ptr - 4, true);
  if (ptr + byteLen > buf.byteLength) return `<bad string length ${byteLen} at ${ptr}>`;
  const units = new Uint16Array(buf.slice(ptr, ptr + (byteLen & ~1)));
  let s = '';
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.subarray(i, i + 4096));
  return s;
}

/** Thrown when the module calls env.abort (a failed assert or a runtime error in AS code). */
export class KernelAbort extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`kernel abort: ${message} (${file}:${line}:${column})`);
    this.name = 'KernelAbort';
  }
}

function readU32(bytes: Uint8Array, pos: { p: number }): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos.p++]!;
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return result;
    shift += 7;
  }
}

/**
 * End of the module's static data (the highest byte written by an active data segment
 * with a constant offset), so the test allocator never overlaps it.
 */
function staticDataEnd(bytes: Uint8Array): number {
  const pos = { p: 8 };
  let end = 0;
  while (pos.p < bytes.length) {
    const id = bytes[pos.p++]!;
    const size = readU32(bytes, pos);
    const next = pos.p + size;
    if (id === 11) {
      const count = readU32(bytes, pos);
      for (let i = 0; i < count; i++) {
        const kind = readU32(bytes, pos);
        if (kind === 1) {
          // passive: no address
          pos.p += readU32(bytes, pos);
          continue;
        }
        if (kind === 2) readU32(bytes, pos); // explicit memory index
        if (bytes[pos.p++] !== 0x41) throw new Error('unsupported data segment offset expression');
        // i32.const takes a signed LEB128; offsets are small and non-negative here
        const offset = readU32(bytes, pos);
        if (bytes[pos.p++] !== 0x0b) throw new Error('unsupported data segment offset expression');
        const len = readU32(bytes, pos);
        pos.p += len;
        end = Math.max(end, offset + len);
      }
    }
    pos.p = next;
  }
  return end;
}

/**
 * Compiles an AssemblyScript entry file with the kernel targets' options, in one of the
 * compiler's asc children (compiler/codegen/asc.ts), not in this process: a child runs asc
 * on V8's baseline code (the kernel library's SIMD build took 2.8 s of CPU there, 4.2 s
 * here, measured alone), this process never loads asc, and the SIMD and scalar builds run
 * side by side, each in its own child (asc's global state would corrupt two concurrent
 * builds in one process).
 */
export function compileAs(entry: string, simd: boolean): Promise<Uint8Array<ArrayBuffer>> {
  return cachedKernelLibrary(entry, simd, () => compileNow(resolve(entry), simd));
}

async function compileNow(entry: string, simd: boolean): Promise<Uint8Array<ArrayBuffer>> {
  const dir = mkdtempSync(join(tmpdir(), 'tinytrain-kernels-'));
  try {
    const outFile = join(dir, simd ? 'kernels-simd.wasm' : 'kernels-scalar.wasm');
    const args = [
      entry,
      '--outFile',
      outFile,
      '--runtime',
      'stub',
      '-O3',
      '--initialMemory',
      String(PAGES),
      '--maximumMemory',
      String(PAGES),
      ...(simd ? ['--enable', 'simd'] : []),
    ];
    await runAsc(args, `${entry} (${simd ? 'simd' : 'scalar'})`);
    return Uint8Array.from(readFileSync(outFile));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Instantiates a compiled AssemblyScript module with an `env.abort` that throws a
 * KernelAbort carrying the decoded message, file, line and column. Exports are returned
 * as they are (every kernel takes all its arguments: see assertNoOptionalParameters).
 */
export async function instantiateAs(module: WebAssembly.Module): Promise<{ memory: WebAssembly.Memory; exports: Record<string, unknown> }> {
  let memory: WebAssembly.Memory | undefined;
  const imports = {
    env: {
      abort(msg: number, file: number, line: number, column: number): never {
        const m = memory!;
        throw new KernelAbort(decodeAsString(m, msg), decodeAsString(m, file), line, column);
      },
    },
  };
  const instance = await WebAssembly.instantiate(module, imports);
  const exports = instance.exports as Record<string, unknown>;
  if (!(exports.memory instanceof WebAssembly.Memory)) throw new Error('module exports no memory');
  memory = exports.memory;
  return { memory, exports };
}

/**
 * An export with optional parameters is a varargs trampoline that reads the argument
 * count from a global (set through `__setArgumentsLength`); called without it, it traps
 * with a bare "unreachable" even when every argument is passed. The kernels have no
 * optional parameters and the harness passes every argument, so such a module is
 * rejected with a clear message instead.
 */
export function assertNoOptionalParameters(exports: Record<string, unknown>, what: string): void {
  if ('__setArgumentsLength' in exports) {
    throw new Error(`${what} has exports with optional parameters (it exports __setArgumentsLength): kernels must take every argument explicitly`);
  }
}

export type TypedArrayLike = Int8Array | Uint8Array | Int32Array | Float32Array;

export class KernelModule {
  /** Lowest address the allocator hands out (above the static data and the record slot). */
  readonly heapBase: number;
  /** Where a kernel call's record is written (RECORD_SLOT bytes, below heapBase, so reset() keeps it). */
  readonly recordAt: number;
  /** The kernels with typed arguments (see KernelCalls). */
  readonly k: KernelExports;
  /** Each kernel's plain reference (assembly/kernels/reference), typed as the kernel: same record, same arguments. */
  readonly ref: ReferenceCalls;
  private top: number;

  constructor(
    /** The module's exports as they are (a record-taking kernel's first argument is the record's address). */
    readonly exports: Record<string, unknown>,
    readonly simd: boolean,
    dataEnd: number,
  ) {
    this.recordAt = Math.max(1024, align16(dataEnd));
    this.heapBase = this.recordAt + RECORD_SLOT;
    this.top = this.heapBase;
    this.k = this.typedKernels();
    this.ref = this.referenceKernels();
  }

  get memory(): WebAssembly.Memory {
    return this.exports.memory as WebAssembly.Memory;
  }
  get capacity(): number {
    return this.memory.buffer.byteLength;
  }

  /** Each record-taking kernel wrapped by recordCall; the runtime services as they are. */
  private typedKernels(): KernelExports {
    const calls: Record<string, unknown> = { memory: this.memory };
    for (const spec of libraryKernels() as readonly KernelSpec[]) {
      const raw = this.exports[spec.name] as (...args: unknown[]) => unknown;
      calls[spec.name] = spec.record ? this.recordCall(spec as RecordKernelSpec, spec.name, raw) : raw;
    }
    return calls as unknown as KernelExports;
  }

  /** The reference kernels (REFERENCE_OF), typed and called as the kernels they check. */
  private referenceKernels(): ReferenceCalls {
    const calls: Record<string, unknown> = {};
    for (const [kernel, name] of Object.entries(REFERENCE_OF) as Array<[KernelName, string]>) {
      const found = this.exports[name];
      // a library built from another entry (TINYTRAIN_KERNELS_ENTRY) may lack the references: say so when one is called
      const raw =
        typeof found === 'function'
          ? (found as (...args: unknown[]) => unknown)
          : () => {
              throw new Error(`the kernel module lacks the reference export ${name} (is assembly/kernels/reference exported by its entry?)`);
            };
      const spec = KERNELS.find((k) => k.name === kernel)!;
      calls[kernel] = spec.record ? this.recordCall(spec as RecordKernelSpec, name, raw) : raw;
    }
    return calls as ReferenceCalls;
  }

  /**
   * `raw` (the kernel's export, or its reference) with its record written at recordAt,
   * called with that address, then a check that it left the record slot as it was
   * (records are read-only: Flash on a device) and the slot's old bytes put back, so a
   * test that compares all of memory before and after sees only what the call wrote.
   */
  private recordCall(spec: RecordKernelSpec, what: string, raw: (...args: unknown[]) => unknown) {
    return (values: KernelRecordValues<RecordKernelName>, ...args: unknown[]) => {
      const bytes = specRecord(spec, squareShorthand(spec, values) as never);
      const slot = new Uint8Array(this.memory.buffer, this.recordAt, RECORD_SLOT);
      const saved = slot.slice();
      slot.set(bytes);
      const expected = slot.slice();
      let changed = -1;
      let result: unknown;
      try {
        result = raw(this.recordAt, ...args);
      } finally {
        const after = new Uint8Array(this.memory.buffer, this.recordAt, RECORD_SLOT);
        changed = after.findIndex((v, i) => v !== expected[i]);
        after.set(saved);
      }
      if (changed >= 0) throw new Error(`${what} wrote into its parameter record (byte ${changed} of the record slot)`);
      return result;
    };
  }

  /** An op's own kernel (OpDef.kernels), typed from its description (the shared ones are in `k`). */
  kernel<S extends RecordKernelSpec>(spec: S): SpecCall<S> {
    const call = (this.k as unknown as Record<string, SpecCall<S> | undefined>)[spec.name];
    if (!call) throw new Error(`kernel ${spec.name} is not in the library (is its op registered?)`);
    return call;
  }

  /**
   * The plain reference of an op's own kernel (assembly/kernels/reference, exported by the
   * test library under `name`), called as the kernel is: same record, same arguments.
   */
  opReference<S extends RecordKernelSpec>(spec: S, name: string): SpecCall<S> {
    const raw = this.exports[name];
    if (typeof raw !== 'function') throw new Error(`the kernel module lacks the reference export ${name} (is assembly/kernels/reference exported by its entry?)`);
    return this.recordCall(spec, name, raw as (...args: unknown[]) => unknown) as unknown as SpecCall<S>;
  }

  /** Frees everything (contents are left as they are: tests that care fill their buffers). */
  reset(): void {
    this.top = this.heapBase;
  }

  /** A 16-byte aligned block of `bytes` bytes. */
  alloc(bytes: number): number {
    const ptr = this.top;
    const end = align16(ptr + Math.max(bytes, 1));
    if (end > this.capacity) throw new Error(`kernel test heap exhausted: need ${bytes} B at ${ptr}, memory ${this.capacity} B`);
    this.top = end;
    return ptr;
  }

  /** Allocates and fills with a byte value (e.g. 0xff to make stale data visible). */
  allocFilled(bytes: number, byte = 0): number {
    const p = this.alloc(bytes);
    new Uint8Array(this.memory.buffer, p, bytes).fill(byte);
    return p;
  }

  i8(data: ArrayLike<number>): number {
    const p = this.alloc(data.length);
    this.writeI8(p, data);
    return p;
  }
  i32(data: ArrayLike<number>): number {
    const p = this.alloc(data.length * 4);
    this.writeI32(p, data);
    return p;
  }
  f32(data: ArrayLike<number>): number {
    const p = this.alloc(data.length * 4);
    this.writeF32(p, data);
    return p;
  }

  writeI8(ptr: number, data: ArrayLike<number>): void {
    this.check(ptr, data.length);
    new Int8Array(this.memory.buffer, ptr, data.length).set(data);
  }
  writeI32(ptr: number, data: ArrayLike<number>): void {
    this.check(ptr, data.length * 4, 4);
    new Int32Array(this.memory.buffer, ptr, data.length).set(data);
  }
  writeF32(ptr: number, data: ArrayLike<number>): void {
    this.check(ptr, data.length * 4, 4);
    new Float32Array(this.memory.buffer, ptr, data.length).set(data);
  }

  /** Copies out of linear memory. */
  readI8(ptr: number, n: number): Int8Array {
    this.check(ptr, n);
    return new Int8Array(this.memory.buffer.slice(ptr, ptr + n));
  }
  readI32(ptr: number, n: number): Int32Array {
    this.check(ptr, n * 4, 4);
    return new Int32Array(this.memory.buffer.slice(ptr, ptr + n * 4));
  }
  readF32(ptr: number, n: number): Float32Array {
    this.check(ptr, n * 4, 4);
    return new Float32Array(this.memory.buffer.slice(ptr, ptr + n * 4));
  }
  readBytes(ptr: number, n: number): Uint8Array {
    this.check(ptr, n);
    return new Uint8Array(this.memory.buffer.slice(ptr, ptr + n));
  }

  /** A fresh xorshift32 state (4 bytes) seeded through the module's rngSeed. */
  rng(seed: number): number {
    const p = this.alloc(4);
    this.k.rngSeed(p, seed >>> 0);
    return p;
  }

  private check(ptr: number, bytes: number, alignment = 1): void {
    if (!Number.isInteger(ptr) || ptr < 0 || ptr + bytes > this.capacity) throw new Error(`access [${ptr}, ${ptr + bytes}) outside memory`);
    if (ptr % alignment !== 0) throw new Error(`pointer ${ptr} not ${alignment}-byte aligned`);
  }
}

function align16(n: number): number {
  return (n + 15) & ~15;
}

const cache = new Map<boolean, Promise<{ module: WebAssembly.Module; dataEnd: number }>>();

/** Compiles (once per process and variant) and instantiates a fresh kernel module. */
export async function loadKernels(opts: { simd: boolean }): Promise<KernelModule> {
  let built = cache.get(opts.simd);
  if (!built) {
    const entry = process.env.TINYTRAIN_KERNELS_ENTRY ?? DEFAULT_ENTRY;
    built = compileAs(entry, opts.simd).then(async (bytes) => ({ module: await WebAssembly.compile(bytes), dataEnd: staticDataEnd(bytes) }));
    cache.set(opts.simd, built);
  }
  const { module, dataEnd } = await built;
  const { exports } = await instantiateAs(module);
  assertNoOptionalParameters(exports, 'the kernel module');
  for (const { name } of libraryKernels()) {
    if (typeof exports[name] !== 'function') throw new Error(`kernel module lacks export ${name}`);
  }
  return new KernelModule(exports, opts.simd, dataEnd);
}

/** Every record fits the harness's record slot. */
for (const r of libraryRecords()) if (r.bytes > RECORD_SLOT) throw new Error(`record ${r.id} (${r.bytes} B) does not fit the test harness's slot`);
// ---------------------------------------------------------------------------------------
// Shared numeric helpers for the kernel tests.

/** Unit roundoff of float32 (round to nearest). */
export const U32 = 2 ** -24;

/** Higham's gamma_n = n u / (1 - n u): bound on the relative error of n float32 roundings. */
export function gamma(n: number): number {
  return (n * U32) / (1 - n * U32);
}

export const f32 = Math.fround;

/** Seeded PRNG (splitmix32 mixing over a Weyl sequence); deterministic across runs. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform u32. */
  u32(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }
  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** Uniform real in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  int8s(n: number, lo = -128, hi = 127): Int8Array {
    const a = new Int8Array(n);
    for (let i = 0; i < n; i++) a[i] = this.int(lo, hi);
    return a;
  }
  int32s(n: number, lo: number, hi: number): Int32Array {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.int(lo, hi);
    return a;
  }
  /** float32 values uniform in [lo, hi), with a fraction `zeros` of exact zeros. */
  f32s(n: number, lo: number, hi: number, zeros = 0): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.next() < zeros ? 0 : this.uniform(lo, hi);
    return a;
  }
}

// ---------------------------------------------------------------------------------------
// Conv layer fixtures shared by the kernel tests (kernel layouts; see assembly/kernels).

/** A shape-only tensor description (TF layouts). */
export interface TensorData {
  data: ArrayLike<number>;
  shape: number[];
}

export interface ConvCase {
  H: number;
  W: number;
  C: number;
  CO: number;
  KH: number;
  KW: number;
  /** Rows' stride and leading pad, and the columns' unless strideW / padW are given. */
  stride: number;
  pad: number;
  strideW?: number;
  padW?: number;
  depthwise: boolean;
}

export const outDim = (n: number, k: number, stride: number, pad: number): number => Math.floor((n + 2 * pad - k) / stride) + 1;

export const convLabel = (c: ConvCase): string =>
  `${c.depthwise ? 'dw' : 'conv'} ${c.H}x${c.W}x${c.C}->${c.CO} k${c.KH}x${c.KW} s${c.stride}${c.strideW !== undefined && c.strideW !== c.stride ? `x${c.strideW}` : ''} p${c.pad}${c.padW !== undefined && c.padW !== c.pad ? `x${c.padW}` : ''}`;

export type Layer = ReturnType<typeof makeLayer>;

/**
 * Quantised layer data: int8 input with zero point and scale, int8 weights with
 * per-channel scales, int32 bias, an upstream float gradient (~10% exact zeros: the
 * backward kernels skip them, that path must be right too) and the dequantised tensors.
 */
export function makeLayer(rng: Rng, c: ConvCase) {
  const OH = outDim(c.H, c.KH, c.stride, c.pad);
  const OW = outDim(c.W, c.KW, c.strideW ?? c.stride, c.padW ?? c.pad);
  const cin = c.depthwise ? 1 : c.C;
  const xq = rng.int8s(c.H * c.W * c.C);
  const zx = rng.int(-30, 30);
  const sx = f32(rng.uniform(0.004, 0.06));
  const wq = rng.int8s(c.CO * c.KH * c.KW * cin, -127, 127);
  const wScale = Float32Array.from({ length: c.CO }, () => rng.uniform(0.002, 0.03));
  const bq = rng.int32s(c.CO, -4000, 4000);
  const gy = rng.f32s(OH * OW * c.CO, -1, 1, 0.1);
  const xReal = Float32Array.from(xq, (v) => (v - zx) * sx);
  const wReal = Float32Array.from(wq, (v, i) => v * wScale[Math.floor(i / (c.KH * c.KW * cin))]!);
  const bReal = Float32Array.from(bq, (v, i) => v * f32(wScale[i]! * sx));
  return { OH, OW, cin, xq, zx, sx, wq, wScale, bq, gy, xReal, wReal, bReal };
}

/** Kernel weight layout [CO,KH,KW,CI] (or [C,KH,KW,1]) to TF's [KH,KW,CI,CO] (or [KH,KW,C,1]). */
export function toTfFilter(c: ConvCase, w: ArrayLike<number>): TensorData {
  const cin = c.depthwise ? 1 : c.C;
  const out = new Float32Array(w.length);
  for (let co = 0; co < c.CO; co++)
    for (let kh = 0; kh < c.KH; kh++)
      for (let kw = 0; kw < c.KW; kw++)
        for (let ci = 0; ci < cin; ci++) {
          const src = ((co * c.KH + kh) * c.KW + kw) * cin + ci;
          const dst = c.depthwise ? (kh * c.KW + kw) * c.C + co : ((kh * c.KW + kw) * c.C + ci) * c.CO + co;
          out[dst] = w[src]!;
        }
  return { data: out, shape: c.depthwise ? [c.KH, c.KW, c.C, 1] : [c.KH, c.KW, c.C, c.CO] };
}

/** Inverse of toTfFilter. */
export function fromTfFilter(c: ConvCase, w: ArrayLike<number>): Float32Array {
  const cin = c.depthwise ? 1 : c.C;
  const out = new Float32Array(w.length);
  for (let co = 0; co < c.CO; co++)
    for (let kh = 0; kh < c.KH; kh++)
      for (let kw = 0; kw < c.KW; kw++)
        for (let ci = 0; ci < cin; ci++) {
          const dst = ((co * c.KH + kh) * c.KW + kw) * cin + ci;
          const src = c.depthwise ? (kh * c.KW + kw) * c.C + co : ((kh * c.KW + kw) * c.C + ci) * c.CO + co;
          out[dst] = w[src]!;
        }
  return out;
}

/**
 * Random conv shapes (output at least 1x1): kernels 1/2/3/5 (some non-square), stride 1/2, pad 0-2;
 * `perAxis`: half of them with the columns' stride (1-3) and leading pad drawn on their own.
 */
export function randomConvCases(seed: number, count: number, depthwise: boolean, maxC = 19, perAxis = false): ConvCase[] {
  const rng = new Rng(seed);
  const out: ConvCase[] = [];
  while (out.length < count) {
    const KH = rng.pick([1, 2, 3, 5]);
    const KW = rng.next() < 0.6 ? KH : rng.pick([1, 3, 5]);
    const stride = rng.pick([1, 2]);
    const pad = rng.pick([0, 1, 2]);
    const H = rng.int(1, 11);
    const W = rng.int(1, 11);
    const C = rng.int(1, maxC);
    const CO = depthwise ? C : rng.int(1, 12);
    const own = perAxis && rng.next() < 0.5;
    const strideW = own ? rng.pick([1, 2, 3]) : stride;
    const padW = own ? rng.pick([0, 1, 2]) : pad;
    if (outDim(H, KH, stride, pad) < 1 || outDim(W, KW, strideW, padW) < 1) continue;
    out.push({ H, W, C, CO, KH, KW, stride, pad, depthwise, ...(own && { strideW, padW }) });
  }
  return out;
}

/**
 * Input channels [from, to) of a weight tensor in the kernel layout: [CO,KH,KW,C] ->
 * [CO,KH,KW,to-from]; depthwise [C,KH,KW,1] -> [to-from,KH,KW,1] (channels from..to-1).
 * With from = 0 this is the trained slice of a sparse update, with to = C the frozen rest.
 */
export function channelSlice(c: ConvCase, w: ArrayLike<number>, from: number, to: number): number[] {
  const taps = c.KH * c.KW;
  const out: number[] = [];
  if (c.depthwise) {
    for (let i = from * taps; i < to * taps; i++) out.push(w[i]!);
    return out;
  }
  for (let t = 0; t < c.CO * taps; t++) for (let ci = from; ci < to; ci++) out.push(w[t * c.C + ci]!);
  return out;
}
