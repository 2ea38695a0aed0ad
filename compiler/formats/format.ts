/**
 * A binary format described once: the fields in order (each offset follows from the
 * sizes before it, so two fields can never overlap and nothing is left unnamed), the
 * constants that go with it (magic, version, flag bits), and a doc line for each. The TS
 * writers and readers take their offsets from here; generate-as.ts and generate-c.ts turn
 * the same description into the AssemblyScript and C that read the bytes on a device.
 *
 * Every multi-byte value is little-endian, like WebAssembly memory and Cortex-M.
 */

export type FieldType = 'u32' | 'i32' | 'f32' | 'ascii16';

const FIELD_BYTES: Record<FieldType, number> = { u32: 4, i32: 4, f32: 4, ascii16: 16 };

export interface FieldSpec {
  /** camelCase; the generators derive SCREAMING_CASE (AS, C constants) and snake_case (C struct members) from it. */
  readonly name: string;
  readonly type: FieldType;
  readonly doc: string;
}

export interface Field extends FieldSpec {
  /** Byte offset from the start of the record. */
  readonly offset: number;
  readonly bytes: number;
}

export interface ConstantSpec {
  readonly name: string;
  readonly value: number;
  readonly doc: string;
}

export interface Format<N extends string = string, C extends string = string> {
  /** Short identifier: the prefix of every generated name (JOB -> JOB_STEPS, TT_JOB_STEPS). */
  readonly id: string;
  /** What the record is and where it lives (first line of every generated block). */
  readonly doc: string;
  readonly fields: readonly Field[];
  readonly constants: readonly ConstantSpec[];
  /** Total bytes of the record (the sum of its fields: there is no padding). */
  readonly bytes: number;
  /** Byte offset of each field, by name: what TS code reads and writes with. */
  readonly offset: Readonly<Record<N, number>>;
  /** The constants by name, for TS code. */
  readonly value: Readonly<Record<C, number>>;
}

export function defineFormat<const F extends readonly FieldSpec[], const C extends readonly ConstantSpec[] = []>(
  id: string,
  doc: string,
  specs: F,
  constants: C = [] as unknown as C,
): Format<F[number]['name'], C[number]['name']> {
  let at = 0;
  const fields = specs.map((s): Field => {
    const f = { ...s, offset: at, bytes: FIELD_BYTES[s.type] };
    at += f.bytes;
    return f;
  });
  const names = new Set(fields.map((f) => f.name));
  if (names.size !== fields.length) throw new Error(`format ${id}: two fields share a name`);
  const offset = Object.fromEntries(fields.map((f) => [f.name, f.offset])) as Record<F[number]['name'], number>;
  const value = Object.fromEntries(constants.map((c) => [c.name, c.value])) as Record<C[number]['name'], number>;
  return { id, doc, fields, constants, bytes: at, offset, value };
}

/** A four-character tag as the little-endian u32 its ASCII bytes read as ('TTJB' -> 0x424a5454). */
export function fourCC(tag: string): number {
  if (!/^[\x20-\x7e]{4}$/.test(tag)) throw new Error(`magic ${JSON.stringify(tag)} is not four ASCII characters`);
  return (tag.charCodeAt(0) | (tag.charCodeAt(1) << 8) | (tag.charCodeAt(2) << 16) | (tag.charCodeAt(3) << 24)) >>> 0;
}

/** The four characters of a tag made by fourCC (0x424a5454 -> 'TTJB'). */
export function fourCCText(v: number): string {
  return String.fromCharCode(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

/** camelCase -> SCREAMING_SNAKE (layoutIdLow -> LAYOUT_ID_LOW). */
export function screaming(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** camelCase -> snake_case (layoutIdLow -> layout_id_low). */
export function snake(name: string): string {
  return screaming(name).toLowerCase();
}
