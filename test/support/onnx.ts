/**
 * Helpers of the ONNX tests: building small .onnx files from TS (protobufjs with the
 * vendored schema), running an imported model on the float32 reference engine with
 * ONNX-layout inputs/outputs, and the Python venv (onnx + onnxruntime) that
 * scripts/setup-onnx.sh installs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forward } from '../../compiler/float/network.js';
import { hwcToNchw, nchwToHwc, type OnnxImport } from '../../compiler/frontend/onnx/index.js';
import { encodeModel } from '../../compiler/frontend/onnx/proto.js';
import { buildGraph } from '../../compiler/ir/graph.js';
import { loadParams } from '../../compiler/ir/params.js';
import type { QuantModel } from '../../compiler/quantize/quantize.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ONNX_PYTHON = join(ROOT, '.cache', 'onnx-venv', 'bin', 'python');

/** The venv's python, or a failure that says how to install it (these tests do not skip). */
export function onnxPython(): string {
  if (!existsSync(ONNX_PYTHON)) {
    throw new Error(`${ONNX_PYTHON} is missing: run \`bash scripts/setup-onnx.sh\` (installs onnx + onnxruntime from PyPI into .cache/onnx-venv)`);
  }
  return ONNX_PYTHON;
}

export function runPython(script: string, args: string[], timeoutMs = 300_000): string {
  return execFileSync(onnxPython(), [script, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
}

// ---------------------------------------------------------------------------------------
// Building models with protobufjs (plain objects in onnx.proto's field names)

export const FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  INT32 = 6,
  INT64 = 7;

export interface TensorObj {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int64_data?: number[];
  int32_data?: number[];
}

export function floatTensor(name: string, dims: number[], data: ArrayLike<number>): TensorObj {
  const f = Float32Array.from(data);
  return { name, dims, data_type: FLOAT, raw_data: new Uint8Array(f.buffer) };
}

export function int64Tensor(name: string, dims: number[], data: number[]): TensorObj {
  return { name, dims, data_type: INT64, int64_data: data };
}

export function intTensor(name: string, dims: number[], data: ArrayLike<number>, dtype: number): TensorObj {
  if (dtype === INT8) return { name, dims, data_type: dtype, raw_data: new Uint8Array(Int8Array.from(data).buffer) };
  if (dtype === UINT8) return { name, dims, data_type: dtype, raw_data: Uint8Array.from(data) };
  return { name, dims, data_type: dtype, int32_data: Array.from(data) };
}

type AttrValue = number | number[] | string | TensorObj | { float: number } | { floats: number[] };

export function node(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name?: string): object {
  const attribute = Object.entries(attrs).map(([k, v]) => {
    if (typeof v === 'number') return { name: k, type: 2, i: v };
    if (typeof v === 'string') return { name: k, type: 3, s: new TextEncoder().encode(v) };
    if (Array.isArray(v)) return { name: k, type: 7, ints: v };
    if ('float' in v) return { name: k, type: 1, f: v.float };
    if ('floats' in v) return { name: k, type: 6, floats: v.floats };
    return { name: k, type: 4, t: v };
  });
  return { op_type: op, input: inputs, output: outputs, attribute, ...(name ? { name } : {}) };
}

export function valueInfo(name: string, dims: (number | string)[], elemType = FLOAT): object {
  return {
    name,
    type: { tensor_type: { elem_type: elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

export interface ModelParts {
  nodes: object[];
  inputs: object[];
  outputs: object[];
  initializers?: TensorObj[];
  opset?: number;
  irVersion?: number;
  name?: string;
}

export function modelObject(p: ModelParts): object {
  return {
    ir_version: p.irVersion ?? 8,
    producer_name: 'tinytrain-test',
    opset_import: [{ domain: '', version: p.opset ?? 13 }],
    graph: { name: p.name ?? 'test', node: p.nodes, input: p.inputs, output: p.outputs, initializer: p.initializers ?? [] },
  };
}

export function buildModel(p: ModelParts): Uint8Array {
  return encodeModel(modelObject(p));
}

// ---------------------------------------------------------------------------------------
// Running an imported model in float32 with ONNX-layout tensors

/** Softmax / LogSoftmax as inference applies the recorded outputActivation. */
export function applyOutputActivation(y: Float32Array, fn: 'softmax' | 'logsoftmax' | undefined): Float32Array {
  if (!fn) return y;
  let max = -Infinity;
  for (const v of y) max = Math.max(max, v);
  let sum = 0;
  for (const v of y) sum += Math.exp(v - max);
  return Float32Array.from(y, (v) => (fn === 'softmax' ? Math.exp(v - max) / sum : v - max - Math.log(sum)));
}

/** One sample of an input of ONNX dims `d` in tinytrain's order: [1, C, H, W] -> H,W,C; [1, C, L] -> L,C (one row); [1, N] as it is. */
export function onnxSampleToOurs(xOnnx: ArrayLike<number>, d: readonly number[]): Float32Array {
  if (d.length === 4) return nchwToHwc(xOnnx, d[1]!, d[2]!, d[3]!);
  if (d.length === 3) return nchwToHwc(xOnnx, d[1]!, 1, d[2]!);
  return Float32Array.from(xOnnx);
}

/** One sample, ONNX layout in ([C,H,W], [C,L] or [N]) and out (the ONNX output's element order). */
export function runImportedFloat(imp: OnnxImport, xOnnx: ArrayLike<number>): Float32Array {
  const g = buildGraph(imp.spec);
  const params = loadParams(g, imp.spec);
  const x = onnxSampleToOurs(xOnnx, imp.input.dims);
  let y = forward(g, params, x).get(g.output)!;
  const o = imp.output.chw;
  if (o) y = hwcToNchw(y, o.c, o.h, o.w);
  return applyOutputActivation(Float32Array.from(y), imp.spec.outputActivation);
}

/** max |a-b| / max(max|b|, floor): the relative error of a whole tensor. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  let num = 0,
    den = floor;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return a.length === b.length ? num / den : Infinity;
}

// ---------------------------------------------------------------------------------------
// How far the int8 runtime may be from a reference, derived from the scales

/**
 * A bound on |int8 output - reference output| (real units), propagated layer by layer.
 *
 * 'same-grid': the reference quantises every tensor with the same (scale, zero point)
 *   and the same integer weights (an ONNX QDQ model on onnxruntime), and is given the same
 *   int8 input. Both accumulate exactly in integers; a requantisation may still round
 *   differently (ties: ours half-up, onnxruntime half-to-even; multiplier precision), by
 *   at most one step of the output scale. An input error e grows to L*e through a layer
 *   whose output channel c has L_c = sum |w_c| (L = max_c L_c; ReLU/ReLU6 are 1-Lipschitz),
 *   to e_a + e_b through an add, stays e through pools, flatten and clamps, and is L*e plus
 *   one output step through a table activation (L its function's max |f'|).
 * 'float': the reference is the float32 model. Add the input's rounding (s_in/2), each
 *   weight's rounding (K * max|x| * s_w/2 for K inputs per output), the bias rounding
 *   (s_in * s_w / 2), and one output step per requantised tensor; |x| is bounded by the
 *   input tensor's quantisation range (the model is calibrated on the inputs compared).
 */
/** max |f'| of each table activation (silu: 1.0998 at x = 2.3994; hardswish: 3/2 at x = 3). */
const TABLE_LIPSCHITZ = {
  sigmoid: () => 0.25,
  hardsigmoid: (alpha: number) => Math.abs(alpha),
  hardswish: () => 1.5,
  silu: () => 1.1,
  leakyrelu: (alpha: number) => Math.max(1, Math.abs(alpha)),
};

export function int8ErrorBound(q: QuantModel, mode: 'same-grid' | 'float'): number {
  const e = new Map<string, number>();
  const inQ = q.tensors.get('input')!;
  e.set('input', mode === 'float' ? inQ.scale / 2 : 0);
  const absMax = (t: string): number => {
    const x = q.tensors.get(t)!;
    return Math.max(Math.abs((-128 - x.zp) * x.scale), Math.abs((127 - x.zp) * x.scale));
  };
  for (const n of q.graph.nodes) {
    const sOut = q.tensors.get(n.output)!.scale;
    const ein = e.get(n.inputs[0]!)!;
    let out: number;
    switch (n.op) {
      case 'conv2d':
      case 'depthwiseConv2d':
      case 'dense': {
        const l = q.layers.get(n.name)!;
        const cout = l.wScale.length;
        const per = l.wq.length / cout;
        let lip = 0,
          wErr = 0;
        const sIn = q.tensors.get(n.inputs[0]!)!.scale;
        for (let c = 0; c < cout; c++) {
          let sum = 0;
          for (let i = 0; i < per; i++) sum += Math.abs(l.wq[c * per + i]!) * l.wScale[c]!;
          lip = Math.max(lip, sum);
          wErr = Math.max(wErr, (per * absMax(n.inputs[0]!) * l.wScale[c]!) / 2 + (sIn * l.wScale[c]!) / 2);
        }
        out = lip * ein + sOut + (mode === 'float' ? wErr : 0);
        break;
      }
      case 'add':
        out = ein + e.get(n.inputs[1]!)! + sOut;
        break;
      case 'avgpool':
      case 'globalavgpool':
        out = ein + sOut;
        break;
      case 'sigmoid':
      case 'hardsigmoid':
      case 'hardswish':
      case 'silu':
      case 'leakyrelu':
        // A table: the function of the int8 input, rounded once to the output grid (half a
        // step; a step for onnxruntime's own rounding on the same grid). An input error e
        // moves it by at most L * e, L the function's Lipschitz constant.
        out = TABLE_LIPSCHITZ[n.op](n.fn!.alpha) * ein + sOut;
        break;
      case 'prelu': {
        // max(1, |alpha|)-Lipschitz, then one requantisation (a step for the reference's own rounding).
        const slopes = n.fn!.slopes!;
        out = slopes.reduce((m, a) => Math.max(m, Math.abs(a)), 1) * ein + sOut;
        break;
      }
      default:
        out = ein; // relu, relu6, flatten keep their input's grid
    }
    e.set(n.output, out);
  }
  return e.get(q.graph.output)!;
}
