/**
 * Weights and bias of a conv or fully-connected operator, in tinytrain's layouts, with the
 * model's int8 quantisation kept exactly:
 *
 *  - int8 weights: their per-output-channel scales become the layer's `wScales`
 *    (quantization.weights), so tinytrain re-derives the same integers from the float
 *    weights (value / scale). They must be symmetric (zero point 0), as TFLite's are.
 *  - int32 biases (scale s_in * s_w[c]) become float (int * scale) and keep their integers
 *    in `qBias`; the emitter warns if re-quantising at s_in * s_w would change any.
 *  - float32 / float16 weights are float parameters.
 */
import { LIMITS } from '../../../ir/limits.js';
import type { ActInput } from '../context.js';
import { opError, tensorText, type OpCall } from '../context.js';
import type { Tensor } from '../model.js';
import { TensorType } from '../schema.js';
import { elementCount, floatConst, type ConstQuant } from '../tensors.js';

export interface LayerParams {
  weight: Float32Array;
  bias: Float32Array;
  wScales?: Float64Array;
  qBias?: { ints: Float64Array; scale: Float64Array };
}

/** The parameters read so far stay within LIMITS.maxParameters, checked before the data is read. */
function budget(c: OpCall, count: number): void {
  c.ctx.parameters += count;
  if (c.ctx.parameters > LIMITS.maxParameters) throw opError(c, `the model has more than ${LIMITS.maxParameters} parameters`, 'use a smaller model');
}

/** Per-output-channel scales of int8 weights quantised along `outDim` (TFLite: symmetric, per channel or per tensor). */
function weightScales(c: OpCall, w: Tensor, q: ConstQuant, cout: number, outDim: number): Float64Array {
  if (q.type !== TensorType.INT8) throw opError(c, `weights ${tensorText(w)} are ${q.type === TensorType.UINT8 ? 'UINT8' : 'INT32'}`, 'tinytrain reads int8 (symmetric) weights');
  const bad = q.zeroPoint.find((z) => z !== 0);
  if (bad !== undefined) throw opError(c, `weights ${tensorText(w)} are quantised asymmetrically (zero point ${bad})`, 'tinytrain weights are symmetric int8 (zero point 0)');
  if (q.dim !== null && q.dim !== outDim) {
    throw opError(c, `weights ${tensorText(w)} are quantised along dimension ${q.dim}; tinytrain's weight scales are per output channel (dimension ${outDim})`);
  }
  const saturated = q.ints.reduce((n, v) => n + (v === -128 ? 1 : 0), 0);
  if (saturated > 0) c.ctx.warnings.push(`${c.label}: ${saturated} weight value(s) are -128; tinytrain's symmetric int8 weights stop at -127, so they become -127 (one step)`);
  return q.dim === null ? new Float64Array(cout).fill(q.scale[0]!) : Float64Array.from(q.scale);
}

/**
 * The bias as real values. An int32 bias of an int8 layer is added to the accumulator,
 * which is at s_in * s_w[c]: that product, not the scale the bias tensor declares, is what
 * its integers mean (TFLite's kernels only check that the two agree within 2%). tinytrain
 * re-quantises the float bias at the same product, so the integers come back unchanged.
 */
function readBias(c: OpCall, b: Tensor | null, cout: number, accScale: Float64Array | null): Pick<LayerParams, 'bias' | 'qBias'> {
  if (!b) return { bias: new Float32Array(cout) };
  if (b.shape.length !== 1 || b.shape[0] !== cout) throw opError(c, `bias ${tensorText(b)} has shape [${b.shape}], expected [${cout}]`);
  const f = floatConst(c, b);
  if (!f.q) return { bias: f.data };
  if (f.q.type !== TensorType.INT32) throw opError(c, `bias ${tensorText(b)} is quantised as ${f.q.type === TensorType.INT8 ? 'INT8' : 'UINT8'}`, 'int8 models have int32 biases');
  const declared = f.q.dim === null ? new Float64Array(cout).fill(f.q.scale[0]!) : Float64Array.from(f.q.scale);
  const scale = accScale ?? declared;
  const far = declared.findIndex((s, k) => Math.abs(s - scale[k]!) > 1e-6 * scale[k]!);
  if (far >= 0) c.ctx.warnings.push(`${c.label}: bias ${tensorText(b)} declares the scale ${declared[far]} where input x weight scale is ${scale[far]}; the product is used`);
  return { bias: Float32Array.from(f.q.ints, (v, k) => v * scale[k]!), qBias: { ints: Float64Array.from(f.q.ints), scale } };
}

/**
 * `toLayout` moves the weights from the file's order into tinytrain's [Cout, KH, KW, Cin/g]
 * (or [Cout, Cin]); `outDim` is the dimension of the file's weights that is the output channel.
 */
export function layerParams(c: OpCall, x: ActInput, w: Tensor, b: Tensor | null, cout: number, outDim: number, toLayout: (w: Float32Array) => Float32Array): LayerParams {
  budget(c, elementCount(c, w) + cout);
  const f = floatConst(c, w);
  const wScales = f.q ? weightScales(c, w, f.q, cout, outDim) : undefined;
  const inQ = c.ctx.acts[x.act]!.quant;
  if (wScales && !inQ)
    c.ctx.notes.push(`${c.label}: int8 weights on float activations (dynamic-range quantisation): tinytrain keeps the weight scales and calibrates the activations`);
  const accScale = wScales && inQ ? wScales.map((s) => inQ.scale * s) : null;
  return { weight: toLayout(f.data), ...readBias(c, b, cout, accScale), ...(wScales ? { wScales } : {}) };
}
