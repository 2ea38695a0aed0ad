/** Float parameters of a graph: stored in the model file, or initialised from a seed. */
import { TinytrainError } from '../errors.js';
import { hasParams, weightCount, weightShape, type Graph } from './graph.js';
import type { ModelSpec, FloatParams } from './model.js';
import { Rng } from './rng.js';

export interface LayerParams {
  weight: Float32Array;
  bias: Float32Array;
}
export type ParamSet = Map<string, LayerParams>;

export function f32ToBase64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function base64ToF32(s: string, expected: number, where: string): Float32Array {
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length !== expected * 4) {
    throw new TinytrainError(
      `${where}: expected ${expected} float32 values (${expected * 4} bytes), found ${bytes.length} bytes`,
      'the params do not match the architecture; retrain or remove the params entry to re-initialise',
    );
  }
  const out = new Float32Array(expected);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** He-normal weights (fan-in), zero biases: what a fresh network starts from. */
export function initParams(g: Graph, seed: number): ParamSet {
  const rng = new Rng(seed);
  const out: ParamSet = new Map();
  for (const n of g.nodes) {
    if (!hasParams(n)) continue;
    const [cout, kh, kw, cin] = weightShape(n);
    const std = Math.sqrt(2 / (kh * kw * cin));
    const weight = new Float32Array(weightCount(n));
    for (let i = 0; i < weight.length; i++) weight[i] = rng.normal() * std;
    out.set(n.name, { weight, bias: new Float32Array(cout) });
  }
  return out;
}

export function loadParams(g: Graph, spec: ModelSpec): ParamSet {
  const fresh = initParams(g, spec.seed ?? 0);
  if (!spec.params) return fresh;
  for (const n of g.nodes) {
    if (!hasParams(n)) continue;
    // Own keys only: a layer named "constructor" must not find Object.prototype's.
    if (!Object.hasOwn(spec.params, n.name)) continue;
    const stored = spec.params[n.name]!;
    fresh.set(n.name, {
      weight: base64ToF32(stored.weight, weightCount(n), `params of '${n.name}' (weight)`),
      bias: base64ToF32(stored.bias, n.outShape[2], `params of '${n.name}' (bias)`),
    });
  }
  for (const name of Object.keys(spec.params)) {
    if (!fresh.has(name)) throw new TinytrainError(`model params: '${name}' is not a conv2d or dense layer of this model`);
  }
  return fresh;
}

export function encodeParams(p: ParamSet): Record<string, FloatParams> {
  const out: Record<string, FloatParams> = {};
  for (const [name, { weight, bias }] of p) out[name] = { weight: f32ToBase64(weight), bias: f32ToBase64(bias) };
  return out;
}

export function cloneParams(p: ParamSet): ParamSet {
  const out: ParamSet = new Map();
  for (const [k, v] of p) out.set(k, { weight: v.weight.slice(), bias: v.bias.slice() });
  return out;
}
