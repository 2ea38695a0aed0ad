/**
 * The benchmarked kernel calls: MobileNetV2-w0.35 at 128x128 layer shapes (HWC int8
 * activations, [CO,KH,KW,CI] int8 weights, float32 gradients). Each case allocates and
 * fills its buffers in a module and returns the call to time. A case is written once as
 * the kernel's parameter record (compiler/formats/kernel-records.ts); a module from a
 * revision before the records (a --baseline of bench/kernels.ts) gets the same values as
 * positional arguments, in the order its kernels took them (LEGACY_ORDER).
 */
import { kernelRecord, kernelSpec, type KernelArgs, type KernelSpec, type KernelRecordValues, type RecordKernelName } from '../../compiler/formats/kernel-records.js';
import type { WasmKernels } from './wasm-kernels.js';

export interface KernelCase {
  name: string;
  shape: string;
  /** Multiply-accumulates per call. */
  macs: number;
  setup(k: WasmKernels): () => unknown;
}

interface Conv {
  H: number;
  W: number;
  C: number;
  CO: number;
  K: number;
  stride: number;
  pad: number;
  depthwise: boolean;
}

const outDim = (n: number, k: number, s: number, p: number): number => Math.floor((n + 2 * p - k) / s) + 1;
const macsOf = (c: Conv): number => outDim(c.H, c.K, c.stride, c.pad) * outDim(c.W, c.K, c.stride, c.pad) * c.CO * c.K * c.K * (c.depthwise ? 1 : c.C);
const shapeOf = (c: Conv): string => `${c.H}x${c.W}x${c.C}->${c.CO}${c.depthwise ? ' dw' : ''} ${c.K}x${c.K}${c.stride > 1 ? ` s${c.stride}` : ''}`;

/** Deterministic filler (an LCG), so every module sees the same data. */
function fill(k: WasmKernels, ptr: number, n: number, kind: 'i8' | 'f32' | 'i32', seed: number): void {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  if (kind === 'i8') {
    const a = new Int8Array(k.memory.buffer, ptr, n);
    for (let i = 0; i < n; i++) a[i] = Math.floor(next() * 255) - 127;
  }
  if (kind === 'i32') {
    const a = new Int32Array(k.memory.buffer, ptr, n);
    for (let i = 0; i < n; i++) a[i] = Math.floor(next() * 8000) - 4000;
  }
  if (kind === 'f32') {
    const a = new Float32Array(k.memory.buffer, ptr, n);
    for (let i = 0; i < n; i++) a[i] = next() < 0.1 ? 0 : next() * 2 - 1;
  }
}

function buffers(k: WasmKernels, c: Conv) {
  const OH = outDim(c.H, c.K, c.stride, c.pad);
  const OW = outDim(c.W, c.K, c.stride, c.pad);
  const nw = c.CO * c.K * c.K * (c.depthwise ? 1 : c.C);
  const x = k.alloc(c.H * c.W * c.C);
  fill(k, x, c.H * c.W * c.C, 'i8', 1);
  const w = k.alloc(nw);
  fill(k, w, nw, 'i8', 2);
  const bias = k.alloc(c.CO * 4);
  fill(k, bias, c.CO, 'i32', 3);
  const mult = k.alloc(c.CO * 4);
  new Int32Array(k.memory.buffer, mult, c.CO).fill(1 << 30);
  const shift = k.alloc(c.CO * 4);
  new Int32Array(k.memory.buffer, shift, c.CO).fill(40);
  const wScale = k.alloc(c.CO * 4);
  new Float32Array(k.memory.buffer, wScale, c.CO).fill(0.01);
  const y = k.alloc(OH * OW * c.CO);
  const gy = k.alloc(OH * OW * c.CO * 4);
  fill(k, gy, OH * OW * c.CO, 'f32', 4);
  const gx = k.alloc(c.H * c.W * c.C * 4);
  const gw = k.alloc(nw * 4);
  const scratch = k.alloc(c.K * c.W * c.C * 4);
  return { OH, OW, x, w, bias, mult, shift, wScale, y, gy, gx, gw, scratch };
}

type Benched = 'conv2dForwardS8' | 'conv2dBackwardInputF32' | 'depthwiseBackwardInputInPlaceF32' | 'conv2dWeightGradF32' | 'conv2dWeightUpdateS8';

/** The benchmarked kernels' parameters before they took records (assembly/kernels/conv2d.ts at ebdff40 .. 135a2b0). */
const LEGACY_ORDER: Record<Benched, readonly string[]> = {
  conv2dForwardS8: ['x', 'H', 'W', 'C', 'zx', 'w', 'bias', 'mult', 'shift', 'y', 'OH', 'OW', 'CO', 'zy', 'lo', 'hi', 'KH', 'KW', 'stride', 'pad', 'depthwise', 'w2', 'split'],
  conv2dBackwardInputF32: ['gy', 'OH', 'OW', 'CO', 'w', 'wScale', 'gx', 'H', 'W', 'C', 'KH', 'KW', 'stride', 'pad', 'depthwise', 'accumulate', 'w2', 'split'],
  depthwiseBackwardInputInPlaceF32: ['g', 'H', 'W', 'C', 'w', 'wScale', 'KH', 'KW', 'pad', 'w2', 'split', 'scratch'],
  conv2dWeightGradF32: ['gy', 'OH', 'OW', 'CO', 'x', 'H', 'W', 'XC', 'zx', 'sx', 'KH', 'KW', 'stride', 'pad', 'depthwise', 'K', 'out'],
  conv2dWeightUpdateS8: ['gy', 'OH', 'OW', 'CO', 'x', 'H', 'W', 'XC', 'zx', 'sx', 'w', 'wScale', 'vel', 'KH', 'KW', 'stride', 'pad', 'depthwise', 'K', 'lr', 'mu', 'qas', 'rng'],
};

/**
 * The timed call of `kernel` in module k: the record written once (kernels never write
 * theirs) and its address passed, or, for a module whose kernel takes more than the
 * record and its run-time arguments, everything positionally in LEGACY_ORDER.
 */
function callOf<K extends Benched>(k: WasmKernels, kernel: K, record: KernelRecordValues<K>, ...args: KernelArgs<K, number>): () => unknown {
  const f = k.fn(kernel);
  const runtime = (kernelSpec(kernel) as KernelSpec).args.map((a) => a.name);
  if (f.length === 1 + runtime.length) {
    const bytes = kernelRecord(kernel as RecordKernelName, record as never);
    const at = k.alloc(bytes.length);
    new Uint8Array(k.memory.buffer, at, bytes.length).set(bytes);
    return () => f(at, ...(args as number[]));
  }
  // the legacy kernels took one stride and one pad (square windows)
  const square = record as { strideH?: number; padH?: number };
  const values: Record<string, unknown> = { stride: square.strideH, pad: square.padH, ...record, ...Object.fromEntries(runtime.map((n, i) => [n, (args as number[])[i]])) };
  const positional = LEGACY_ORDER[kernel].map((n) => Number(values[n] ?? 0));
  return () => f(...positional);
}

function forward(name: string, c: Conv): KernelCase {
  return {
    name,
    shape: shapeOf(c),
    macs: macsOf(c),
    setup(k) {
      const b = buffers(k, c);
      const out = { y: b.y, OH: b.OH, OW: b.OW, CO: c.CO, zy: -5, lo: -128, hi: 127 };
      return callOf(k, 'conv2dForwardS8', { x: b.x, H: c.H, W: c.W, C: c.C, zx: 3, w: b.w, bias: b.bias, mult: b.mult, shift: b.shift, ...out, ...kernelOf(c), w2: 0, split: 0 });
    },
  };
}

function inputGrad(name: string, c: Conv): KernelCase {
  return {
    name,
    shape: shapeOf(c),
    macs: macsOf(c),
    setup(k) {
      const b = buffers(k, c);
      const weights = { w: b.w, wScale: b.wScale, w2: 0, split: 0 };
      return callOf(k, 'conv2dBackwardInputF32', { gy: b.gy, OH: b.OH, OW: b.OW, CO: c.CO, ...weights, gx: b.gx, H: c.H, W: c.W, C: c.C, ...kernelOf(c), accumulate: false });
    },
  };
}

function inputGradInPlace(name: string, c: Conv): KernelCase {
  return {
    name,
    shape: shapeOf(c),
    macs: macsOf(c),
    setup(k) {
      const b = buffers(k, c);
      // In place: the kernel overwrites its gradient, so every call starts from the same one
      // (the copy is timed too, in every module alike). Left to run on its own output the
      // values grow without bound, and what memory held before decides how fast they do.
      const n = c.H * c.W * c.C;
      const g = k.alloc(n * 4);
      fill(k, g, n, 'f32', 5);
      const start = new Float32Array(k.memory.buffer, g, n).slice();
      const weights = { w: b.w, wScale: b.wScale, KH: c.K, KW: c.K, pad: c.pad, w2: 0, split: 0 };
      const call = callOf(k, 'depthwiseBackwardInputInPlaceF32', { g, H: c.H, W: c.W, C: c.C, ...weights, scratch: b.scratch });
      return () => {
        new Float32Array(k.memory.buffer, g, n).set(start);
        return call();
      };
    },
  };
}

function weightGrad(name: string, c: Conv): KernelCase {
  return {
    name,
    shape: shapeOf(c),
    macs: macsOf(c),
    setup(k) {
      const b = buffers(k, c);
      return callOf(k, 'conv2dWeightGradF32', { ...weightGradOf(b, c), ...kernelOf(c), K: c.C, out: b.gw });
    },
  };
}

function weightUpdate(name: string, c: Conv): KernelCase {
  return {
    name,
    shape: shapeOf(c),
    macs: macsOf(c),
    setup(k) {
      const b = buffers(k, c);
      const rng = k.alloc(4);
      new Uint32Array(k.memory.buffer, rng, 1)[0] = 0x9e3779b9;
      return callOf(k, 'conv2dWeightUpdateS8', { ...weightGradOf(b, c), ...kernelOf(c), K: c.C, w: b.w, wScale: b.wScale, vel: 0 }, 0.001, 0, 1, rng);
    },
  };
}

/** The record fields of a case's kernel: KH, KW, strideH, strideW, padH, padW, depthwise (the cases are square). */
const kernelOf = (c: Conv) => ({ KH: c.K, KW: c.K, strideH: c.stride, strideW: c.stride, padH: c.pad, padW: c.pad, depthwise: c.depthwise });

/** The fields both weight-gradient kernels start with. */
const weightGradOf = (b: ReturnType<typeof buffers>, c: Conv) => ({ gy: b.gy, OH: b.OH, OW: b.OW, CO: c.CO, x: b.x, H: c.H, W: c.W, XC: c.C, zx: 3, sx: 0.02 });

const pw = (H: number, C: number, CO: number): Conv => ({ H, W: H, C, CO, K: 1, stride: 1, pad: 0, depthwise: false });
/** A dense 3x3 conv (MobileNetV2 has only the stem; this shape stands for generic convs' backward). */
const conv3 = (H: number, C: number, CO: number): Conv => ({ H, W: H, C, CO, K: 3, stride: 1, pad: 1, depthwise: false });
const dw = (H: number, C: number, stride = 1): Conv => ({ H, W: H, C, CO: C, K: 3, stride, pad: 1, depthwise: true });

export const KERNEL_CASES: KernelCase[] = [
  forward('pointwise fwd', pw(16, 96, 24)),
  forward('pointwise fwd', pw(32, 48, 16)),
  forward('pointwise fwd (expand)', pw(8, 32, 192)),
  forward('depthwise 3x3 fwd', dw(64, 16)),
  forward('depthwise 3x3 fwd', dw(8, 192)),
  forward('depthwise 3x3 s2 fwd', dw(32, 48, 2)),
  forward('3x3 conv fwd (stem)', { H: 128, W: 128, C: 3, CO: 16, K: 3, stride: 2, pad: 1, depthwise: false }),
  forward('FC fwd', pw(1, 1280, 10)),
  inputGrad('pointwise input-grad', pw(16, 96, 24)),
  weightGrad('pointwise weight-grad', pw(16, 96, 24)),
  weightUpdate('pointwise weight-grad+update', pw(16, 96, 24)),
  inputGrad('FC input-grad', pw(1, 1280, 10)),
  weightGrad('FC weight-grad', pw(1, 1280, 10)),
  inputGrad('3x3 conv input-grad', conv3(32, 16, 16)),
  weightGrad('3x3 conv weight-grad', conv3(32, 16, 16)),
  weightUpdate('3x3 conv weight-grad+update', conv3(32, 16, 16)),
  inputGrad('depthwise input-grad', dw(64, 16)),
  inputGradInPlace('depthwise input-grad in place', dw(64, 16)),
  weightGrad('depthwise weight-grad', dw(64, 16)),
  weightUpdate('depthwise weight-grad+update', dw(8, 192)),
];
