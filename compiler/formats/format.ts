/**
 * A binary format described once: the fields in order (each offset follows from the
 * sizes before it, so two fields can never overlap and nothing is left unnamed), the
 * constants that go with it (magic, version, flag bits), and a doc line for each. The TS
 * writers and readers take their offsets from here; generate-as.ts and generate-c.ts turn
 * the same description into the AssemblyScript and C that read the bytes on a device.
 *
 * Every multi-byte value is little-endian, like WebAssembly memory and Cortex-M.
 */

/**
 * `ptr`: a linear-memory address (u32; 0 where the kernel takes "none"). `bool`: a u32
 * that is 0 or 1. Both are 4 bytes like every other word, so records stay aligned and C
 * structs have no padding.
 */
export type FieldType = 'u32' | 'i32' | 'f32' | 'ptr' | 'bool' | 'ascii16';

const FIELD_BYTES: Record<FieldType, number> = { u32: 4, i32: 4, f32: 4, ptr: 4, bool: 4, ascii16: 16 };

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
): Format<F[number]['name'], C[number]['name']> & { readonly specs: F } {
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
  return { id, doc, fields, constants, bytes: at, offset, value, specs };
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

/** What a TS writer passes for a field of each type (a bool field also takes 0 and 1, as kernels' callers often have them). */
export type FieldValue<T extends FieldType> = T extends 'bool' ? boolean | 0 | 1 : T extends 'ascii16' ? string : number;

/** A record's contents as a typed object: one value per field, by name. */
export type RecordValues<S extends readonly FieldSpec[]> = { [F in S[number] as F['name']]: FieldValue<F['type']> };

const U32_MAX = 2 ** 32 - 1;

/** Checks one value against its field's type; the message names the format and field. */
function checkValue(f: Format, field: Field, v: unknown): void {
  const bad = (what: string): never => {
    throw new Error(`format ${f.id}: field ${field.name} (${field.type}) ${what}, got ${JSON.stringify(v)}`);
  };
  if (field.type === 'bool') {
    if (v !== true && v !== false && v !== 0 && v !== 1) bad('must be a boolean');
    return;
  }
  if (field.type === 'ascii16') {
    if (typeof v !== 'string' || !/^[\x20-\x7e]{0,16}$/.test(v)) bad('must be at most 16 ASCII characters');
    return;
  }
  if (typeof v !== 'number') return bad('must be a number');
  if (field.type === 'f32') {
    if (!Number.isFinite(Math.fround(v))) bad('must be a finite float32');
  } else if (!Number.isInteger(v)) {
    bad('must be an integer');
  } else if (field.type === 'i32' ? v < -(2 ** 31) || v > 2 ** 31 - 1 : v < 0 || v > U32_MAX) {
    bad('is out of range');
  }
}

/**
 * The bytes of one record (little-endian, fields at their offsets). Every field must be
 * given and of its type: a record a kernel reads is never partly filled by accident.
 */
export function writeRecord(f: Format, values: Readonly<Record<string, unknown>>): Uint8Array {
  const out = new Uint8Array(f.bytes);
  const view = new DataView(out.buffer);
  for (const field of f.fields) {
    if (!(field.name in values)) throw new Error(`format ${f.id}: field ${field.name} is missing`);
    const v = values[field.name];
    checkValue(f, field, v);
    if (field.type === 'f32') view.setFloat32(field.offset, v as number, true);
    else if (field.type === 'i32') view.setInt32(field.offset, v as number, true);
    else if (field.type === 'bool') view.setUint32(field.offset, v ? 1 : 0, true);
    else if (field.type === 'ascii16') for (let i = 0; i < (v as string).length; i++) out[field.offset + i] = (v as string).charCodeAt(i);
    else view.setUint32(field.offset, v as number, true);
  }
  const extra = Object.keys(values).filter((k) => !f.fields.some((x) => x.name === k));
  if (extra.length) throw new Error(`format ${f.id} has no field ${extra.join(', ')}`);
  return out;
}
