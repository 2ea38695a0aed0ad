/**
 * The Tiny Training Engine's scheme form (Lin et al. 2022; mit-han-lab/tiny-training), read
 * as the reference reads it (its prepare_model_for_backward_config / apply_backward_config):
 *
 * - layers are numbered 0-based from the input in conv/linear order; the classifier (the
 *   last of them) is not counted by `n_bias_update` and always trains its weight and bias;
 * - `n_bias_update: n` trains the biases of the last n layers before the classifier;
 * - `manual_weight_idx[k]` trains the weights of that layer (which must lie in the
 *   bias-trained range, as the reference asserts), on int(C * weight_update_ratio[k]) of its
 *   C input channels (depthwise: of its channels); a layer whose weights train also trains
 *   its bias; a ratio of 0 (or int(C * r) = 0) trains no weight;
 * - `weight_select_criteria: "magnitude+"` makes the reference train the input channels with
 *   the largest L2 norm of their weights. tinytrain's sparse kernels and weight layout train
 *   the leading channels, so it trains the same layers and the same number of channels (the
 *   same memory, the same compute) on the first ones; see README "Sparse update".
 *
 * The reference's bookkeeping keys are accepted when they say what the reference's shipped
 * schemes say (enable_backward_config 1, n_weight_update 0/null, pw1_weight_only 0).
 */
import { z } from 'zod';
import { TinytrainError } from '../errors.js';
import { LIMITS } from '../ir/limits.js';
import { intIn, parseWith, userName } from '../validate.js';
import { hasParams, type Graph } from '../ir/graph.js';
import { splitChannels, type LayerTraining, type Scheme } from './scheme.js';

/** The keys that mark a scheme file as the reference's form. */
export const REFERENCE_KEYS = ['n_bias_update', 'manual_weight_idx', 'weight_update_ratio', 'weight_select_criteria', 'enable_backward_config'] as const;

const ratio = z.number({ error: 'expected a weight ratio in [0, 1]' }).refine((r) => Number.isFinite(r) && r >= 0 && r <= 1, { error: 'expected a weight ratio in [0, 1]' });

const referenceForm = z.strictObject({
  name: userName.optional(),
  enable_backward_config: z.literal(1, { error: 'expected 1 (a scheme file always configures the backward)' }).optional(),
  n_bias_update: intIn(0, LIMITS.maxLayers, 'a layer count (a non-negative integer)').optional(),
  n_weight_update: z.union([z.literal(0), z.null()], { error: 'expected 0 or null (tinytrain reads manual_weight_idx, not last-k weights)' }).optional(),
  manual_weight_idx: z
    .array(intIn(0, LIMITS.maxLayers, 'a conv/dense layer index (a non-negative integer)'), { error: 'expected a list of layer indices' })
    .max(LIMITS.maxLayers)
    .optional(),
  weight_update_ratio: z.array(ratio, { error: 'expected a list of weight ratios' }).max(LIMITS.maxLayers).optional(),
  weight_select_criteria: z.literal('magnitude+', { error: 'expected "magnitude+" (the only criterion of the reference\'s shipped schemes)' }).optional(),
  pw1_weight_only: z.literal(0, { error: 'expected 0 (no filtering to first pointwise convs)' }).optional(),
});

export function referenceScheme(g: Graph, json: unknown, name: string, what: string, hint: string): Scheme {
  const r = parseWith(referenceForm, json, what, hint);
  const layers = g.nodes.filter(hasParams);
  const classifier = layers.length - 1;
  const nb = r.n_bias_update ?? 0;
  const idx = r.manual_weight_idx ?? [];
  const ratios = r.weight_update_ratio ?? idx.map(() => 1);
  if (nb > classifier) {
    throw new TinytrainError(`${what}: n_bias_update: expected an integer in 0..${classifier} (the model's conv/dense layers before the classifier), got ${nb}`, hint);
  }
  if (idx.length !== ratios.length) {
    throw new TinytrainError(`${what}: manual_weight_idx has ${idx.length} entries but weight_update_ratio has ${ratios.length}; they must be of equal length`, hint);
  }
  const m = new Map<string, LayerTraining>(layers.map((n, i) => [n.name, { bias: i >= classifier - nb, weightRatio: 0 }]));
  m.set(layers[classifier]!.name, { bias: true, weightRatio: 1 });
  idx.forEach((i, k) => {
    const at = `${what}: manual_weight_idx[${k}]`;
    if (i >= classifier) throw new TinytrainError(`${at}: ${i} is not a conv/dense layer index before the classifier (0..${classifier - 1}); the classifier always trains`, hint);
    if (k > 0 && i <= idx[k - 1]!) throw new TinytrainError(`${at}: ${i} after ${idx[k - 1]}: the indices must be increasing (each layer once)`, hint);
    if (i < classifier - nb) {
      throw new TinytrainError(`${at}: layer ${i} is outside the bias-trained range ${classifier - nb}..${classifier - 1} (n_bias_update ${nb})`, hint);
    }
    const n = layers[i]!;
    const kept = Math.floor(splitChannels(n) * ratios[k]!);
    if (kept > 0) m.set(n.name, { bias: true, weightRatio: kept / splitChannels(n) });
  });
  return { name: r.name ?? name, layers: m };
}
