/**
 * Table activations: sigmoid, hardsigmoid, hardswish, silu (x * sigmoid(x), Swish),
 * leakyrelu and clampmin (max(x, min): TFLite MAXIMUM / ONNX Max by a constant, as Keras'
 * `tf.maximum(x, c)` after an activation), layers of their own ({ "op": "sigmoid" },
 * { "op": "leakyrelu", "alpha": 0.1 }, { "op": "clampmin", "min": -0.4 }).
 * One op family: six kinds in the registry (so a model file names the function it means,
 * and the registry's closed set is the closed set of functions), one definition each in
 * compiler/float/table-functions.ts, and one rule for all five here.
 *
 * int8 forward: a 256-entry int8 table per layer, made at compile time from the input's and
 * the output's quantisation (prepare): entry b is f(dequantised b) rounded into the output
 * quantisation, as TFLite does. So the int8 output is the float function of the int8 input
 * within half an output step (test/ops/table-activation.test.ts checks every entry), and
 * scalar and SIMD builds run the same lookup (assembly/kernels/table.ts).
 *
 * Output quantisation: calibrated like any activation's, not fixed to the function's range
 * (TFLite fixes LOGISTIC at scale 1/256, zero point -128): one rule for all five, most of
 * which have no fixed range (silu, hardswish, leakyrelu), and a sigmoid whose inputs span a
 * small range gets a finer step. An imported int8 model keeps its own (TFLite's 1/256, -128).
 *
 * Backward: gx = gy * d[b], a 256-entry float32 table of f' (exact for the float reference
 * at each dequantised byte), indexed by the byte the function is a function of:
 *   - sigmoid from its int8 output, as y (1 - y): the output is what the layer above keeps
 *     for its own weight gradient anyway, where the input (a conv's output) would be kept
 *     for this op alone;
 *   - the others from their int8 input: hardswish and silu are not monotonic (the output
 *     does not tell the input), and hardsigmoid's and leakyrelu's kinks are exact only on
 *     the input's bytes. One byte per element kept until backward, like any saved activation.
 * Derivatives at kinks are PyTorch's (table-functions.ts). Both tables sit in the frozen
 * image (OpDef.constants): 256 B + 1 KB of Flash per layer, no SRAM.
 */
import { z } from 'zod';
import type { EmitContext } from '../codegen/context.js';
import { count } from '../codegen/geometry.js';
import type { StepOf } from '../codegen/steps/types.js';
import { applyFunction, functionBackward, TABLE_FUNCTIONS, type TableFunction } from '../float/table-functions.js';
import type { FnAttrs, Node } from '../ir/graph.js';
import { quantizeValue, type QTensor } from '../quantize/quantize.js';
import { real, userName } from '../validate.js';
import { inputs, layerSchema, plainLayer, type PlainLayer } from './layer-fields.js';
import { TABLE_BACKWARD_KERNEL, TABLE_FORWARD_KERNEL, TABLE_KERNELS } from './table-kernels.js';
import type { LayerFields, LayerSchema, OpDef } from './types.js';

export interface HardsigmoidLayer {
  op: 'hardsigmoid';
  name?: string;
  inputs?: string[];
  /** Slope: y = clamp(alpha * x + beta, 0, 1). Default 1/6 (PyTorch's, Keras 3's; ONNX HardSigmoid's default is 0.2). */
  alpha?: number;
  /** Offset. Default 0.5. */
  beta?: number;
}

export interface ClampminLayer {
  op: 'clampmin';
  name?: string;
  inputs?: string[];
  /** y = max(x, min). */
  min: number;
}

export interface LeakyreluLayer {
  op: 'leakyrelu';
  name?: string;
  inputs?: string[];
  /** The slope below 0: y = x for x > 0, alpha * x otherwise. Default 0.01 (PyTorch's and ONNX's). */
  alpha?: number;
}

const hardsigmoidLayer = layerSchema<HardsigmoidLayer>()(
  z.strictObject({ op: z.literal('hardsigmoid'), name: userName.optional(), inputs: inputs.optional(), alpha: real.optional(), beta: real.optional() }),
);
const clampminLayer = layerSchema<ClampminLayer>()(z.strictObject({ op: z.literal('clampmin'), name: userName.optional(), inputs: inputs.optional(), min: real }));
const leakyreluLayer = layerSchema<LeakyreluLayer>()(z.strictObject({ op: z.literal('leakyrelu'), name: userName.optional(), inputs: inputs.optional(), alpha: real.optional() }));

/** What prepare makes: the two tables, entry b + 128 for byte b. */
export interface ActivationTables {
  forward: Int8Array;
  derivative: Float32Array;
}

/** Which byte each function's derivative is a function of (see the header). */
const DERIVATIVE_FROM: { readonly [K in TableFunction]: 'input' | 'output' } = {
  sigmoid: 'output',
  hardsigmoid: 'input',
  hardswish: 'input',
  silu: 'input',
  leakyrelu: 'input',
  clampmin: 'input',
};

const dequantize = (b: number, q: QTensor): number => (b - q.zp) * q.scale;
const attrsOf = (n: Node): FnAttrs => n.fn!;

/** The int8 forward table and the float32 derivative table of node n's function, from its quantisation. */
export function activationTables(fn: TableFunction, a: FnAttrs, qin: QTensor, qout: QTensor): ActivationTables {
  const { f, df } = TABLE_FUNCTIONS[fn];
  const forward = new Int8Array(256);
  const derivative = new Float32Array(256);
  for (let b = -128; b < 128; b++) {
    forward[b + 128] = quantizeValue(f(dequantize(b, qin), a), qout);
    const y = dequantize(b, qout);
    derivative[b + 128] = DERIVATIVE_FROM[fn] === 'output' ? y * (1 - y) : df(dequantize(b, qin), a);
  }
  return { forward, derivative };
}

function tableOp<L extends LayerFields & { op: TableFunction }>(fn: L['op'] & TableFunction, layer: LayerSchema<L>, attrs: (l: L) => FnAttrs): OpDef<L, ActivationTables> {
  const fromOutput = DERIVATIVE_FROM[fn] === 'output';
  return {
    kind: fn,
    layerOp: fn,
    layer,
    arity: 1,
    shape: (l, [[h, w, c]]) => ({ outShape: [h, w, c], fn: attrs(l) }),
    elementwise: true,
    prepare: (n, [qin], qout) => activationTables(fn, attrsOf(n), qin!, qout),
    constants: (t) => [t.forward, t.derivative],
    float: {
      forward: (n, [x]) => applyFunction(fn, attrsOf(n), x!),
      backward: (n, { x: [x], gy, wantInputGrad }) => ({ inputs: [wantInputGrad ? functionBackward(fn, attrsOf(n), x!, gy) : null] }),
    },
    program: { forward: ['forward'], backward: ['inputGrad'], inputGradReads: fromOutput ? { output: true } : { inputs: [0] } },
    codegen: {
      forward(s: StepOf<'forward'>, c: EmitContext): string {
        const n = s.node;
        const record = { x: c.act(n.inputs[0]!), y: c.act(n.output), count: count(n), table: c.constants(n)[0]! };
        return `${c.callKernel(TABLE_FORWARD_KERNEL, record)}; // ${c.label(n)}`;
      },
      inputGrad(s: StepOf<'inputGrad'>, c: EmitContext): string {
        const n = s.node;
        const at = c.act(fromOutput ? n.output : n.inputs[0]!);
        const record = { gy: c.grad(n.output), at, table: c.constants(n)[1]!, gx: c.grad(s.targets[0]!), count: count(n), accumulate: s.accumulate[0]! };
        return `${c.callKernel(TABLE_BACKWARD_KERNEL, record)}; // ${c.label(n)}`;
      },
    },
    kernels: TABLE_KERNELS,
  };
}

const none: FnAttrs = { alpha: 0, beta: 0 };

export const sigmoid = tableOp<PlainLayer<'sigmoid'>>('sigmoid', plainLayer('sigmoid'), () => none);
export const hardswish = tableOp<PlainLayer<'hardswish'>>('hardswish', plainLayer('hardswish'), () => none);
export const silu = tableOp<PlainLayer<'silu'>>('silu', plainLayer('silu'), () => none);
export const hardsigmoid = tableOp<HardsigmoidLayer>('hardsigmoid', hardsigmoidLayer, (l) => ({ alpha: l.alpha ?? 1 / 6, beta: l.beta ?? 0.5 }));
export const leakyrelu = tableOp<LeakyreluLayer>('leakyrelu', leakyreluLayer, (l) => ({ alpha: l.alpha ?? 0.01, beta: 0 }));
export const clampmin = tableOp<ClampminLayer>('clampmin', clampminLayer, (l) => ({ alpha: l.min, beta: 0 }));
