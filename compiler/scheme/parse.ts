/**
 * Scheme descriptions a user can give to `compile --scheme`:
 *   full | bias-only | last-k:N | FILE.json
 * where the file is either our form
 *   { "name": "...", "layers": { "<layer>": { "bias": true, "weightRatio": 0.5 }, ... } }
 * or the Tiny Training Engine's form (Lin et al. 2022), read with the reference's meaning
 * (reference-form.ts):
 *   { "n_bias_update": 25, "manual_weight_idx": [27, 30], "weight_update_ratio": [1, 0.5], "weight_select_criteria": "magnitude+" }
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { TinytrainError } from '../errors.js';
import { LIMITS } from '../ir/limits.js';
import { parseWith, quote, userName } from '../validate.js';
import { hasParams, type Graph, type Node } from '../ir/graph.js';
import { fullScheme, type LayerTraining, type Scheme } from './scheme.js';
import { REFERENCE_KEYS, referenceScheme } from './reference-form.js';

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

/**
 * One of RATIOS, allowing for rounding in how a file wrote it (0.12500000001), and
 * replaced by the exact value: a near-zero 5e-324 would otherwise count as "> 0" and train
 * one channel.
 */
const ratio = z
  .number({ error: 'expected a weight ratio: 0, 1/8, 1/4, 1/2 or 1' })
  .refine((r) => RATIOS.some((x) => Math.abs(x - r) < 1e-9), { error: 'expected a weight ratio: 0, 1/8, 1/4, 1/2 or 1' })
  .transform((r) => RATIOS.find((x) => Math.abs(x - r) < 1e-9)!);

/** Our form: trained layers by name; a layer not listed is frozen. */
const ownForm = z.strictObject({
  name: userName.optional(),
  layers: z.record(userName, z.strictObject({ bias: z.boolean({ error: 'expected true or false' }).optional(), weightRatio: ratio.optional() }), {
    error: 'expected an object keyed by layer name',
  }),
});

export function schemeFromJson(g: Graph, json: unknown, name: string): Scheme {
  const what = `scheme ${quote(name)}`;
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new TinytrainError(`${what}: not a JSON object`, HINT);
  const o = json as Record<string, unknown>;
  const layers = paramLayers(g);
  const reference = REFERENCE_KEYS.some((k) => k in o);
  if (reference && 'layers' in o) throw new TinytrainError(`${what}: mixes our "layers" form with the n_bias_update/manual_weight_idx form`, HINT);
  if (reference) return referenceScheme(g, json, name, what, HINT);
  if ('layers' in o) {
    const r = parseWith(ownForm, json, what, HINT);
    const m = new Map<string, LayerTraining>(layers.map((n) => [n.name, { bias: false, weightRatio: 0 }]));
    for (const layer of Object.keys(r.layers)) {
      if (!m.has(layer)) {
        throw new TinytrainError(
          `${what}: layers[${quote(layer)}]: not a conv/dense layer of model ${quote(g.name)}`,
          `layers are: ${layers
            .slice(0, 20)
            .map((n) => quote(n.name))
            .join(', ')}${layers.length > 20 ? ', ...' : ''}`,
        );
      }
      const e = r.layers[layer]!;
      m.set(layer, { bias: e.bias === true, weightRatio: e.weightRatio ?? 0 });
    }
    return { name: r.name ?? name, layers: m };
  }
  throw new TinytrainError(`${what}: unrecognised form (no "layers", n_bias_update or manual_weight_idx)`, HINT);
}

export function parseScheme(g: Graph, text: string): Scheme {
  if (text === 'full') return fullScheme(g);
  if (text === 'bias-only') return biasOnlyScheme(g);
  const k = /^last-k:(\d+)$/.exec(text);
  if (k) return lastKScheme(g, Number(k[1]));
  if (existsSync(text)) {
    const stat = statSync(text);
    if (!stat.isFile()) throw new TinytrainError(`scheme file ${text} is not a file`, HINT);
    if (stat.size > LIMITS.maxSchemeFileBytes) throw new TinytrainError(`scheme file ${text}: ${stat.size} bytes, more than the limit of ${LIMITS.maxSchemeFileBytes}`, HINT);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(text, 'utf8'));
    } catch (e) {
      throw new TinytrainError(`scheme file ${text}: not valid JSON (${(e as Error).message})`, HINT);
    }
    return schemeFromJson(g, json, text);
  }
  throw new TinytrainError(`unknown scheme '${text}'`, HINT);
}
