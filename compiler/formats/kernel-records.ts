/**
 * The kernel library's calling convention, described once. Every kernel a program step
 * calls takes a pointer to a parameter record (shapes, addresses, quantisation: what is
 * fixed when the runtime is compiled) and at most a few run-time arguments (a streamed
 * row, the learning rate, the label). The compiler lays the records out in the frozen
 * image (Flash on an MCU); the runtime passes their addresses.
 *
 * From this table come:
 *  - the AssemblyScript record classes the kernels read (assembly/kernels/records.ts) and
 *    the library's export list (assembly/kernels/index.ts), both generated and committed;
 *  - the C structs of the records (targets/firmware/tt-kernel-records.h), for native
 *    kernels a firmware may supply;
 *  - the emitter's calls (compiler/codegen/context.ts `call`: a typed object in, the
 *    record written into the image, `kernel(address, ...args)` out) and the runtime's
 *    import list (KERNEL_IMPORTS; a runtime whose model has an op with kernels of its own,
 *    OpDef.kernels, imports those too: kernel-library.ts);
 *  - the test harness's typed kernels (test/support/kernel-module.ts: tests pass an object,
 *    the harness writes the record into wasm memory and passes its address).
 *
 * Field names are the kernels' own variable names (H, W, C, OH, zx, wScale...); the docs
 * say what each holds. A view is the leading fields several records share, so that a
 * helper used by several kernels can take any of them (a record "extends" its view).
 */
import { defineFormat, writeRecord, type FieldSpec, type Format, type RecordValues } from './format.js';

export type RecordFormat<S extends readonly FieldSpec[] = readonly FieldSpec[]> = Format<S[number]['name']> & {
  readonly specs: S;
  /** The view whose fields this record starts with. */
  readonly view?: RecordFormat;
  /** True for a view: shared leading fields, not a kernel's whole record. */
  readonly isView: boolean;
};

function view<const S extends readonly FieldSpec[]>(id: string, doc: string, specs: S): RecordFormat<S> {
  return { ...defineFormat(id, doc, specs), isView: true };
}

/** A record; `base`: the view it starts with (its fields come first, at the same offsets). Op modules declare their own kernels' records with it. */
export function record<const S extends readonly FieldSpec[]>(id: string, doc: string, specs: S, base?: RecordFormat): RecordFormat<S> {
  if (base && !base.specs.every((f, i) => specs[i]?.name === f.name && specs[i]?.type === f.type)) {
    throw new Error(`record ${id} must start with the fields of ${base.id}`);
  }
  return { ...defineFormat(id, doc, specs), view: base, isView: false };
}

// ---------------------------------------------------------------------------------------
// Fields several records share

const f = <const N extends string, const T extends FieldSpec['type']>(name: N, type: T, doc: string) => ({ name, type, doc }) as const;
/** A record field (for the records op modules declare with their kernels). */
export const field = f;

/** Activation geometry (HWC). */
const inShape = (doc: string) => [f('H', 'i32', `${doc} rows`), f('W', 'i32', `${doc} columns`), f('C', 'i32', `${doc} channels`)] as const;
const outShape = [f('OH', 'i32', 'output rows'), f('OW', 'i32', 'output columns'), f('CO', 'i32', 'output channels')] as const;
const kernelShape = [
  f('KH', 'i32', 'kernel rows (dense layers: 1)'),
  f('KW', 'i32', 'kernel columns (dense layers: 1)'),
  f('strideH', 'i32', 'stride between output rows'),
  f('strideW', 'i32', 'stride between output columns'),
  f('padH', 'i32', 'rows of zero padding above (the leading pad; the trailing pads only size the output)'),
  f('padW', 'i32', 'columns of zero padding on the left'),
  f('depthwise', 'bool', 'depthwise conv (weights [C, KH, KW, 1]) rather than dense ([CO, KH, KW, C])'),
] as const;
/** Weights split into a trained slice and a frozen rest (compiler/memory/layout.ts splitWeights). */
const splitWeights = [
  f('w2', 'ptr', 'int8 weights of input channels [split, C) (the frozen rest; depthwise: channels [split, C)), 0 when split = 0'),
  f('split', 'i32', 'input channels whose weights are at w (the trained slice); 0: all weights at w'),
] as const;
const requantTables = [
  f('bias', 'ptr', 'int32 bias [CO]'),
  f('mult', 'ptr', 'int32 requantisation multipliers [CO] (compiler/quantize/fixedpoint.ts)'),
  f('shift', 'ptr', 'int32 requantisation shifts [CO]'),
] as const;
const clampOut = [f('zy', 'i32', 'output zero point'), f('lo', 'i32', 'output clamp, low (the activation)'), f('hi', 'i32', 'output clamp, high')] as const;
const rings = [
  f('inRing', 'i32', 'rows the input buffer holds (row r in slot r % inRing); 0: the whole tensor'),
  f('outRing', 'i32', 'rows the output buffer holds; 0: the whole tensor'),
] as const;
const accumulate = f('accumulate', 'bool', 'add into the destination gradient instead of overwriting it');

/** Per-output-channel weight scales: what the input-gradient helpers of a dense 1x1 read (conv2d-bwd-simd.ts). */
export const WEIGHT_SCALES = view('WEIGHT_SCALES', 'the weight scales of a layer (the leading fields of the input-gradient records)', [
  f('wScale', 'ptr', 'f32 weight scales [CO]'),
  f('CO', 'i32', 'output channels'),
] as const);

/** A pruned frozen 1x1 layer's non-zero list (compiler/pruning/nzlist.ts) and its scales: what sparse.ts's pixel helpers read. */
export const SPARSE_WEIGHTS = view('SPARSE_WEIGHTS', 'the non-zero list of a pruned 1x1 layer (the leading fields of the sparse backward records)', [
  f('nz', 'ptr', 'the non-zero list (read-only)'),
  f('format', 'i32', 'its format: bit 0 = channel pairs, bit 1 = u8 indices (nzFormat)'),
  f('wScale', 'ptr', 'f32 weight scales [CO]'),
  f('CO', 'i32', 'output channels'),
  f('CI', 'i32', 'input channels'),
] as const);

// ---------------------------------------------------------------------------------------
// The records, one per kernel family

export const CONV_FORWARD = record('CONV_FORWARD', 'int8 conv2d / dense forward with requantisation (conv2d.ts)', [
  f('x', 'ptr', 'int8 input, HWC'),
  ...inShape('input'),
  f('zx', 'i32', 'input zero point'),
  f('w', 'ptr', 'int8 weights (the trained slice when split > 0)'),
  ...requantTables,
  f('y', 'ptr', 'int8 output, HWC'),
  ...outShape,
  ...clampOut,
  ...kernelShape,
  ...splitWeights,
  ...rings,
] as const);

export const CONV_INPUT_GRAD = record(
  'CONV_INPUT_GRAD',
  'float32 input gradient of a conv2d / dense layer (conv2d.ts)',
  [
    ...WEIGHT_SCALES.specs,
    f('gy', 'ptr', 'f32 output gradient, HWC'),
    f('OH', 'i32', 'output rows'),
    f('OW', 'i32', 'output columns'),
    f('w', 'ptr', 'int8 weights as in the forward pass (the trained slice when split > 0)'),
    f('gx', 'ptr', 'f32 input gradient, HWC'),
    ...inShape('input'),
    ...kernelShape,
    accumulate,
    ...splitWeights,
  ] as const,
  WEIGHT_SCALES,
);

export const DEPTHWISE_IN_PLACE = record('DEPTHWISE_IN_PLACE', 'input gradient of a stride-1 same-size depthwise conv, in place (conv2d.ts)', [
  f('g', 'ptr', 'f32 gradient, HWC: the output gradient on entry, the input gradient on exit'),
  ...inShape('tensor'),
  f('w', 'ptr', 'int8 weights [C, KH, KW, 1] (the trained slice when split > 0)'),
  f('wScale', 'ptr', 'f32 weight scales [C]'),
  f('KH', 'i32', 'kernel rows'),
  f('KW', 'i32', 'kernel columns'),
  f('pad', 'i32', 'zero padding'),
  ...splitWeights,
  f('scratch', 'ptr', 'room for KH - pad rows of the gradient'),
] as const);

export const GAP_HEAD = record(
  'GAP_HEAD',
  'fused backward of a frozen 1x1 head and the global average pool after it (conv2d.ts)',
  [
    ...WEIGHT_SCALES.specs,
    f('gpool', 'ptr', 'f32 gradient of the pool output [CO]'),
    f('P', 'i32', 'positions the pool averages'),
    f('bits', 'ptr', "the head's clamp mask, 1 bit per output element; 0: no clamp"),
    f('w', 'ptr', 'int8 head weights [CO, CI] (the trained slice when split > 0)'),
    f('CI', 'i32', "the head's input channels"),
    ...splitWeights,
    f('gx', 'ptr', "f32 gradient of the head's input [P, CI]; 0: not needed"),
    accumulate,
    f('bgrad', 'ptr', "f32 gradient of the head's bias [CO]; 0: not needed"),
    f('scratch', 'ptr', 'room for CO floats'),
  ] as const,
  WEIGHT_SCALES,
);

export const WEIGHT_GRAD = record('WEIGHT_GRAD', 'weight gradient of a conv2d / dense layer, stored (out) or applied as the fused update (w, vel) (conv2d.ts)', [
  f('gy', 'ptr', 'f32 output gradient, HWC'),
  ...outShape,
  f('x', 'ptr', 'int8 input as saved for backward, HWC with XC channels'),
  f('H', 'i32', 'input rows'),
  f('W', 'i32', 'input columns'),
  f('XC', 'i32', 'channels per position of x (>= K)'),
  f('zx', 'i32', 'input zero point'),
  f('sx', 'f32', 'input scale (the gradient is in real units)'),
  ...kernelShape,
  f('K', 'i32', 'trained input channels (depthwise: channels): the slice [CO, KH, KW, K] ([K, KH, KW, 1])'),
  f('w', 'ptr', 'int8 trained weight slice (fused update)'),
  f('wScale', 'ptr', 'f32 weight scales [CO] (fused update)'),
  f('vel', 'ptr', 'f32 momentum of the slice; 0: no momentum (fused update)'),
  f('out', 'ptr', 'f32 gradient of the slice (gradient only); 0: the fused update'),
] as const);

const sliceUpdate = [
  f('w', 'ptr', 'int8 trained weight slice [CO, KH, KW, K] (depthwise [K, KH, KW, 1])'),
  f('wScale', 'ptr', 'f32 weight scales [CO]'),
  f('vel', 'ptr', 'f32 momentum of the slice; 0: no momentum'),
] as const;

export const APPLY_WEIGHT = record('APPLY_WEIGHT', 'a stored weight gradient applied to the trained slice (conv2d.ts)', [
  f('grad', 'ptr', 'f32 weight gradient [CO, KH, KW, GK] (depthwise [CO, KH, KW, 1])'),
  f('GK', 'i32', 'input channels the gradient was computed for'),
  f('CO', 'i32', 'output channels'),
  f('KH', 'i32', 'kernel rows'),
  f('KW', 'i32', 'kernel columns'),
  f('depthwise', 'bool', 'depthwise weights'),
  ...sliceUpdate,
  f('K', 'i32', 'trained input channels (depthwise: channels)'),
] as const);

const biasParams = [
  f('bias', 'ptr', 'int32 bias [CO] (trained)'),
  f('wScale', 'ptr', 'f32 weight scales [CO] (the bias scale is wScale * sx)'),
  f('sx', 'f32', 'input scale'),
  f('vel', 'ptr', 'f32 momentum [CO]; 0: no momentum'),
] as const;

export const BIAS_UPDATE = record('BIAS_UPDATE', 'fused bias gradient and update (conv2d.ts)', [
  f('gy', 'ptr', 'f32 output gradient [P, CO]'),
  f('P', 'i32', 'output positions'),
  f('CO', 'i32', 'output channels'),
  ...biasParams,
] as const);

export const BIAS_GRAD = record('BIAS_GRAD', 'bias gradient: the output gradient summed over positions (conv2d.ts)', [
  f('gy', 'ptr', 'f32 output gradient [P, CO]'),
  f('P', 'i32', 'output positions'),
  f('CO', 'i32', 'output channels'),
  f('out', 'ptr', 'f32 bias gradient [CO]'),
] as const);

export const APPLY_BIAS = record('APPLY_BIAS', 'a stored bias gradient applied (conv2d.ts)', [
  f('grad', 'ptr', 'f32 bias gradient [CO]'),
  f('CO', 'i32', 'output channels'),
  ...biasParams,
] as const);

export const AVGPOOL_FORWARD = record('AVGPOOL_FORWARD', 'int8 average pool, padded or not (global: one window over the input) (pool.ts)', [
  f('x', 'ptr', 'int8 input, HWC'),
  ...inShape('input'),
  f('zx', 'i32', 'input zero point'),
  f('y', 'ptr', 'int8 output, HWC'),
  f('OH', 'i32', 'output rows'),
  f('OW', 'i32', 'output columns'),
  f('zy', 'i32', 'output zero point'),
  f('PH', 'i32', 'window rows'),
  f('PW', 'i32', 'window columns'),
  f('strideH', 'i32', 'stride between output rows'),
  f('strideW', 'i32', 'stride between output columns'),
  f('m', 'i32', 'requantisation multiplier (the window mean and the rescale in one)'),
  f('n', 'i32', 'requantisation shift'),
  f('padH', 'i32', 'rows of padding above'),
  f('padW', 'i32', 'columns of padding on the left'),
  f('counts', 'ptr', 'int32 (m, n) of a sum of k inputs at pair k - 1: a window divides by the inputs it holds; 0: every window by PH * PW with m, n'),
  f(
    'mean',
    'i32',
    "0: rescale by m, n (or counts); input and output share one quantisation: TFLite's integer mean, the raw sum divided by PH * PW (1) or by the inputs the window holds (2), rounded half away from zero",
  ),
] as const);

export const AVGPOOL_BACKWARD = record('AVGPOOL_BACKWARD', 'float32 input gradient of an average pool (pool.ts)', [
  f('gy', 'ptr', 'f32 output gradient, HWC'),
  f('OH', 'i32', 'output rows'),
  f('OW', 'i32', 'output columns'),
  f('gx', 'ptr', 'f32 input gradient, HWC'),
  ...inShape('input'),
  f('PH', 'i32', 'window rows'),
  f('PW', 'i32', 'window columns'),
  f('strideH', 'i32', 'stride between output rows'),
  f('strideW', 'i32', 'stride between output columns'),
  accumulate,
  f('padH', 'i32', 'rows of padding above'),
  f('padW', 'i32', 'columns of padding on the left'),
  f('byValidTaps', 'bool', 'a window divides its gradient by the inputs it holds, not by PH * PW'),
] as const);

export const ADD = record('ADD', "int8 residual add as TFLite's: y = rq(rq((a - za) 2^20, ma, na) + rq((b - zb) 2^20, mb, nb), my, ny) (eltwise.ts)", [
  f('a', 'ptr', 'int8 first input'),
  f('za', 'i32', 'its zero point'),
  f('ma', 'i32', 'its multiplier onto the common grid'),
  f('na', 'i32', 'its shift'),
  f('b', 'ptr', 'int8 second input'),
  f('zb', 'i32', 'its zero point'),
  f('mb', 'i32', 'its multiplier onto the common grid'),
  f('nb', 'i32', 'its shift'),
  f('my', 'i32', "the sum's multiplier onto the output"),
  f('ny', 'i32', 'its shift'),
  f('y', 'ptr', 'int8 output'),
  ...clampOut,
  f('count', 'i32', 'elements'),
] as const);

const clampRange = [f('lo', 'i32', 'clamp, low'), f('hi', 'i32', 'clamp, high')] as const;

export const CLAMP = record('CLAMP', 'int8 ReLU / ReLU6 as a clamp, same scale in and out (eltwise.ts)', [
  f('x', 'ptr', 'int8 input'),
  f('y', 'ptr', 'int8 output'),
  f('count', 'i32', 'elements'),
  ...clampRange,
] as const);

export const CLAMP_BACKWARD = record('CLAMP_BACKWARD', 'clamp backward from the clamped output, in place: the gradient passes where lo < y < hi (eltwise.ts)', [
  f('g', 'ptr', 'f32 gradient'),
  f('y', 'ptr', 'int8 clamped output'),
  f('count', 'i32', 'elements'),
  ...clampRange,
] as const);

export const SAVE_MASK = record('SAVE_MASK', 'the clamp mask for backward, 1 bit per element (eltwise.ts)', [
  f('y', 'ptr', 'int8 clamped output'),
  f('count', 'i32', 'elements'),
  ...clampRange,
  f('bits', 'ptr', 'the mask, ceil(count / 8) bytes'),
] as const);

export const CLAMP_BACKWARD_BITS = record('CLAMP_BACKWARD_BITS', 'clamp backward from a bit mask, in place (eltwise.ts)', [
  f('g', 'ptr', 'f32 gradient'),
  f('bits', 'ptr', 'the mask'),
  f('count', 'i32', 'elements'),
] as const);

export const SAVE_CHANNELS = record('SAVE_CHANNELS', 'the first K of C channels at each of P positions: the input a sparse weight gradient needs (eltwise.ts)', [
  f('x', 'ptr', 'int8 input [P, C]'),
  f('P', 'i32', 'positions'),
  f('C', 'i32', 'channels'),
  f('K', 'i32', 'channels kept'),
  f('out', 'ptr', 'int8 copy [P, K]'),
] as const);

export const GRAD_INTO = record('GRAD_INTO', 'a gradient passed on: dst = src, or dst += src (eltwise.ts)', [
  f('src', 'ptr', 'f32 source'),
  f('dst', 'ptr', 'f32 destination'),
  f('count', 'i32', 'elements'),
  accumulate,
] as const);

export const LOSS = record('LOSS', 'softmax cross-entropy on int8 logits, and its gradient (loss.ts)', [
  f('logits', 'ptr', 'int8 logits'),
  f('count', 'i32', 'classes'),
  f('scale', 'f32', 'logit scale'),
  f('zp', 'i32', 'logit zero point'),
  f('grad', 'ptr', 'f32 gradient of the logits [count]'),
] as const);

export const TARGET_LOSS = record('TARGET_LOSS', 'a loss against K real targets on int8 outputs (sigmoid BCE, MSE), and its gradient (loss.ts)', [
  f('logits', 'ptr', 'int8 outputs (the logits, for BCE)'),
  f('count', 'i32', 'outputs K'),
  f('scale', 'f32', 'output scale'),
  f('zp', 'i32', 'output zero point'),
  f('grad', 'ptr', 'f32 gradient of the outputs [count]'),
  f('target', 'ptr', 'f32 targets [count] (BCE: 0 or 1)'),
] as const);

export const SPARSE_FORWARD = record('SPARSE_FORWARD', 'int8 forward of a pruned frozen 1x1 layer from its non-zero list (sparse.ts)', [
  f('x', 'ptr', 'int8 input [P, CI] (a streamed row: the start of the input buffer)'),
  f('P', 'i32', 'pixels of a whole-tensor call'),
  f('W', 'i32', 'pixels of a row (streamed calls)'),
  f('CI', 'i32', 'input channels'),
  f('zx', 'i32', 'input zero point'),
  f('nz', 'ptr', 'the non-zero list (read-only)'),
  f('format', 'i32', 'its format (nzFormat)'),
  ...requantTables,
  f('y', 'ptr', 'int8 output [P, CO] (a streamed row: the start of the output buffer)'),
  f('CO', 'i32', 'output channels'),
  ...clampOut,
  f('scratch', 'ptr', 'SIMD tile scratch (prunedScratchBytes(CI)); 0: pixel by pixel'),
  ...rings,
] as const);

export const SPARSE_INPUT_GRAD = record(
  'SPARSE_INPUT_GRAD',
  'float32 input gradient of a pruned frozen 1x1 layer, bit-identical to the dense kernel (sparse.ts)',
  [
    ...SPARSE_WEIGHTS.specs,
    f('gy', 'ptr', 'f32 output gradient [P, CO]'),
    f('P', 'i32', 'pixels'),
    f('gx', 'ptr', 'f32 input gradient [P, CI]'),
    accumulate,
    f('scratch', 'ptr', 'SIMD tile scratch; 0: pixel by pixel'),
  ] as const,
  SPARSE_WEIGHTS,
);

export const SPARSE_GAP_HEAD = record(
  'SPARSE_GAP_HEAD',
  'GAP_HEAD for a pruned head: its input gradient from the non-zero list (sparse.ts)',
  [
    ...SPARSE_WEIGHTS.specs,
    f('gpool', 'ptr', 'f32 gradient of the pool output [CO]'),
    f('P', 'i32', 'positions the pool averages'),
    f('bits', 'ptr', "the head's clamp mask; 0: no clamp"),
    f('gx', 'ptr', "f32 gradient of the head's input [P, CI]; 0: not needed"),
    accumulate,
    f('bgrad', 'ptr', "f32 gradient of the head's bias [CO]; 0: not needed"),
    f('scratch', 'ptr', 'room for CO floats'),
  ] as const,
  SPARSE_WEIGHTS,
);

/**
 * Every view and record of the library's shared kernels, views first (the generated files
 * declare them in this order). An op's own kernels bring their records with them
 * (OpDef.kernels); kernel-library.ts puts the two together.
 */
export const KERNEL_RECORDS: readonly RecordFormat[] = [
  WEIGHT_SCALES,
  SPARSE_WEIGHTS,
  CONV_FORWARD,
  CONV_INPUT_GRAD,
  DEPTHWISE_IN_PLACE,
  GAP_HEAD,
  WEIGHT_GRAD,
  APPLY_WEIGHT,
  BIAS_UPDATE,
  BIAS_GRAD,
  APPLY_BIAS,
  AVGPOOL_FORWARD,
  AVGPOOL_BACKWARD,
  ADD,
  CLAMP,
  CLAMP_BACKWARD,
  SAVE_MASK,
  CLAMP_BACKWARD_BITS,
  SAVE_CHANNELS,
  GRAD_INTO,
  LOSS,
  TARGET_LOSS,
  SPARSE_FORWARD,
  SPARSE_INPUT_GRAD,
  SPARSE_GAP_HEAD,
];

// ---------------------------------------------------------------------------------------
// The kernels

export type ArgType = 'i32' | 'u32' | 'f32' | 'bool' | 'ptr';

export interface ArgSpec {
  readonly name: string;
  readonly type: ArgType;
  readonly doc: string;
}

export interface KernelSpec {
  /** The export's name: datatype and op (conv2dForwardS8: int8 in and out). */
  readonly name: string;
  /** The file in assembly/kernels/ that defines it. */
  readonly file: string;
  readonly doc: string;
  /** Its parameter record (absent: a runtime service that takes plain arguments). */
  readonly record?: RecordFormat;
  /** Fields of the record this entry point does not take from its caller: written as 0. */
  readonly omit?: readonly string[];
  /** Run-time arguments after the record pointer (or all arguments, without a record). */
  readonly args: readonly ArgSpec[];
  readonly result: 'void' | ArgType;
  /**
   * Imported by a runtime only when its program calls it, as an op's own kernels are (the
   * losses other than softmax-ce: compiler/loss.ts), so no other runtime's source changes.
   */
  readonly onDemand?: boolean;
}

const a = <const N extends string, const T extends ArgType>(name: N, type: T, doc: string) => ({ name, type, doc }) as const;
/** The optimizer's run-time operands of every update kernel: the template's lr, MOMENTUM, QAS and ROUNDING_RNG. */
const optimizer = [
  a('lr', 'f32', 'learning rate'),
  a('mu', 'f32', 'momentum (used where vel != 0)'),
  a('qas', 'bool', 'Quantization-Aware Scaling of the gradient'),
  a('rng', 'ptr', 'the rounding rng state (stochastic rounding); 0: round to nearest'),
] as const;

/**
 * The library's shared kernels and runtime services. An op whose kernels no other op calls
 * declares them in its own module instead (OpDef.kernels); kernel-library.ts lists both.
 */
export const KERNELS = [
  { name: 'conv2dForwardS8', file: 'conv2d', doc: 'the whole output', record: CONV_FORWARD, omit: ['inRing', 'outRing'], args: [], result: 'void' },
  {
    name: 'conv2dForwardRowsS8',
    file: 'conv2d',
    doc: 'output rows [ohBegin, ohEnd), input and output possibly ring buffers (a streamed chain)',
    record: CONV_FORWARD,
    args: [a('ohBegin', 'i32', 'first output row'), a('ohEnd', 'i32', 'output row after the last')],
    result: 'void',
  },
  { name: 'conv2dBackwardInputF32', file: 'conv2d', doc: 'the transposed conv of gy with the dequantised weights', record: CONV_INPUT_GRAD, args: [], result: 'void' },
  { name: 'depthwiseBackwardInputInPlaceF32', file: 'conv2d', doc: 'in place', record: DEPTHWISE_IN_PLACE, args: [], result: 'void' },
  { name: 'gapHeadBackwardF32', file: 'conv2d', doc: 'dense head', record: GAP_HEAD, args: [], result: 'void' },
  { name: 'conv2dWeightUpdateS8', file: 'conv2d', doc: 'fused weight gradient and update', record: WEIGHT_GRAD, omit: ['out'], args: optimizer, result: 'void' },
  { name: 'conv2dWeightGradF32', file: 'conv2d', doc: 'weight gradient into out', record: WEIGHT_GRAD, omit: ['w', 'wScale', 'vel'], args: [], result: 'void' },
  { name: 'applyWeightUpdateS8', file: 'conv2d', doc: 'a stored weight gradient applied', record: APPLY_WEIGHT, args: optimizer, result: 'void' },
  { name: 'biasUpdateAllS32', file: 'conv2d', doc: 'fused bias gradient and update of all channels', record: BIAS_UPDATE, args: optimizer, result: 'void' },
  { name: 'biasGradF32', file: 'conv2d', doc: 'bias gradient into out', record: BIAS_GRAD, args: [], result: 'void' },
  { name: 'applyBiasUpdateS32', file: 'conv2d', doc: 'a stored bias gradient applied', record: APPLY_BIAS, args: optimizer, result: 'void' },
  { name: 'avgpoolForwardS8', file: 'pool', doc: 'average pool', record: AVGPOOL_FORWARD, args: [], result: 'void' },
  { name: 'avgpoolBackwardF32', file: 'pool', doc: 'average pool backward', record: AVGPOOL_BACKWARD, args: [], result: 'void' },
  { name: 'addS8', file: 'eltwise', doc: 'residual add', record: ADD, args: [], result: 'void' },
  { name: 'clampS8', file: 'eltwise', doc: 'ReLU / ReLU6', record: CLAMP, args: [], result: 'void' },
  { name: 'clampBackwardF32', file: 'eltwise', doc: 'clamp backward from the output', record: CLAMP_BACKWARD, args: [], result: 'void' },
  { name: 'gradInto', file: 'eltwise', doc: 'gradient copy or sum', record: GRAD_INTO, args: [], result: 'void' },
  { name: 'saveChannelsS8', file: 'eltwise', doc: 'input channels kept for a weight gradient', record: SAVE_CHANNELS, args: [], result: 'void' },
  { name: 'saveMaskBits', file: 'eltwise', doc: 'clamp mask', record: SAVE_MASK, args: [], result: 'void' },
  { name: 'clampBackwardBitsF32', file: 'eltwise', doc: 'clamp backward from the mask', record: CLAMP_BACKWARD_BITS, args: [], result: 'void' },
  { name: 'softmaxCrossEntropyS8', file: 'loss', doc: 'returns the loss', record: LOSS, args: [a('label', 'i32', 'the true class')], result: 'f32' },
  { name: 'sigmoidBceS8', file: 'loss', doc: 'mean sigmoid binary cross-entropy over K outputs; returns the loss', record: TARGET_LOSS, args: [], result: 'f32', onDemand: true },
  { name: 'meanSquaredErrorS8', file: 'loss', doc: 'mean squared error over K outputs; returns the loss', record: TARGET_LOSS, args: [], result: 'f32', onDemand: true },
  { name: 'sparse1x1ForwardS8', file: 'sparse', doc: 'all P pixels', record: SPARSE_FORWARD, omit: ['W', 'inRing', 'outRing'], args: [], result: 'void' },
  {
    name: 'sparse1x1ForwardRowS8',
    file: 'sparse',
    doc: 'the W pixels of row `row`, input and output possibly ring buffers (a streamed chain)',
    record: SPARSE_FORWARD,
    omit: ['P'],
    args: [a('row', 'i32', 'the row')],
    result: 'void',
  },
  { name: 'sparse1x1BackwardInputF32', file: 'sparse', doc: 'input gradient', record: SPARSE_INPUT_GRAD, args: [], result: 'void' },
  { name: 'sparseGapHeadBackwardF32', file: 'sparse', doc: 'pruned head', record: SPARSE_GAP_HEAD, args: [], result: 'void' },
  // Services the runtime template calls, with plain arguments.
  { name: 'argmaxS8', file: 'eltwise', doc: 'index of the largest int8 (the prediction)', args: [a('x', 'ptr', 'int8 values'), a('count', 'i32', 'how many')], result: 'i32' },
  { name: 'rngSeed', file: 'rng', doc: 'seeds the rounding rng', args: [a('state', 'ptr', 'the rng state (u32)'), a('seed', 'u32', 'seed')], result: 'void' },
  { name: 'resetNonFiniteGradients', file: 'update', doc: 'starts a step of the non-finite gradient count', args: [], result: 'void' },
  { name: 'nonFiniteGradientCount', file: 'update', doc: 'parameters with a non-finite gradient since the reset', args: [], result: 'u32' },
] as const satisfies readonly KernelSpec[];

export type KernelName = (typeof KERNELS)[number]['name'];
export type KernelSpecOf<K extends KernelName> = Extract<(typeof KERNELS)[number], { name: K }>;
/** Kernels that take a parameter record (what program steps call). */
export type RecordKernelName = Extract<(typeof KERNELS)[number], { record: RecordFormat }>['name'];

/** A kernel that takes a parameter record. */
export type RecordKernelSpec = KernelSpec & { readonly record: RecordFormat };

type OmitOfSpec<S> = S extends { omit: readonly (infer O extends string)[] } ? O : never;
type SpecsOfSpec<S> = S extends { record: { specs: infer F extends readonly FieldSpec[] } } ? F : readonly [];
/** What a caller of the kernel described by S gives for its record: every field but the omitted ones. */
export type SpecRecordValues<S extends KernelSpec> = Omit<RecordValues<SpecsOfSpec<S>>, OmitOfSpec<S>>;
/** The run-time arguments of the kernel described by S as a tuple of T. */
export type SpecArgs<S extends KernelSpec, T> = TupleOf<S['args'], T>;
type TupleOf<A extends readonly unknown[], T> = { -readonly [I in keyof A]: T };

/** What a caller of kernel K gives for its record: every field but the omitted ones. */
export type KernelRecordValues<K extends RecordKernelName> = SpecRecordValues<KernelSpecOf<K>>;
/** Kernel K's run-time arguments as a tuple of T (source text for the emitter, numbers for the harness). */
export type KernelArgs<K extends KernelName, T> = SpecArgs<KernelSpecOf<K>, T>;

export function kernelSpec<K extends KernelName>(name: K): KernelSpecOf<K> {
  const k = KERNELS.find((x) => x.name === name);
  if (!k) throw new Error(`no kernel ${name}`);
  return k as KernelSpecOf<K>;
}

/** The record of a call of kernel `name`: the caller's values, the omitted fields 0. */
export function kernelRecord<K extends RecordKernelName>(name: K, values: KernelRecordValues<K>): Uint8Array {
  return specRecord(kernelSpec(name) as RecordKernelSpec, values as never);
}

/** The record of a call of the kernel `k` describes (a shared kernel or an op's own): the caller's values, the omitted fields 0. */
export function specRecord<S extends RecordKernelSpec>(k: S, values: SpecRecordValues<S>): Uint8Array {
  const zeros = Object.fromEntries((k.omit ?? []).map((n) => [n, k.record.fields.find((x) => x.name === n)!.type === 'bool' ? false : 0]));
  for (const n of k.omit ?? []) if (n in values) throw new Error(`kernel ${k.name} does not take ${n}`);
  return writeRecord(k.record, { ...values, ...zeros });
}
