/**
 * Float32 training of a graph on the desktop: forward, backward by the same rules the
 * compiler emits for the device, SGD with momentum. Used for pretraining, as the float32
 * fine-tuning baseline, and for calibration (it exposes every activation).
 */
import { INPUT, isDepthwise, type Graph, type Node } from '../ir/graph.js';
import type { ParamSet, LayerParams } from '../ir/params.js';
import * as k from './kernels.js';

export type Activations = Map<string, Float32Array>;

export function forward(g: Graph, params: ParamSet, x: Float32Array): Activations {
  const acts: Activations = new Map([[INPUT, x]]);
  for (const n of g.nodes) acts.set(n.output, forwardNode(n, params, acts));
  return acts;
}

function forwardNode(n: Node, params: ParamSet, acts: Activations): Float32Array {
  const x = acts.get(n.inputs[0]!)!;
  switch (n.op) {
    case 'conv2d':
    case 'depthwiseConv2d': {
      const p = params.get(n.name)!;
      return k.activate(k.conv2dForward(x, n.inShapes[0]!, p.weight, p.bias, n.conv!, isDepthwise(n), n.outShape), n.activation);
    }
    case 'dense': {
      const p = params.get(n.name)!;
      return k.activate(k.denseForward(x, p.weight, p.bias, n.outShape[2]), n.activation);
    }
    case 'add': {
      const b = acts.get(n.inputs[1]!)!;
      const y = new Float32Array(x.length);
      for (let i = 0; i < y.length; i++) y[i] = x[i]! + b[i]!;
      return k.activate(y, n.activation);
    }
    case 'avgpool':
      return k.avgpoolForward(x, n.inShapes[0]!, n.pool!, n.outShape);
    case 'globalavgpool':
      return k.globalAvgpoolForward(x, n.inShapes[0]!);
    case 'relu':
      return k.activate(x.slice(), 'relu');
    case 'relu6':
      return k.activate(x.slice(), 'relu6');
    case 'flatten':
      return x;
  }
}

export type Grads = Map<string, { gw: Float32Array; gb: Float32Array }>;

/**
 * Backward pass from d(loss)/d(logits). `trainable` limits which layers get parameter
 * gradients; input gradients stop below the earliest trainable layer.
 */
export function backward(g: Graph, params: ParamSet, acts: Activations, gLogits: Float32Array, trainable?: ReadonlySet<string>): Grads {
  const grads: Grads = new Map();
  const tgrad = new Map<string, Float32Array>([[g.output, gLogits]]);
  const earliest = g.nodes.findIndex((n) => !trainable || trainable.has(n.name));
  const addGrad = (t: string, v: Float32Array): void => {
    const prev = tgrad.get(t);
    if (!prev) {
      tgrad.set(t, v);
      return;
    }
    for (let i = 0; i < v.length; i++) prev[i]! += v[i]!;
  };
  for (let i = g.nodes.length - 1; i >= Math.max(earliest, 0); i--) {
    const n = g.nodes[i]!;
    const gyPost = tgrad.get(n.output);
    if (!gyPost) continue;
    const needInputGrad = i > earliest;
    const y = acts.get(n.output)!;
    const x = acts.get(n.inputs[0]!)!;
    switch (n.op) {
      case 'conv2d':
      case 'depthwiseConv2d':
      case 'dense': {
        const gy = k.activationBackward(gyPost, y, n.activation);
        const w = params.get(n.name)!.weight;
        const r = n.op === 'dense' ? k.denseBackward(x, w, gy, needInputGrad) : k.conv2dBackward(x, n.inShapes[0]!, w, gy, n.conv!, isDepthwise(n), n.outShape, needInputGrad);
        if (!trainable || trainable.has(n.name)) grads.set(n.name, { gw: r.gw, gb: r.gb });
        if (r.gx) addGrad(n.inputs[0]!, r.gx);
        break;
      }
      case 'add': {
        const gy = k.activationBackward(gyPost, y, n.activation);
        if (needInputGrad) {
          addGrad(n.inputs[0]!, gy.slice());
          addGrad(n.inputs[1]!, gy.slice());
        }
        break;
      }
      case 'avgpool':
        if (needInputGrad) addGrad(n.inputs[0]!, k.avgpoolBackward(gyPost, n.inShapes[0]!, n.pool!, n.outShape));
        break;
      case 'globalavgpool':
        if (needInputGrad) addGrad(n.inputs[0]!, k.globalAvgpoolBackward(gyPost, n.inShapes[0]!));
        break;
      case 'relu':
      case 'relu6':
        if (needInputGrad) addGrad(n.inputs[0]!, k.activationBackward(gyPost, y, n.op));
        break;
      case 'flatten':
        if (needInputGrad) addGrad(n.inputs[0]!, gyPost.slice());
        break;
    }
  }
  return grads;
}

export interface SgdOptions {
  lr: number;
  momentum: number;
}

/** SGD (with optional momentum) over float parameters. */
export class FloatTrainer {
  private readonly velocity = new Map<string, LayerParams>();
  constructor(
    readonly graph: Graph,
    readonly params: ParamSet,
    readonly trainable?: ReadonlySet<string>,
  ) {}

  step(x: Float32Array, label: number, opt: SgdOptions): number {
    const acts = forward(this.graph, this.params, x);
    const { loss, grad } = k.softmaxCrossEntropy(acts.get(this.graph.output)!, label);
    const grads = backward(this.graph, this.params, acts, grad, this.trainable);
    for (const [name, { gw, gb }] of grads) {
      const p = this.params.get(name)!;
      if (opt.momentum > 0) {
        let v = this.velocity.get(name);
        if (!v) {
          v = { weight: new Float32Array(gw.length), bias: new Float32Array(gb.length) };
          this.velocity.set(name, v);
        }
        applyMomentum(p.weight, v.weight, gw, opt);
        applyMomentum(p.bias, v.bias, gb, opt);
      } else {
        for (let i = 0; i < gw.length; i++) p.weight[i]! -= opt.lr * gw[i]!;
        for (let i = 0; i < gb.length; i++) p.bias[i]! -= opt.lr * gb[i]!;
      }
    }
    return loss;
  }

  predict(x: Float32Array): number {
    return argmax(forward(this.graph, this.params, x).get(this.graph.output)!);
  }
}

function applyMomentum(p: Float32Array, v: Float32Array, g: Float32Array, opt: SgdOptions): void {
  for (let i = 0; i < p.length; i++) {
    v[i] = opt.momentum * v[i]! + g[i]!;
    p[i]! -= opt.lr * v[i]!;
  }
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** Map raw u8 pixels onto the model's real input range. */
export function normaliseImage(img: Uint8Array, range: [number, number]): Float32Array {
  const x = new Float32Array(img.length);
  const scale = (range[1] - range[0]) / 255;
  for (let i = 0; i < img.length; i++) x[i] = range[0] + img[i]! * scale;
  return x;
}
