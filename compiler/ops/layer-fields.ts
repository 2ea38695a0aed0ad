/**
 * What the ops' layer schemas share: the fields many layers have (a fused activation, a
 * list of input names, kernel sizes and strides), the schema of a layer with nothing but
 * its op, and the compile-time check that a layer's schema accepts exactly its documented
 * interface. Each op's own layer (its interface and schema) is in its module; model-schema.ts
 * puts them together, from the registry, into the schema of a model file.
 *
 * A leaf module (zod, the limits and the shared name rule only): op modules read these
 * constants while they load, inside the compiler's import cycles, where only a module
 * outside every cycle is sure to have run already.
 */
import { z } from 'zod';
import type { SchemaAgrees } from '../schema-agreement.js';
import { LIMITS } from '../ir/limits.js';
import type { LayerSchema } from './types.js';
import { positiveInt, userName } from '../validate.js';

/** A fused activation. */
export const activation = z.enum(['none', 'relu', 'relu6'], { error: "expected 'none', 'relu' or 'relu6'" });

/**
 * The `inputs` of an op with one input: one or two names (the op's arity then says how
 * many it takes, with its own message). add names its two in its own schema; an op whose
 * arity is a range takes manyInputs.
 */
export const inputs = z
  .array(userName, { error: 'expected a list of tensor names' })
  .min(1, { error: 'expected at least one input' })
  .max(2, { error: 'expected at most two inputs' });

/**
 * The `inputs` of an op whose arity is a range (Concat: two or more): any number of names
 * the model could hold; the op's arity says how many it takes (arity.ts).
 */
export const manyInputs = z
  .array(userName, { error: 'expected a list of tensor names' })
  .min(1, { error: 'expected at least one input' })
  .max(LIMITS.maxLayers, { error: `expected at most ${LIMITS.maxLayers} inputs` });

export const kernelSize = positiveInt(LIMITS.maxKernel);
export const stride = positiveInt(LIMITS.maxStride);

/**
 * The schema of layer interface L, checked at compile time to accept exactly L: same
 * fields, same types, same optional ones (schema-agreement.ts). A schema that drifts from
 * its interface makes the argument `never`, so the call does not type-check.
 *
 *   export const denseLayer = layerSchema<DenseLayer>()(z.strictObject({ ... }));
 */
export function layerSchema<L>() {
  return <S extends z.ZodObject>(schema: S & (SchemaAgrees<z.infer<S>, L> extends true ? unknown : never)): LayerSchema<L> => schema as unknown as LayerSchema<L>;
}

/** A layer with no attributes of its own: its op, a name, its inputs. */
export interface PlainLayer<K extends string> {
  op: K;
  name?: string;
  inputs?: string[];
}

const plainSchema = <K extends string>(op: K) => z.strictObject({ op: z.literal(op), name: userName.optional(), inputs: inputs.optional() });

/** The schema of PlainLayer<K>. */
export function plainLayer<K extends string>(op: K): LayerSchema<PlainLayer<K>> {
  return plainSchema(op) as unknown as LayerSchema<PlainLayer<K>>;
}

// layerSchema's check, on one K (it cannot decide agreement for every K at once).
const plainAgrees: SchemaAgrees<z.infer<ReturnType<typeof plainSchema<'relu'>>>, PlainLayer<'relu'>> = true;
void plainAgrees;
