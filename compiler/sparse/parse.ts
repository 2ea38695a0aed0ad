/**
 * Scheme descriptions a user can give to `compile --scheme`:
 *   full | bias-only | last-k:N | FILE.json
 * where the file is either our form
 *   { "name": "...", "layers": { "<layer>": { "bias": true, "weightRatio": 0.5 }, ... } }
 * or the Tiny Training Engine's form (Lin et al. 2022)
 *   { "n_bias_update": 25, "manual_weight_idx": [27, 30], "weight_update_ratio": [1, 0.5] }
 * with manual_weight_idx counting conv/dense layers from the input, 0-based, and
 * n_bias_update meaning "the last n conv/dense layers update their bias".
 */
import { existsSync, readFileSync } from 'node:fs';
import { TinytrainError } from '../errors.js';
import { hasParams, type Graph, type Node } from '../ir/graph.js';
import { fullScheme, type LayerTraining, type Scheme } from './scheme.js';

export const RATIOS: readonly number[] = [0, 1 / 8, 1 / 4, 1 / 2, 1];

const HINT = 'use full, bias-only, last-k:N, or a JSON file (our {"layers": {...}} form or the n_bias_update/manual_weight_idx/weight_update_ratio form)';

function paramLayers(g: Graph): Node[] {
  return g.nodes.filter(hasParams);
}

export function biasOnlyScheme(g: Graph): Scheme {
  return { name: 'bias-only', layers: new Map(paramLayers(g).map((n) => [n.name, { bias: true, weightRatio: 0 }])) };
}

export function lastKScheme(g: Graph, k: number): Scheme {
  const layers = paramLayers(g);
  if (!Number.isInteger(k) || k < 1 || k > layers.length) {
    throw new TinytrainError(`scheme last-k:${k}: k must be between 1 and ${layers.length} (the model's conv/dense layers)`, HINT);
  }
  const m = new Map<string, LayerTraining>();
  layers.forEach((n, i) => m.set(n.name, i >= layers.length - k ? { bias: true, weightRatio: 1 } : { bias: false, weightRatio: 0 }));
  return { name: `last-k:${k}`, layers: m };
}

function checkRatio(r: unknown, where: string): number {
  if (typeof r !== 'number' || !RATIOS.some((x) => Math.abs(x - r) < 1e-9)) {
    throw new TinytrainError(`${where}: weight ratio ${JSON.stringify(r)} is not one of 0, 1/8, 1/4, 1/2, 1`, HINT);
  }
  return r;
}

export function schemeFromJson(g: Graph, json: unknown, name: string): Scheme {
  if (!json || typeof json !== 'object') throw new TinytrainError(`scheme ${name}: not a JSON object`, HINT);
  const o = json as Record<string, unknown>;
  const layers = paramLayers(g);
  if ('n_bias_update' in o || 'manual_weight_idx' in o) {
    const nb = o.n_bias_update ?? 0;
    const idx = o.manual_weight_idx ?? [];
    const ratios = o.weight_update_ratio ?? (Array.isArray(idx) ? idx.map(() => 1) : []);
    if (typeof nb !== 'number' || !Number.isInteger(nb) || nb < 0 || nb > layers.length) {
      throw new TinytrainError(`scheme ${name}: n_bias_update must be an integer in 0..${layers.length}, got ${JSON.stringify(nb)}`, HINT);
    }
    if (!Array.isArray(idx) || !Array.isArray(ratios) || idx.length !== ratios.length) {
      throw new TinytrainError(`scheme ${name}: manual_weight_idx and weight_update_ratio must be lists of equal length`, HINT);
    }
    const m = new Map<string, LayerTraining>(layers.map((n, i) => [n.name, { bias: i >= layers.length - nb, weightRatio: 0 }]));
    idx.forEach((i, k) => {
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= layers.length) {
        throw new TinytrainError(`scheme ${name}: manual_weight_idx ${JSON.stringify(i)} is not a conv/dense layer index (0..${layers.length - 1})`, HINT);
      }
      m.get(layers[i]!.name)!.weightRatio = checkRatio(ratios[k], `scheme ${name}, layer ${i}`);
    });
    return { name: o.name && typeof o.name === 'string' ? o.name : name, layers: m };
  }
  if (o.layers && typeof o.layers === 'object') {
    const m = new Map<string, LayerTraining>(layers.map((n) => [n.name, { bias: false, weightRatio: 0 }]));
    for (const [layer, v] of Object.entries(o.layers as Record<string, unknown>)) {
      if (!m.has(layer)) {
        throw new TinytrainError(`scheme ${name}: '${layer}' is not a conv/dense layer of model '${g.name}'`, `layers are: ${layers.map((n) => n.name).join(', ')}`);
      }
      const e = (v ?? {}) as Record<string, unknown>;
      m.set(layer, { bias: e.bias === true, weightRatio: e.weightRatio === undefined ? 0 : checkRatio(e.weightRatio, `scheme ${name}, layer ${layer}`) });
    }
    return { name: typeof o.name === 'string' ? o.name : name, layers: m };
  }
  throw new TinytrainError(`scheme ${name}: unrecognised form`, HINT);
}

export function parseScheme(g: Graph, text: string): Scheme {
  if (text === 'full') return fullScheme(g);
  if (text === 'bias-only') return biasOnlyScheme(g);
  const k = /^last-k:(\d+)$/.exec(text);
  if (k) return lastKScheme(g, Number(k[1]));
  if (existsSync(text)) {
    let json: unknown;
    try { json = JSON.parse(readFileSync(text, 'utf8')); } catch (e) {
      throw new TinytrainError(`scheme file ${text}: not valid JSON (${(e as Error).message})`, HINT);
    }
    return schemeFromJson(g, json, text);
  }
  throw new TinytrainError(`unknown scheme '${text}'`, HINT);
}
