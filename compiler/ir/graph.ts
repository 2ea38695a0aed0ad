/**
 * The compiler's graph: nodes in topological (= forward execution) order with every
 * shape resolved. Built once from a ModelSpec; every later pass reads it.
 */
import { TinytrainError } from '../errors.js';
import { LIMITS } from './limits.js';
import type { Activation, Layer, ModelSpec } from './model.js';
import { checkSpecAgainstGraph } from './model-refs.js';
import { layerName, parseModelSpec } from './model-schema.js';

export type Shape = [number, number, number]; // H, W, C (batch 1)

export type OpKind = 'conv2d' | 'dense' | 'add' | 'avgpool' | 'globalavgpool' | 'relu' | 'relu6' | 'flatten';

export interface ConvAttrs {
  kh: number;
  kw: number;
  stride: number;
  pad: number;
  depthwise: boolean;
}
export interface PoolAttrs {
  size: number;
  stride: number;
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

export function hasParams(n: Node): boolean {
  return n.op === 'conv2d' || n.op === 'dense';
}

/** Weight tensor shape [Cout, KH, KW, Cin/groups] (dense: [Cout, 1, 1, Cin]). */
export function weightShape(n: Node): [number, number, number, number] {
  const cin = n.inShapes[0]![2];
  const cout = n.outShape[2];
  if (n.op === 'dense') return [cout, 1, 1, n.inShapes[0]![0] * n.inShapes[0]![1] * cin];
  const c = n.conv!;
  return [cout, c.kh, c.kw, c.depthwise ? 1 : cin];
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
  let previous = INPUT;
  spec.layers.forEach((layer: Layer, i: number) => {
    // Names are unique and inputs name earlier tensors: the schema checked both.
    const name = layerName(layer, i);
    const inputs = layer.inputs ?? [previous];
    const inShapes = inputs.map((t) => shapes.get(t)!);
    const [h, w, c] = inShapes[0]!;
    const activation: Activation = ('activation' in layer && layer.activation) || 'none';
    const node: Node = { name, op: layer.op, inputs, output: name, inShapes, outShape: [1, 1, 1], activation };
    const arity = layer.op === 'add' ? 2 : 1;
    if (inputs.length !== arity) fail(i, name, `${layer.op} takes ${arity} input(s), got ${inputs.length}`);
    switch (layer.op) {
      case 'conv2d': {
        const k = Array.isArray(layer.kernel) ? layer.kernel : [layer.kernel, layer.kernel];
        const stride = layer.stride ?? 1;
        const depthwise = layer.groups === 'depthwise';
        if (depthwise && layer.filters !== c) fail(i, name, `a depthwise conv keeps the channel count: filters must be ${c}`);
        let pad: number;
        if (layer.padding === undefined || layer.padding === 'valid') pad = 0;
        else if (layer.padding === 'same') {
          if (k[0] !== k[1] || k[0]! % 2 === 0) fail(i, name, "padding 'same' needs a square, odd kernel", 'give padding as a number');
          pad = (k[0]! - 1) / 2;
        } else pad = layer.padding;
        const oh = Math.floor((h + 2 * pad - k[0]!) / stride) + 1;
        const ow = Math.floor((w + 2 * pad - k[1]!) / stride) + 1;
        if (oh < 1 || ow < 1) fail(i, name, `kernel ${k[0]}x${k[1]} does not fit the ${h}x${w} input`);
        node.conv = { kh: k[0]!, kw: k[1]!, stride, pad, depthwise };
        node.outShape = [oh, ow, layer.filters];
        break;
      }
      case 'dense':
        node.outShape = [1, 1, layer.units];
        break;
      case 'add': {
        const b = inShapes[1]!;
        if (b[0] !== h || b[1] !== w || b[2] !== c) {
          fail(i, name, `add needs equal shapes, got [${inShapes[0]}] and [${b}]`);
        }
        node.outShape = [h, w, c];
        break;
      }
      case 'avgpool': {
        const size = layer.size;
        const stride = layer.stride ?? size;
        if (size > h || size > w) fail(i, name, `pool ${size} is larger than the ${h}x${w} input`);
        node.pool = { size, stride };
        node.outShape = [Math.floor((h - size) / stride) + 1, Math.floor((w - size) / stride) + 1, c];
        break;
      }
      case 'globalavgpool':
        node.outShape = [1, 1, c];
        break;
      case 'flatten':
        node.outShape = [1, 1, h * w * c];
        break;
      case 'relu':
      case 'relu6':
        node.outShape = [h, w, c];
        break;
    }
    checkLimits(i, name, node);
    shapes.set(name, node.outShape);
    nodes.push(node);
    previous = name;
  });
  const last = nodes[nodes.length - 1]!;
  if (last.outShape[0] !== 1 || last.outShape[1] !== 1) {
    throw new TinytrainError(
      `model '${spec.name}': the last layer must produce logits of shape [1, 1, classes], got [${last.outShape}]`,
      'end the model with globalavgpool/flatten and a dense layer',
    );
  }
  if (last.activation !== 'none') {
    throw new TinytrainError(`model '${spec.name}': the last layer ('${last.name}') must have no activation; the loss applies softmax`);
  }
  const range: [number, number] = spec.inputRange ? [spec.inputRange[0], spec.inputRange[1]] : [0, 1];
  checkAllUsed(nodes);
  const parameters = nodes.filter(hasParams).reduce((a, n) => a + weightCount(n) + n.outShape[2], 0);
  if (parameters > LIMITS.maxParameters) {
    throw new TinytrainError(`model '${spec.name}': ${parameters} parameters, more than the limit of ${LIMITS.maxParameters}`, 'use a smaller model');
  }
  const graph: Graph = { name: spec.name, inputShape: [...inputShape] as Shape, inputRange: range, nodes, output: last.output, classes: last.outShape[2] };
  checkSpecAgainstGraph(spec, graph);
  return graph;
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
