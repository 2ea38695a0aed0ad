/**
 * The schema of a model spec (model.ts), checked with zod wherever a spec enters the
 * compiler (buildGraph, which compile(), quantizeSpec() and the ONNX importer all go
 * through). This file checks each field on its own and the references between fields that
 * need no shapes (unique names, `inputs` naming earlier layers, ranges with lo <= hi);
 * graph.ts then checks shapes against LIMITS and model-refs.ts the parameters,
 * calibration and quantisation against the graph.
 *
 * The hand-written interfaces in model.ts stay the documentation (each field has a doc
 * comment there, which z.infer would lose); a compile-time check at the bottom makes sure
 * this schema accepts exactly those types, so the two cannot drift apart.
 */
import { z } from 'zod';
import type { SchemaAgrees } from '../schema-agreement.js';
import { LIMITS } from './limits.js';
import type { Layer, ModelSpec } from './model.js';
import { intIn, parseWith, positiveInt, quote, real, scale, userName } from '../validate.js';

const activation = z.enum(['none', 'relu', 'relu6'], { error: "expected 'none', 'relu' or 'relu6'" });
const inputs = z.array(userName, { error: 'expected a list of tensor names' }).min(1, { error: 'expected at least one input' }).max(2, { error: 'expected at most two inputs' });
const kernelSize = positiveInt(LIMITS.maxKernel);
const stride = positiveInt(LIMITS.maxStride);

const conv2d = z.strictObject({
  op: z.literal('conv2d'),
  name: userName.optional(),
  inputs: inputs.optional(),
  filters: positiveInt(LIMITS.maxChannels),
  kernel: z.union([kernelSize, z.tuple([kernelSize, kernelSize])], { error: `expected a kernel size (a positive integer <= ${LIMITS.maxKernel}, or [KH, KW])` }),
  stride: stride.optional(),
  padding: z
    .union([intIn(0, LIMITS.maxKernel), z.literal('same'), z.literal('valid')], { error: `expected an integer padding in 0..${LIMITS.maxKernel}, 'same' or 'valid'` })
    .optional(),
  groups: z.union([z.literal(1), z.literal('depthwise')], { error: "expected 1 or 'depthwise'" }).optional(),
  activation: activation.optional(),
});

const dense = z.strictObject({
  op: z.literal('dense'),
  name: userName.optional(),
  inputs: inputs.optional(),
  units: positiveInt(LIMITS.maxChannels),
  activation: activation.optional(),
});

const add = z.strictObject({
  op: z.literal('add'),
  name: userName.optional(),
  inputs: z.tuple([userName, userName], { error: 'expected the names of the two tensors to add' }),
  activation: activation.optional(),
});

const avgpool = z.strictObject({
  op: z.literal('avgpool'),
  name: userName.optional(),
  inputs: inputs.optional(),
  size: positiveInt(LIMITS.maxSpatial),
  stride: stride.optional(),
});

const simple = z.strictObject({
  op: z.enum(['globalavgpool', 'relu', 'relu6', 'flatten']),
  name: userName.optional(),
  inputs: inputs.optional(),
});

const OP_NAMES = ['conv2d', 'dense', 'add', 'avgpool', 'globalavgpool', 'relu', 'relu6', 'flatten'];

const layer = z.discriminatedUnion('op', [conv2d, dense, add, avgpool, simple], {
  error: (iss) => (iss.code === 'invalid_union' ? `expected op to be one of ${OP_NAMES.join(', ')}` : undefined),
});

const range = z.tuple([real, real], { error: 'expected [lo, hi] of finite numbers' }).refine(([lo, hi]) => lo <= hi, { error: 'expected lo <= hi' });

/** Base64 of float32 data: its length (and contents) are checked against the graph by model-refs.ts. */
const base64 = z
  .string({ error: 'expected base64 text' })
  .max(Math.ceil((LIMITS.maxParameters * 4) / 3) + 4, { error: 'expected at most the model parameter limit of data' })
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, { error: 'expected base64 text (A-Z, a-z, 0-9, +, /, = padding)' });

/**
 * Keys of the by-name records (params, calibration, quantization) are names too, so a
 * key like "__proto__" is refused there; model-refs.ts then checks each key names a
 * tensor or layer of the graph.
 */
const byName = <T extends z.ZodType>(value: T) => z.record(userName, value, { error: 'expected an object keyed by tensor or layer name' });

const modelSchema = z
  .strictObject({
    format: z.literal('tinytrain-model@1', { error: 'expected "tinytrain-model@1"' }),
    name: userName,
    input: z.tuple([positiveInt(LIMITS.maxSpatial), positiveInt(LIMITS.maxSpatial), positiveInt(LIMITS.maxChannels)], { error: 'expected [H, W, C] of positive integers' }),
    inputRange: z
      .tuple([real, real], { error: 'expected [min, max] of finite numbers' })
      .refine(([lo, hi]) => lo < hi, { error: 'expected min < max' })
      .optional(),
    layers: z
      .array(layer, { error: 'expected a list of layers' })
      .min(1, { error: 'expected at least one layer' })
      .max(LIMITS.maxLayers, { error: `expected at most ${LIMITS.maxLayers} layers` }),
    seed: intIn(0, 2 ** 32 - 1, 'an integer seed in 0..2^32-1').optional(),
    params: byName(z.strictObject({ weight: base64, bias: base64 })).optional(),
    calibration: byName(range).optional(),
    quantization: z
      .strictObject({
        tensors: byName(z.strictObject({ scale, zeroPoint: intIn(-128, 127, 'an integer zero point in -128..127') })).optional(),
        weights: byName(z.array(scale, { error: 'expected a list of per-channel scales' }).max(LIMITS.maxChannels)).optional(),
      })
      .optional(),
    outputActivation: z.enum(['softmax', 'logsoftmax'], { error: "expected 'softmax' or 'logsoftmax'" }).optional(),
    notes: z
      .string({ error: 'expected text' })
      .max(LIMITS.maxNotesLength, { error: `expected at most ${LIMITS.maxNotesLength} characters` })
      .optional(),
    generator: z
      .string({ error: 'expected text' })
      .max(LIMITS.maxNameLength, { error: `expected at most ${LIMITS.maxNameLength} characters` })
      .optional(),
  })
  .superRefine((spec, ctx) => {
    // Layer names, and what each layer reads: names are unique, 'input' is the model's.
    const seen = new Set<string>(['input']);
    spec.layers.forEach((l, i) => {
      const own = layerName(l, i);
      if (seen.has(own)) {
        ctx.addIssue({
          code: 'custom',
          path: ['layers', i, 'name'],
          input: own,
          message: own === 'input' ? "'input' names the model input; give the layer another name" : 'duplicate layer name (names must be unique)',
        });
      }
      (l.inputs ?? []).forEach((t, k) => {
        if (!seen.has(t)) {
          ctx.addIssue({ code: 'custom', path: ['layers', i, 'inputs', k], input: t, message: 'expected "input" or the name of a layer above this one' });
        }
      });
      seen.add(own);
    });
  });

/** `layer "conv1"` for a problem inside layers[i] whose name is a usable string. */
function layerNote(spec: unknown, path: ReadonlyArray<PropertyKey>): string | undefined {
  if (path[0] !== 'layers' || typeof path[1] !== 'number' || path.length < 3 || path[2] === 'name') return undefined;
  const layers = (spec as { layers?: unknown }).layers;
  const l = Array.isArray(layers) ? (layers[path[1]] as { name?: unknown } | undefined) : undefined;
  return l && typeof l === 'object' && typeof l.name === 'string' ? `layer ${quote(l.name)}` : undefined;
}

/** A layer's name: its own, or `<op>_<index>` (what graph.ts and the error messages use). */
export function layerName(l: Pick<Layer, 'op' | 'name'>, index: number): string {
  return l.name ?? `${l.op}_${index}`;
}

export const MODEL_HINT = 'fix the model file; see examples/mnist-cnn.json for the format';

/** The spec, checked field by field; throws a TinytrainError naming the field path. */
export function parseModelSpec(spec: unknown): ModelSpec {
  const what = spec && typeof spec === 'object' && typeof (spec as { name?: unknown }).name === 'string' ? `model ${quote((spec as { name: string }).name)}` : 'model';
  parseWith(modelSchema, spec, what, MODEL_HINT, (path) => layerNote(spec, path));
  // The input object itself, not zod's copy: callers may hold on to it (and it is now known good).
  return spec as ModelSpec;
}

// Compile-time check: the schema accepts exactly the documented interfaces of model.ts.
const schemaMatchesInterface: SchemaAgrees<z.infer<typeof modelSchema>, ModelSpec> = true;
void schemaMatchesInterface;
