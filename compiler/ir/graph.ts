/**
 * The compiler's graph: nodes in topological (= forward execution) order with every
 * shape resolved. Built once from a ModelSpec; every later pass reads it.
 */
import { TinytrainError } from '../errors.js';
import { LIMITS } from './limits.js';
import type { Activation, Layer, ModelSpec } from './model.js';
import { arityRefusal } from '../ops/arity.js';
import { opForLayer, opOf } from '../ops/registry.js';
import type { OpKind } from '../ops/types.js';
import type { Pads } from '../ops/padding.js';
import { checkSpecAgainstGraph } from './model-refs.js';
import { layerName, parseModelSpec } from './model-schema.js';

export type Shape = [number, number, number]; // H, W, C (batch 1)

export type { OpKind } from '../ops/types.js';

/** A conv's window (depthwise or not: that is the op, depthwiseConv2d). */
export interface ConvAttrs {
  kh: number;
  kw: number;
  /** Stride between output rows (sh) and between output columns (sw). */
  sh: number;
  sw: number;
  /** Zero padding per side [top, left, bottom, right] (ops/padding.ts); the kernels take the leading pads (top, left). */
  pads: Pads;
}
/** A pool's window: ph x pw positions (rows, columns), strides per axis (as ConvAttrs'). */
export interface PoolAttrs {
  ph: number;
  pw: number;
  /** Stride between output rows (sh) and between output columns (sw). */
  sh: number;
  sw: number;
  /** Padding per side [top, left, bottom, right]: positions a window may reach outside the input. */
  pads: Pads;
  /** avgpool: padded positions count as zeros in the divisor (ONNX count_include_pad 1); otherwise it divides by the valid taps (TFLite). */
  countIncludePad?: boolean;
}
/** The coefficients of an element-wise function (leakyrelu's negative slope alpha; hardsigmoid's alpha * x + beta). */
export interface FnAttrs {
  alpha: number;
  beta: number;
  /**
   * prelu's slopes below 0 (compiler/ops/prelu.ts; its alpha and beta are 0): float32 values,
   * one per channel, or one per element in HWC order.
   */
  slopes?: readonly number[];
}

export interface Node {
  name: string;
  op: OpKind;
  /** Tensor names; 'input' is the model input, any other name is a node's output. */
  inputs: string[];
  /** Output tensor name (always the node's own name). */
  output: string;
  inShapes: Shape[];
  outShape: Shape;
  activation: Activation;
  conv?: ConvAttrs;
  pool?: PoolAttrs;
  fn?: FnAttrs;
}

export interface Graph {
  name: string;
  inputShape: Shape;
  inputRange: [number, number];
  nodes: Node[];
  /** The last node's output: the logits. */
  output: string;
  classes: number;
}

export const INPUT = 'input';

/** Whether the node has trained parameters (weights and a bias). */
export function hasParams(n: Node): boolean {
  return opOf(n).weights !== undefined;
}

/** Weight tensor shape [Cout, KH, KW, Cin/groups] (depthwise: [C, KH, KW, 1]; dense: [Cout, 1, 1, Cin]). */
export function weightShape(n: Node): [number, number, number, number] {
  const view = opOf(n).weights!;
  const k = view.window(n);
  return [n.outShape[2], k.kh, k.kw, view.depthwise ? 1 : view.input(n)[2]];
}

/** One filter per channel (a depthwiseConv2d): its weights split along their first axis, and the kernels take their depthwise flag. */
export function isDepthwise(n: Node): boolean {
  return opOf(n).weights?.depthwise === true;
}

export function weightCount(n: Node): number {
  const [a, b, c, d] = weightShape(n);
  return a * b * c * d;
}

export function shapeSize(s: Shape): number {
  return s[0] * s[1] * s[2];
}

/** Multiply-accumulates of one forward pass of a node (for reports). */
export function forwardMacs(n: Node): number {
  if (!hasParams(n)) return 0;
  const [, kh, kw, cin] = weightShape(n);
  return n.outShape[0] * n.outShape[1] * n.outShape[2] * kh * kw * cin;
}

function fail(layer: number, name: string, what: string, hint?: string): never {
  throw new TinytrainError(`model layer ${layer} ('${name}'): ${what}`, hint);
}

/**
 * The graph of a model spec. The spec is untrusted (a file, or whatever a TS caller passes):
 * it is checked against the schema first (model-schema.ts), shapes against LIMITS here, and
 * parameters, calibration and quantisation against the graph last (model-refs.ts).
 */
export function buildGraph(untrusted: ModelSpec): Graph {
  const spec = parseModelSpec(untrusted);
  const inputShape = spec.input;
  if (shapeSize(inputShape) > LIMITS.maxTensorElements) {
    throw new TinytrainError(
      `model '${spec.name}': input [${inputShape}] has ${shapeSize(inputShape)} elements, more than the limit of ${LIMITS.maxTensorElements}`,
      'use a smaller input',
    );
  }
  const shapes = new Map<string, Shape>([[INPUT, [...inputShape] as Shape]]);
  const nodes: Node[] = [];
  spec.layers.forEach((layer: Layer, i: number) => {
    const node = buildNode(layer, i, nodes[nodes.length - 1]?.output ?? INPUT, shapes);
    checkLimits(i, node.name, node);
    shapes.set(node.name, node.outShape);
    nodes.push(node);
  });
  const last = nodes[nodes.length - 1]!;
  checkLogits(spec, last);
  checkAllUsed(nodes);
  const parameters = nodes.filter(hasParams).reduce((a, n) => a + weightCount(n) + n.outShape[2], 0);
  if (parameters > LIMITS.maxParameters) {
    throw new TinytrainError(`model '${spec.name}': ${parameters} parameters, more than the limit of ${LIMITS.maxParameters}`, 'use a smaller model');
  }
  const range: [number, number] = spec.inputRange ? [spec.inputRange[0], spec.inputRange[1]] : [0, 1];
  const graph: Graph = { name: spec.name, inputShape: [...inputShape] as Shape, inputRange: range, nodes, output: last.output, classes: last.outShape[2] };
  checkSpecAgainstGraph(spec, graph);
  return graph;
}

/** Layer i as a node: its op's arity and shape rule (compiler/ops/), reading `previous` unless it names its inputs. */
function buildNode(layer: Layer, i: number, previous: string, shapes: ReadonlyMap<string, Shape>): Node {
  // Names are unique and inputs name earlier tensors: the schema checked both.
  const name = layerName(layer, i);
  const inputs = layer.inputs ?? [previous];
  const inShapes = inputs.map((t) => shapes.get(t)!);
  const op = opForLayer(layer);
  const refusal = arityRefusal(layer.op, op.arity, inputs.length);
  if (refusal) fail(i, name, refusal);
  const activation: Activation = ('activation' in layer && layer.activation) || 'none';
  const { outShape, conv, pool, fn } = op.shape(layer, inShapes, (what, hint) => fail(i, name, what, hint));
  return { name, op: op.kind, inputs, output: name, inShapes, outShape, activation, ...(conv && { conv }), ...(pool && { pool }), ...(fn && { fn }) };
}

/** The last layer gives the logits the loss reads: [1, 1, classes], no activation (the loss applies softmax). */
function checkLogits(spec: ModelSpec, last: Node): void {
  if (last.outShape[0] !== 1 || last.outShape[1] !== 1) {
    throw new TinytrainError(
      `model '${spec.name}': the last layer must produce logits of shape [1, 1, classes], got [${last.outShape}]`,
      'end the model with globalavgpool/flatten and a dense layer',
    );
  }
  if (last.activation !== 'none') {
    throw new TinytrainError(`model '${spec.name}': the last layer ('${last.name}') must have no activation; the loss applies softmax`);
  }
}

/** Output shapes within LIMITS, so no later pass sizes a buffer from an absurd number. */
function checkLimits(i: number, name: string, n: Node): void {
  const [h, w, c] = n.outShape;
  if (h > LIMITS.maxSpatial || w > LIMITS.maxSpatial) fail(i, name, `output ${h}x${w} is larger than the limit of ${LIMITS.maxSpatial} in height or width`);
  if (h * w * c > LIMITS.maxTensorElements) {
    fail(i, name, `output [${n.outShape}] has ${h * w * c} elements, more than the limit of ${LIMITS.maxTensorElements}`, 'use a smaller model');
  }
  if (hasParams(n) && weightCount(n) > LIMITS.maxParameters) {
    fail(i, name, `${weightCount(n)} weights, more than the limit of ${LIMITS.maxParameters}`, 'use a smaller model');
  }
}

/** Dead branches would still cost memory and time on the device: refuse them. */
function checkAllUsed(nodes: Node[]): void {
  const used = new Set<string>();
  for (const n of nodes) for (const t of n.inputs) used.add(t);
  nodes.slice(0, -1).forEach((n) => {
    if (!used.has(n.output)) {
      throw new TinytrainError(`model: layer '${n.name}' output is never used`, 'remove the layer or feed it into a later one');
    }
  });
}

/** Consumers of every tensor, in forward order. */
export function consumers(g: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of g.nodes)
    for (const t of n.inputs) {
      const list = m.get(t) ?? [];
      list.push(n);
      m.set(t, list);
    }
  return m;
}
