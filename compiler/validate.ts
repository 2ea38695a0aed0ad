/**
 * Schema checks of user files (model and scheme JSON, and specs given to the TS API) with
 * zod, reported as a TinytrainError whose message names the field path:
 *
 *   model: layers[3].kernel: expected a positive integer <= 64, got -1
 *
 * Only the first few problems are listed: a badly broken file would otherwise print pages.
 */
import { z } from 'zod';
import { TinytrainError } from './errors.js';
import { LIMITS } from './ir/limits.js';

const SHOWN_ISSUES = 3;

/** `layers[3].kernel`, `params["conv 1"].weight`. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][\w$]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${quote(String(p))}]`;
  }
  return out || '(top level)';
}

/**
 * A short, single-line, printable rendering of a user value for a message. Never
 * recursive (a deeply nested value is only described), and control characters are
 * escaped so a hostile string cannot forge lines in a terminal or a log.
 */
export function preview(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) {
    const flat = v.length <= 4 && v.every((x) => x === null || ['number', 'boolean'].includes(typeof x));
    return flat ? `[${v.map((x) => String(x)).join(', ')}]` : `a list of ${v.length}`;
  }
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** A user string quoted for a message: at most 60 characters, control and format characters escaped. */
export function quote(s: string): string {
  const short = s.length > 60 ? `${s.slice(0, 57)}...` : s;
  return JSON.stringify(short).replace(/[\p{C}\p{Zl}\p{Zp}]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

/** Extra words for a field path, e.g. the name of the layer at `layers[3]`. */
export type PathNote = (path: ReadonlyArray<PropertyKey>) => string | undefined;

function describeIssue(issue: z.core.$ZodIssue, note?: PathNote): string {
  const extra = note?.(issue.path);
  const at = fieldPath(issue.path) + (extra ? ` (${extra})` : '');
  if (issue.code === 'unrecognized_keys') return `${at}: unknown ${issue.keys.length > 1 ? 'keys' : 'key'} ${issue.keys.slice(0, 5).map(quote).join(', ')}`;
  const input = (issue as { input?: unknown }).input;
  if (issue.code === 'invalid_type' && input === undefined) return `${at}: missing (${issue.message})`;
  if (issue.code === 'invalid_union' && 'discriminator' in issue && typeof issue.discriminator === 'string') {
    // zod reports the whole object; the field at fault is its discriminator.
    const value = input && typeof input === 'object' ? (input as Record<string, unknown>)[issue.discriminator] : input;
    return `${at}: ${issue.message}, got ${preview(value)}`;
  }
  return `${at}: ${issue.message}, got ${preview(input)}`;
}

/**
 * Parses `value` with `schema`; on failure throws a TinytrainError listing the first
 * problems, each with its field path, prefixed by `what` (e.g. "model examples/x.json").
 */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string, hint: string, note?: PathNote): T {
  const r = z.safeParse(schema, value, { reportInput: true });
  if (r.success) return r.data;
  const issues = r.error.issues;
  const lines = issues.slice(0, SHOWN_ISSUES).map((i) => describeIssue(i, note));
  const more = issues.length > SHOWN_ISSUES ? ` (and ${issues.length - SHOWN_ISSUES} more)` : '';
  throw new TinytrainError(`${what}: ${lines.join('; ')}${more}`, hint);
}

// Building blocks shared by the model and scheme schemas, each with a message that says
// what was expected (zod's own are generic).

/** An integer in [lo, hi]. */
export const intIn = (lo: number, hi: number, what = `an integer in ${lo}..${hi}`): z.ZodType<number> =>
  z.number({ error: `expected ${what}` }).refine((v) => Number.isInteger(v) && v >= lo && v <= hi, { error: `expected ${what}` });

export const positiveInt = (max: number): z.ZodType<number> => intIn(1, max, `a positive integer <= ${max}`);

/** A finite number with |v| <= LIMITS.maxAbsReal. */
export const real = z
  .number({ error: 'expected a finite number' })
  .refine((v) => Math.abs(v) <= LIMITS.maxAbsReal, { error: `expected a finite number of magnitude <= ${LIMITS.maxAbsReal}` });

/** A quantisation scale: finite, in [minScale, maxAbsReal]. */
export const scale = z
  .number({ error: 'expected a positive finite scale' })
  .refine((v) => v >= LIMITS.minScale && v <= LIMITS.maxAbsReal, { error: `expected a scale in [${LIMITS.minScale}, ${LIMITS.maxAbsReal}]` });

/**
 * Names of models, layers and schemes. They never reach generated code (labels do:
 * compiler/codegen/labels.ts), only manifests and messages, so odd but honest names such
 * as ONNX's `/features/0/Conv` are fine. What is refused is what could forge output in a
 * terminal, a log or a report: control characters (newlines, NUL, escapes), Unicode format
 * characters (bidi overrides, zero-width joiners), line/paragraph separators, lone
 * surrogates and unassigned code points; and the empty string and very long strings.
 */
export const userName = z
  .string({ error: 'expected a name (string)' })
  .min(1, { error: 'expected a non-empty name' })
  .max(LIMITS.maxNameLength, { error: `expected a name of at most ${LIMITS.maxNameLength} characters` })
  .refine((s) => !/[\p{C}\p{Zl}\p{Zp}]/u.test(s), { error: 'names may not contain control, format or line-separator characters' })
  // The one key a plain JS object cannot hold as data (assigning it sets the prototype),
  // and names are keys of the params/calibration records.
  .refine((s) => s !== '__proto__', { error: "'__proto__' cannot be a name" });
