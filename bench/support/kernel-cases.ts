/**
 * The benchmarked kernel calls: MobileNetV2-w0.35 at 128x128 layer shapes (HWC int8
 * activations, [CO,KH,KW,CI] int8 weights, float32 gradients). Each case allocates and
 * fills its buffers in a module and returns the call to time. Signatures follow
 * assembly/kernels/conv2d.ts (unchanged since the baseline revision, so the same case
 * runs on old and new kernels).
 */
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

function forward(name: string, c: Conv): KernelCase {
  return {
    name,
    shape: shapeOf(c),
    macs: macsOf(c),
    setup(k) {
      const b = buffers(k, c);
      const f = k.fn('conv2dForwardS8');
      const dw = c.depthwise ? 1 : 0;
      return () => f(b.x, c.H, c.W, c.C, 3, b.w, b.bias, b.mult, b.shift, b.y, b.OH, b.OW, c.CO, -5, -128, 127, c.K, c.K, c.stride, c.pad, dw, 0, 0);
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
      const f = k.fn('conv2dBackwardInputF32');
      const dw = c.depthwise ? 1 : 0;
      return () => f(b.gy, b.OH, b.OW, c.CO, b.w, b.wScale, b.gx, c.H, c.W, c.C, c.K, c.K, c.stride, c.pad, dw, 0, 0, 0);
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
      const f = k.fn('depthwiseBackwardInputInPlaceF32');
      // in place: the gradient buffer is overwritten each call; values stay finite (bounded weights)
      const g = k.alloc(c.H * c.W * c.C * 4);
      return () => f(g, c.H, c.W, c.C, b.w, b.wScale, c.K, c.K, c.pad, 0, 0, b.scratch);
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
      const f = k.fn('conv2dWeightGradF32');
      const dw = c.depthwise ? 1 : 0;
      return () => f(b.gy, b.OH, b.OW, c.CO, b.x, c.H, c.W, c.C, 3, 0.02, c.K, c.K, c.stride, c.pad, dw, c.C, b.gw);
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
      const f = k.fn('conv2dWeightUpdateS8');
      const rng = k.alloc(4);
      new Uint32Array(k.memory.buffer, rng, 1)[0] = 0x9e3779b9;
      const dw = c.depthwise ? 1 : 0;
      return () => f(b.gy, b.OH, b.OW, c.CO, b.x, c.H, c.W, c.C, 3, 0.02, b.w, b.wScale, 0, c.K, c.K, c.stride, c.pad, dw, c.C, 0.001, 0, 1, rng);
    },
  };
}

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
