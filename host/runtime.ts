/**
 * Drives one compiled runtime on the embedded engine (Node's V8) through the raw
 * WebAssembly API: load the image, write inputs at the manifest's offsets, call the
 * numeric exports, read and write checkpoints.
 */
import { join } from 'node:path';
import { TinytrainError } from '../compiler/errors.js';
import { manifestLabelLimit, manifestLoss, type Manifest } from '../compiler/manifest.js';
import { checkTargetValues } from './data/targets.js';
import type { LoadedArtifact } from './artifact.js';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';

interface RuntimeExports {
  memory: WebAssembly.Memory;
  init(seed: number): void;
  predict(): number;
  trainStep(label: number, lr: number): number;
  lastPrediction(): number;
  stepsDone(): number;
  stepsSkipped(): number;
  stepsNonFinite(): number;
  heapBase(): number;
  layoutId(): bigint;
}

const EXPORTS = ['init', 'predict', 'trainStep', 'lastPrediction', 'stepsDone', 'stepsSkipped', 'stepsNonFinite', 'heapBase', 'layoutId'] as const;

export class Runtime {
  private readonly inputLut: Int8Array;

  private constructor(
    readonly manifest: Manifest,
    private readonly ex: RuntimeExports,
    private readonly image: Uint8Array,
  ) {
    this.inputLut = inputLut(manifest);
  }

  /**
   * `instrumented`: another build of the same runtime source with extra `env` imports (the
   * profiling build of host/profile/); the plain modules import env.abort only.
   */
  static async load(a: LoadedArtifact, variant?: 'simd' | 'scalar', instrumented?: { wasm: Uint8Array; env: Record<string, (...args: number[]) => void> }): Promise<Runtime> {
    const memoryRef: { mem?: WebAssembly.Memory } = {};
    const imports = {
      env: {
        ...instrumented?.env,
        abort(msg: number, file: number, line: number, col: number): never {
          const text = (p: number): string => (memoryRef.mem ? readAsString(memoryRef.mem, p) : '?');
          throw new TinytrainError(`runtime aborted: ${text(msg)} at ${text(file)}:${line}:${col}`, 'this is a tinytrain bug; please report it with the artifact');
        },
      },
    };
    const ex = await instantiateChecked(instrumented?.wasm ?? a.wasm(variant), imports, a, variant);
    memoryRef.mem = ex.memory;
    const rt = new Runtime(a.manifest, ex, a.image);
    rt.reset(0);
    return rt;
  }

  /** Restore the compiled initial parameters and reset optimizer/runtime state. */
  reset(seed: number): void {
    this.bytes().set(this.image, this.manifest.image.offset);
    this.ex.init(seed >>> 0);
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.ex.memory.buffer);
  }
  get memoryBytes(): number {
    return this.ex.memory.buffer.byteLength;
  }

  setInputPixels(pixels: Uint8Array): void {
    const port = this.manifest.inputs[0]!;
    const n = port.shape.reduce((a, b) => a * b, 1);
    if (pixels.length !== n) {
      throw new TinytrainError(`input has ${pixels.length} values, the model takes ${n} (shape ${port.shape.join('x')})`, "use a dataset with the model's input shape");
    }
    const mem = new Int8Array(this.ex.memory.buffer, port.offset, n);
    for (let i = 0; i < n; i++) mem[i] = this.inputLut[pixels[i]!]!;
  }

  /** The sample's K float32 targets, for an artifact whose loss trains on target values (manifest loss.targets); before trainStep. */
  setTargets(values: ArrayLike<number>): void {
    const t = manifestLoss(this.manifest).targets;
    if (!t) throw new TinytrainError(`this artifact's loss (${manifestLoss(this.manifest).kind}) trains on labels, not target values`, 'pass the label to trainStep');
    checkTargetValues(this.manifest, values, 'targets');
    new Float32Array(this.ex.memory.buffer, t.offset, t.count).set(values);
  }

  /** One training step; `label` is the class (ignored by a loss on target values: setTargets first). */
  trainStep(label: number, lr: number): number {
    const limit = manifestLabelLimit(this.manifest);
    if (limit > 0 && (!Number.isInteger(label) || label < 0 || label >= limit)) {
      const range = manifestLoss(this.manifest).kind === 'bce' ? 'the bce labels 0 and 1' : `the model's ${this.manifest.classes} classes`;
      throw new TinytrainError(`label ${label} is outside ${range}`, 'check that the dataset matches the model');
    }
    // try/catch inline, not through a closure: this runs once per training step.
    try {
      return this.ex.trainStep(label, lr);
    } catch (e) {
      throw asUserError(this.manifest, e);
    }
  }

  predict(): number {
    try {
      return this.ex.predict();
    } catch (e) {
      throw asUserError(this.manifest, e);
    }
  }
  lastPrediction(): number {
    return this.ex.lastPrediction();
  }
  stepsDone(): number {
    return this.ex.stepsDone() >>> 0;
  }
  stepsSkipped(): number {
    return this.ex.stepsSkipped() >>> 0;
  }
  /** Steps in which some parameter gradient was non-finite and that parameter was left unchanged. */
  stepsNonFinite(): number {
    return this.ex.stepsNonFinite() >>> 0;
  }
  heapBase(): number {
    return this.ex.heapBase() >>> 0;
  }

  logits(): Float32Array {
    const port = this.manifest.outputs[0]!;
    const q = new Int8Array(this.ex.memory.buffer, port.offset, this.manifest.classes);
    return Float32Array.from(q, (v) => (v - port.zeroPoint) * port.scale);
  }

  /**
   * Inference outputs: the logits with the model's output activation applied (softmax or
   * log-softmax for imported models that end in one, the sigmoid a bce model was compiled without; the raw logits otherwise).
   */
  outputs(): Float32Array {
    const z = this.logits();
    const act = this.manifest.outputs[0]!.activation ?? 'none';
    if (act === 'none') return z;
    if (act === 'sigmoid') return z.map((v) => 1 / (1 + Math.exp(-v)));
    const max = Math.max(...z);
    const sum = z.reduce((a, v) => a + Math.exp(v - max), 0);
    return act === 'softmax' ? z.map((v) => Math.exp(v - max) / sum) : z.map((v) => v - max - Math.log(sum));
  }

  /** The checkpoint region (trained params + optimizer + runtime state) as a file. */
  exportCheckpoint(): Uint8Array {
    const c = this.manifest.checkpoint;
    return encodeCheckpoint(this.manifest, this.bytes().slice(c.offset, c.offset + c.bytes));
  }

  importCheckpoint(file: Uint8Array, source = 'checkpoint'): void {
    const payload = decodeCheckpoint(this.manifest, file, source);
    this.bytes().set(payload, this.manifest.checkpoint.offset);
  }
}

/**
 * Checks that an artifact's plain module (simd or scalar) is the one its manifest
 * describes, without keeping it: for hosts that run it elsewhere (the firmware build).
 */
export async function checkRuntimeModule(a: LoadedArtifact, variant: 'simd' | 'scalar'): Promise<void> {
  await instantiateChecked(a.wasm(variant), { env: { abort: () => undefined } }, a, variant);
}

/**
 * Instantiates a runtime module and checks it is the one the manifest describes: the
 * exports a runtime has, the fixed memory size, and its own layout id. The bytes were
 * verified against the manifest's sha256 already; this also catches a manifest whose
 * hashes were edited to fit a module from another artifact.
 */
async function instantiateChecked(wasm: Uint8Array, imports: WebAssembly.Imports, a: LoadedArtifact, variant?: 'simd' | 'scalar'): Promise<RuntimeExports> {
  const f = a.manifest.files;
  const where = join(a.dir, variant === 'simd' ? f.wasmSimd : variant === 'scalar' ? f.wasmScalar : f.wasm);
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>), imports);
  } catch (e) {
    throw new TinytrainError(`${where} does not load: ${(e as Error).message}`, 'recompile the artifact');
  }
  const ex = instance.exports as Record<string, unknown>;
  const missing = EXPORTS.filter((k) => typeof ex[k] !== 'function');
  if (missing.length || !(ex.memory instanceof WebAssembly.Memory)) {
    throw new TinytrainError(
      `${where} lacks the exports ${[...missing, ...(ex.memory instanceof WebAssembly.Memory ? [] : ['memory'])].join(', ')}`,
      'recompile the artifact with this version of tinytrain',
    );
  }
  const r = ex as unknown as RuntimeExports;
  if (r.memory.buffer.byteLength !== a.manifest.wasmMemoryBytes) {
    throw new TinytrainError(`${where} has ${r.memory.buffer.byteLength} B of memory, manifest says ${a.manifest.wasmMemoryBytes} B`, 'recompile the artifact');
  }
  const id = BigInt.asUintN(64, BigInt(r.layoutId())).toString(16).padStart(16, '0');
  if (id !== a.manifest.layoutId) {
    throw new TinytrainError(
      `${where} was generated for layout ${id}, manifest.json says ${a.manifest.layoutId}: the files belong to different artifacts`,
      'recompile the artifact',
    );
  }
  return r;
}

/**
 * A verified runtime never traps (the plan is checked against the fixed memory at
 * compile time), so a trap means a module altered in a way its hashes were updated to
 * hide, or a tinytrain bug. Either way the user gets one clear message, not a stack.
 */
function asUserError(m: Manifest, e: unknown): unknown {
  if (!(e instanceof WebAssembly.RuntimeError)) return e;
  return new TinytrainError(
    `the runtime of model '${m.model}' trapped: ${e.message}`,
    'recompile the artifact; if a freshly compiled artifact traps, it is a tinytrain bug: please report it with the model',
  );
}

/** u8 pixel -> int8 input, through the model's real input range (every engine uses this table). */
export function inputLut(m: Manifest): Int8Array {
  const port = m.inputs[0]!;
  const [lo, hi] = port.range ?? [0, 1];
  const lut = new Int8Array(256);
  for (let p = 0; p < 256; p++) {
    const real = lo + (p * (hi - lo)) / 255;
    lut[p] = Math.max(-128, Math.min(127, Math.round(real / port.scale) + port.zeroPoint));
  }
  return lut;
}

/** AssemblyScript strings: UTF-16 with the byte length stored just before the pointer. */
function readAsString(mem: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return '';
  const len = new Uint32Array(mem.buffer, ptr - 4, 1)[0]! >>> 1;
  return String.fromCharCode(...new Uint16Array(mem.buffer, ptr, len));
}
