/**
 * Compile-time agreement between a zod schema and the hand-written, documented
 * interface it checks (model.ts, manifest.ts). Plain mutual assignability misses an
 * optional field present on one side only, so objects must also have the same keys,
 * field by field, all the way down; a union of objects (the layer kinds) agrees when each
 * member on either side has an agreeing member on the other.
 * Used as `const ok: SchemaAgrees<A, B> = true`.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

type AllTrue<T> = [T] extends [true] ? true : false;

type FieldsAgree<A, B> =
  Same<keyof A, keyof B> extends true ? AllTrue<{ [K in keyof A]-?: K extends keyof B ? SchemaAgrees<NonNullable<A[K]>, NonNullable<B[K]>> : false }[keyof A]> : false;

/** Some member of union B agrees with object A. */
type SomeMemberAgrees<A, B> = true extends (B extends unknown ? ObjectAgrees<A, B> : never) ? true : false;
/** Every member of union A has an agreeing member in B. */
type EachMemberMatched<A, B> = AllTrue<A extends unknown ? SomeMemberAgrees<A, B> : never>;

type ObjectAgrees<A, B> = Same<A, B> extends true ? FieldsAgree<A, B> : false;

/** true when A and B are the same type and every nested object has the same keys. */
export type SchemaAgrees<A, B> =
  Same<A, B> extends true
    ? [A] extends [readonly (infer E)[]]
      ? [B] extends [readonly (infer F)[]]
        ? SchemaAgrees<E, F>
        : false
      : [A] extends [object]
        ? EachMemberMatched<A, B> extends true
          ? EachMemberMatched<B, A>
          : false
        : true
    : false;
