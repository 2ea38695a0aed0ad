/**
 * The parts of a model spec that can only be checked once its graph is built: stored
 * parameters of exactly the right size (and finite), and calibration ranges and fixed
 * quantisation that name tensors of this model. Run by buildGraph after the shapes are
 * known, so a bad file fails before any parameter is decoded for real or any plan is made.
 */
import { TinytrainError } from '../errors.js';
import { quote } from '../validate.js';
import { hasParams, INPUT, weightCount, type Graph } from './graph.js';
import type { ModelSpec } from './model.js';
import { MODEL_HINT } from './model-schema.js';

function fail(what: string, hint = MODEL_HINT): never {
  throw new TinytrainError(what, hint);
}

/** Own keys only: a record's prototype keys ("constructor", "__proto__") are never entries. */
function entries<T>(r: Record<string, T> | undefined): Array<[string, T]> {
  return r ? Object.keys(r).map((k) => [k, r[k]!]) : [];
}

/** Bytes of base64 text (the schema has already checked its alphabet). */
function decodedFloats(text: string, expected: number, field: string): void {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== expected * 4) {
    fail(
      `${field}: expected ${expected} float32 values (${expected * 4} bytes), found ${bytes.length} bytes`,
      'the params do not match the architecture; retrain or remove the params entry to re-initialise',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < expected; i++) {
    const v = view.getFloat32(i * 4, true);
    if (!Number.isFinite(v)) fail(`${field}: value ${i} is ${v}; parameters must be finite`, 'retrain the model from a finite starting point');
  }
}

export function checkSpecAgainstGraph(spec: ModelSpec, g: Graph): void {
  const nodes = new Map(g.nodes.map((n) => [n.name, n]));
  const tensors = new Set([INPUT, ...nodes.keys()]);
  const at = (record: string, key: string): string => `model ${quote(g.name)}: ${record}[${quote(key)}]`;
  for (const [key, p] of entries(spec.params)) {
    const n = nodes.get(key);
    if (!n || !hasParams(n)) fail(`${at('params', key)}: not a conv2d or dense layer of this model`);
    decodedFloats(p.weight, weightCount(n), `${at('params', key)}.weight`);
    decodedFloats(p.bias, n.outShape[2], `${at('params', key)}.bias`);
  }
  for (const [key] of entries(spec.calibration)) {
    if (!tensors.has(key)) fail(`${at('calibration', key)}: not a tensor of this model ("input" or a layer name)`);
  }
  for (const [key] of entries(spec.quantization?.tensors)) {
    if (!tensors.has(key)) fail(`${at('quantization.tensors', key)}: not a tensor of this model ("input" or a layer name)`);
  }
  for (const [key, scales] of entries(spec.quantization?.weights)) {
    const n = nodes.get(key);
    if (!n || !hasParams(n)) fail(`${at('quantization.weights', key)}: not a conv2d or dense layer of this model`);
    if (scales.length !== n.outShape[2]) fail(`${at('quantization.weights', key)}: expected ${n.outShape[2]} scales (one per output channel), got ${scales.length}`);
  }
}
