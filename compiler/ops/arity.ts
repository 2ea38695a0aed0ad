/**
 * How many inputs an op takes (OpDef.arity): a count, or a range for an op such as Concat
 * that takes any number from `min` (to `max`, if it has one). The layer's schema bounds the
 * list first (layer-fields.ts `inputs`: one or two names, for the ops with one input), then
 * buildGraph asks arityRefusal, so the op says what it takes in its own words.
 */
export type Arity = number | { readonly min: number; readonly max?: number };

/** Why a `layerOp` layer with `count` inputs is refused, or undefined if its op takes that many. */
export function arityRefusal(layerOp: string, arity: Arity, count: number): string | undefined {
  if (typeof arity === 'number') return count === arity ? undefined : `${layerOp} takes ${arity} input(s), got ${count}`;
  const { min, max } = arity;
  if (count >= min && (max === undefined || count <= max)) return undefined;
  return `${layerOp} takes ${max === undefined ? `at least ${min}` : `${min} to ${max}`} inputs, got ${count}`;
}
