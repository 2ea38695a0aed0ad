/**
 * Float32 training of a graph on the desktop: forward, backward by the same rules the
 * compiler emits for the device, SGD with momentum. Used for pretraining, as the float32
 * fine-tuning baseline, and for calibration (it exposes every activation).
 */
import { INPUT, type Graph, type Node } from '../ir/graph.js';
import type { ParamSet, LayerParams } from '../ir/params.js';
import { opOf } from '../ops/registry.js';
import type { ParamGrads } from '../ops/types.js';
import * as k from './kernels.js';
import type { LossKind } from '../loss.js';

export type Activations = Map<string, Float32Array>;

export function forward(g: Graph, params: ParamSet, x: Float32Array): Activations {
  const acts: Activations = new Map([[INPUT, x]]);
  for (const n of g.nodes) acts.set(n.output, forwardNode(n, params, acts));
  return acts;
}

/** The op's float forward (compiler/ops/), then its fused activation. */
function forwardNode(n: Node, params: ParamSet, acts: Activations): Float32Array {
  const x = n.inputs.map((t) => acts.get(t)!);
  return k.activate(opOf(n).float.forward(n, x, params.get(n.name)), n.activation);
}

export type Grads = Map<string, ParamGrads>;

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
    const y = acts.get(n.output)!;
    // The fused activation's backward, then the op's own (compiler/ops/).
    const gy = k.activationBackward(gyPost, y, n.activation);
    const x = n.inputs.map((t) => acts.get(t)!);
    const r = opOf(n).float.backward(n, { x, y, gy, params: params.get(n.name), wantInputGrad: i > earliest });
    if (r.params && (!trainable || trainable.has(n.name))) grads.set(n.name, r.params);
    r.inputs.forEach((gx, j) => {
      if (gx) addGrad(n.inputs[j]!, gx);
    });
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
    /** The loss (compiler/loss.ts); the graph is the one chooseLoss gives (bce: without a final sigmoid). */
    readonly loss: LossKind = 'softmax-ce',
  ) {}

  /** One SGD step; `target` is the label, or K values for a loss on target values. */
  step(x: Float32Array, target: k.Target, opt: SgdOptions): number {
    const acts = forward(this.graph, this.params, x);
    const { loss, grad } = k.lossOf(this.loss, acts.get(this.graph.output)!, target);
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

  /** The class: the argmax, or for one-output bce whether the logit is positive (as the runtime's predict). */
  predict(x: Float32Array): number {
    const out = forward(this.graph, this.params, x).get(this.graph.output)!;
    return this.loss === 'bce' && out.length === 1 ? Number(out[0]! > 0) : argmax(out);
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
