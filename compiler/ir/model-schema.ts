/**
 * The schema of a model spec (model.ts), checked with zod wherever a spec enters the
 * compiler (buildGraph, which compile(), quantizeSpec() and the ONNX importer all go
 * through). This file checks each field on its own and the references between fields that
 * need no shapes (unique names, `inputs` naming earlier layers, ranges with lo <= hi);
 * graph.ts then checks shapes against LIMITS and model-refs.ts the parameters,
 * calibration and quantisation against the graph.
 *
 * A layer's schema is its op's (OpDef.layer, beside the layer's interface in the op's
 * module); this file puts the registry's together, one per layer op, told apart by `op`.
 * The hand-written interfaces stay the documentation (each field has a doc comment there,
 * which z.infer would lose); compile-time checks make sure each layer's schema accepts
 * exactly its interface (layer-fields.ts layerSchema) and this one the rest of model.ts,
 * so the two cannot drift apart.
 */
import { z } from 'zod';
import { layerFormats, type LayerFormat } from '../ops/registry.js';
import type { LayerSchema } from '../ops/types.js';
import type { SchemaAgrees } from '../schema-agreement.js';
import { LIMITS } from './limits.js';
import type { Layer, ModelSpec } from './model.js';
import { intIn, parseWith, positiveInt, quote, real, scale, userName } from '../validate.js';

/**
 * A layer: one of the registry's layer ops, told apart by `op`, each checked by its own
 * op's schema (compiler/ops/). Built from the registry when first needed, not when this
 * module loads (the registry's ops may not have loaded yet: they sit in import cycles).
 */
function layerSchema(formats: readonly LayerFormat[]): z.ZodType<Layer> {
  const ops = formats.map((f) => f.op);
  const schemas = formats.map((f) => f.schema) as [LayerSchema<Layer>, ...Array<LayerSchema<Layer>>];
  return z.discriminatedUnion('op', schemas, {
    error: (iss) => (iss.code === 'invalid_union' ? `expected op to be one of ${ops.join(', ')}` : undefined),
  });
}

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

/** The schema of a model spec whose layers are `layer`. */
const modelSchemaOf = (layer: z.ZodType<Layer>) =>
  z
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
      // Its content is checked against the graph by schemeFromJson when compiling.
      scheme: z.record(z.string(), z.unknown(), { error: 'expected a scheme object (the JSON a --scheme FILE.json holds)' }).optional(),
      outputActivation: z.enum(['softmax', 'logsoftmax', 'sigmoid'], { error: "expected 'softmax', 'logsoftmax' or 'sigmoid'" }).optional(),
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

let built: { formats: readonly LayerFormat[]; schema: ReturnType<typeof modelSchemaOf> } | undefined;

/** The model schema over the registry's layer formats (rebuilt only if those change: a test's extra ops). */
function modelSchema(): ReturnType<typeof modelSchemaOf> {
  const formats = layerFormats();
  if (built?.formats !== formats) built = { formats, schema: modelSchemaOf(layerSchema(formats)) };
  return built.schema;
}

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
  parseWith(modelSchema(), spec, what, MODEL_HINT, (path) => layerNote(spec, path));
  // The input object itself, not zod's copy: callers may hold on to it (and it is now known good).
  return spec as ModelSpec;
}

// Compile-time check: the schema accepts exactly the documented interfaces of model.ts.
const schemaMatchesInterface: SchemaAgrees<z.infer<ReturnType<typeof modelSchemaOf>>, ModelSpec> = true;
void schemaMatchesInterface;
