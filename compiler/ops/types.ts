/**
 * The op interface: what the compiler knows about one op, in one object. Each op has a
 * module (compiler/ops/<op>.ts) that exports one OpDef; compiler/ops/registry.ts holds one
 * per OpKind, and every stage of the compiler asks the op's OpDef instead of switching on
 * the op's name.
 */
import type { z } from 'zod';
import type { EmitContext } from '../codegen/context.js';
import type { KernelSpec } from '../formats/kernel-records.js';
import type { StepOf } from '../codegen/steps/types.js';
import type { ConvAttrs, FnAttrs, Node, PoolAttrs, Shape } from '../ir/graph.js';
import type { Activation, Layer } from '../ir/model.js';
import type { LayerParams } from '../ir/params.js';
import type { QTensor } from '../quantize/quantize.js';
import type { Arity } from './arity.js';
import type { OpKind } from './registry.js';

/**
 * The closed set of op kinds: the keys of the registry's table (registry.ts), so a kind is
 * an op that is registered. A kind is internal: a model file names its layer's `op`
 * (OpDef.layerOp), and one layer op may be several kinds (`conv2d` with
 * `groups: 'depthwise'` is a depthwiseConv2d).
 */
export type { OpKind };

/** The layer op users write in a model file. */
export type LayerOp = Layer['op'];

/** What every layer of a model file has; an op's layer interface (OpDef's `L`) adds its own fields. */
export interface LayerFields {
  op: string;
  name?: string;
  inputs?: string[];
}

/**
 * The zod schema of one layer op's layers, accepting exactly its interface L (layerSchema
 * in layer-fields.ts checks that at compile time). An object schema with a literal `op`,
 * so the model's schema can tell the layer ops apart by it (model-schema.ts).
 */
export type LayerSchema<L> = z.ZodType<L> & z.core.$ZodTypeDiscriminable;

/** A shape rule's way to refuse a layer: the message names the layer (graph.ts adds which). */
export type Fail = (what: string, hint?: string) => never;

/** What an op's shape rule settles for one layer: its output shape and the attributes its later rules read. */
export interface NodeShape {
  outShape: Shape;
  conv?: ConvAttrs;
  pool?: PoolAttrs;
  fn?: FnAttrs;
}

/**
 * How an op with weights runs on the conv kernel family (assembly/kernels/conv2d.ts), which
 * runs every such op. Weights are [Cout, KH, KW, Cin/groups] and every op with weights has a
 * bias of Cout int32 values.
 */
export interface ConvKernelView {
  /** The input as the kernels read it, [H, W, C] (dense: a 1x1 image of its flattened input). */
  input(n: Node): Shape;
  /** The kernels' window (dense: 1x1, stride 1, no padding). */
  window(n: Node): ConvAttrs;
  /**
   * One filter per channel: weights [C, KH, KW, 1], whose trained channels split them along
   * their first axis (every other op splits along the last, its input channels).
   */
  readonly depthwise: boolean;
}

/** Gradients of an op's weights and bias. */
export interface ParamGrads {
  gw: Float32Array;
  gb: Float32Array;
}

/** What an op's float backward reads. */
export interface FloatBackwardArgs {
  /** The inputs' forward values. */
  x: Float32Array[];
  /** The op's output (after its fused activation). */
  y: Float32Array;
  /** The output's gradient before the fused activation (network.ts applies that clamp's backward). */
  gy: Float32Array;
  params: LayerParams | undefined;
  /** Whether any input needs a gradient (the lowest trained layer's does not). */
  wantInputGrad: boolean;
}

export interface FloatGradients {
  /** Gradient of each input, or null: not wanted (each a fresh array: network.ts may add into it). */
  inputs: Array<Float32Array | null>;
  /** Weight and bias gradients of an op with weights. */
  params?: ParamGrads;
}

/**
 * The float32 reference (HWC, batch 1): the desktop's training engine (pretraining, the
 * float32 baseline, calibration) and what the int8 runtime is measured against.
 */
export interface FloatRule {
  /** The output before the fused activation (network.ts applies it). */
  forward(n: Node, x: Float32Array[], params: LayerParams | undefined): Float32Array;
  backward(n: Node, a: FloatBackwardArgs): FloatGradients;
}

/** Forward steps an op's program rule may list: its kernel; the input channels its partial weight gradient needs. */
export type ForwardStepKind = 'forward' | 'saveSlice';
/** Backward steps an op's program rule may list: its clamp's backward, input gradients, weight and bias gradients. */
export type BackwardStepKind = 'mask' | 'inputGrad' | 'weightGrad' | 'biasGrad';

/**
 * The forward values an op's input gradient reads besides its output gradient: none for
 * today's ops (a clamp's backward is its own `mask` step; a weight gradient reads its
 * input by the gradient plan). plain.ts adds them to the inputGrad step's reads, so the
 * planner keeps them alive until it runs, and the gradient plan lists the tensors among
 * those read in backward (GradientPlan.readInBackward), which the passes honour: nothing
 * overwrites them in place, no clamp keeps bits for a tensor kept whole anyway, a global
 * pool or head that reads one does not fuse. All only where the step runs: when some
 * input needs a gradient.
 */
export interface InputGradReads {
  /** The inputs (by position) whose int8 activations it reads (Mul: both; HardSwish: its input). */
  readonly inputs?: readonly number[];
  /** Its own int8 output (a Sigmoid's derivative, from its output). */
  readonly output?: boolean;
  /**
   * Bytes of a mask its forward step writes for it, as `save:<node>` (MaxPool's argmax):
   * its forward step's second write, its input gradient's read after the activations.
   * Never on an op with weights, whose `save:<node>` is the input slice.
   */
  mask?(n: Node): number;
}

/**
 * The steps the plain training program (compiler/autodiff/plain.ts) emits for the op, in
 * order. Each is emitted only where the gradient plan asks for it: a slice only for a
 * partially trained layer, a mask only if the op has a clamp and its output a gradient,
 * input gradients only for inputs that need one, weight and bias gradients only where
 * they train (their updates go to the end of the program). The passes then rewrite it.
 */
export interface ProgramRule {
  readonly forward: readonly ForwardStepKind[];
  readonly backward: readonly BackwardStepKind[];
  /** What its inputGrad step reads of forward, besides its output gradient (none if absent). */
  readonly inputGradReads?: InputGradReads;
}

/**
 * The program steps whose code the op writes; the others (the loss, clamp masks, saved
 * slices and masks, streamed chains, the fused pool/head backward) are the compiler's own
 * (codegen/steps/), the same for every op.
 */
export type OpStepKind = 'forward' | 'inputGrad' | 'weightUpdate' | 'weightGrad' | 'applyWeight' | 'biasUpdate' | 'biasGrad' | 'applyBias';

/**
 * The AssemblyScript of each step of the op, as one line (a kernel call and a comment
 * naming the node by its label). `data` is what the op's `prepare` made at quantisation.
 * Every step its program rule can emit, and every step a pass can turn it into, has code.
 */
export interface CodegenRule<D> {
  forward?(s: StepOf<'forward'>, c: EmitContext, data: D): string;
  inputGrad?(s: StepOf<'inputGrad'>, c: EmitContext, data: D): string;
  weightUpdate?(s: StepOf<'weightUpdate'>, c: EmitContext, data: D): string;
  weightGrad?(s: StepOf<'weightGrad'>, c: EmitContext, data: D): string;
  applyWeight?(s: StepOf<'applyWeight'>, c: EmitContext, data: D): string;
  biasUpdate?(s: StepOf<'biasUpdate'>, c: EmitContext, data: D): string;
  biasGrad?(s: StepOf<'biasGrad'>, c: EmitContext, data: D): string;
  applyBias?(s: StepOf<'applyBias'>, c: EmitContext, data: D): string;
  /** A streamable op's one output row `row` (an expression), reading x and writing y (rings of inRing/outRing rows; 0: whole). */
  forwardRows?(c: EmitContext, n: Node, x: number, y: number, row: string, inRing: number, outRing: number, scratch: number): string;
}

/**
 * `L`: the model layer type the op is made from; `D`: the constants its `prepare` computes
 * at quantisation for its code (TFLM's op data), e.g. a rescale multiplier.
 */
export interface OpDef<L extends LayerFields = Layer, D = unknown> {
  readonly kind: OpKind;
  /** The `op` of its layers in a model file; labels in generated code and the manifest's `nodes` say this too. */
  readonly layerOp: L['op'];
  /**
   * The schema of its layers in a model file (the JSON format of `layerOp`). Ops that share
   * a layer op share its schema object (conv2d and depthwiseConv2d: conv2d-layer.ts).
   */
  readonly layer: LayerSchema<L>;
  /** Which layers of `layerOp` are this op, where several ops share one layer op. */
  matches?(layer: L): boolean;

  /** Inputs the op takes: a count, or a range (arity.ts); buildGraph refuses any other number. */
  readonly arity: Arity;
  /** The output shape and attributes of a layer, or `fail` with why the layer is wrong (same messages as ever: tests hold them). */
  shape(layer: L, inShapes: Shape[], fail: Fail): NodeShape;

  /** Present for ops with trained parameters (weights and a bias): how they run on the conv kernels. */
  readonly weights?: ConvKernelView;
  /** A standalone clamp: the op is this activation (every other op clamps by its fused `activation`). */
  readonly clamp?: Activation;
  /** Output is its input, seen with another shape: no step, no buffer of its own (flatten). */
  readonly view?: boolean;
  /**
   * Output element i reads only input element i of each input of the output's size (and any
   * element of a smaller, broadcast one: Mul's [1, 1, C]): its output may overwrite an input
   * of its size (in-place pass).
   */
  readonly elementwise?: boolean;
  /** Forward can run output row by output row from a ring of input rows (the row-streaming pass). */
  readonly streamable?: boolean;
  /** One average over every position: its backward broadcasts the same value to each (the pool/head fusion). */
  readonly globalPool?: boolean;
  /** Output keeps input 0's quantisation: no arithmetic on the values (a view or a clamp). */
  readonly sharesInputQuant?: boolean;
  /** Compile-time constants of its code from its inputs' and output's quantisation (kept in QuantModel.opData). */
  prepare?(n: Node, inputs: QTensor[], output: QTensor): D;
  /**
   * Tables its code reads from memory, made from what `prepare` returned (a 256-entry lookup
   * table): memory/layout.ts places each in the frozen image after the parameters (Flash on
   * an MCU, never copied to SRAM), and its code finds their addresses with `c.constants(n)`,
   * in this order. Absent: constants it has are immediates in its code or its kernel record.
   */
  constants?(data: D): readonly ArrayBufferView[];

  readonly float: FloatRule;

  /** Its backward rule: which steps of the training program it emits. */
  readonly program: ProgramRule;

  readonly codegen: CodegenRule<D>;
  /**
   * Kernels of its own, that no other op calls, each with its parameter record (declared in
   * the op's module with kernel-records.ts's `record` and `field`). The generated library
   * files, the test harness and the runtime of a model that has the op list them
   * (compiler/formats/kernel-library.ts); its code calls them with `c.callKernel`. Absent:
   * the op calls the library's shared kernels (kernel-records.ts KERNELS) only.
   */
  readonly kernels?: readonly KernelSpec[];
}
