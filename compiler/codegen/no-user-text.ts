/**
 * The last check on every emitted runtime source before asc sees it: no text from the
 * model reaches the code, and every number pasted into it is a number of the kind the
 * code expects. The emitter is built so that neither can happen (labels.ts; the schema
 * bounds every value); a failure here is a bug in tinytrain, reported as an internal error.
 *
 * A user name counts as found in the source if
 *  - it is a plain word (A-Z a-z 0-9 _) and occurs as a whole word that the emitter does
 *    not write itself (a layer may well be called `state` or `forward`: template words);
 *  - otherwise, if it occurs anywhere, unless it is text the emitter writes itself (a layer
 *    called `n: i32`) or made only of digits, spaces and ASCII punctuation, which cannot
 *    spell an identifier or keyword (`-`, `0, 1`) and would match the code's own commas.
 * Names with letters and syntax (`x\nexport function f(): void {}`, `*\/ unreachable(); /*`)
 * are the ones that could change code, and they are found wherever they occur.
 */
import { quote } from '../validate.js';
import { LABEL } from './labels.js';

/** Words the emitter composes itself: labels, streamed-chain helpers (stream0_ensure1), numbers. */
const COMPOSED = new RegExp(`^(?:${LABEL.source.replace(/\\b/g, '')}|stream\\d+(?:_rows\\d+|_ensure\\d+)?|\\d\\w*)$`);

const WORD = /[A-Za-z0-9_]+/g;
const PLAIN = /^[A-Za-z0-9_]+$/;
/** Digits, the space and ASCII punctuation only: no letters, no control characters. */
const NO_LETTERS = /^[0-9 !-/:-@[-`{-~]+$/;

function words(text: string): Set<string> {
  return new Set(text.match(WORD) ?? []);
}

/** The source with comments blanked (numbers in comments are prose, not code). */
function codeOnly(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
}

/**
 * Numbers in code: integers must fit 32 bits (addresses, sizes, multipliers, shifts), a
 * fraction or exponent appears only in an f32 constant (`<f32>0.00392`), and nothing a
 * non-number prints as (NaN, Infinity, undefined, null, [object Object]) appears at all.
 */
function checkNumbers(source: string): void {
  const code = codeOnly(source);
  const bad = /\b(?:NaN|Infinity|undefined|null)\b|\[object /.exec(code);
  if (bad) throw new Error(`codegen: the generated source contains '${bad[0]}' where a number belongs`);
  for (const m of code.matchAll(/(?<![\w.])(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])/g)) {
    const text = m[1]!;
    if (/[.eE]/.test(text)) {
      if (!/<f32>-?$/.test(code.slice(Math.max(0, m.index - 6), m.index))) throw new Error(`codegen: non-integer ${text} outside an f32 constant`);
    } else if (!(Number(text) < 2 ** 32)) {
      throw new Error(`codegen: integer constant ${text} does not fit 32 bits`);
    }
  }
}

/**
 * Returns `source` if it passes; throws an internal error otherwise. `userNames`: every
 * name the model supplied; `ownText`: text the emitter writes on its own (its template),
 * whose words a plain-word name may legitimately share.
 */
export function assertNoUserText(source: string, userNames: Iterable<string>, ownText: string): string {
  const inSource = words(source);
  const own = words(ownText);
  for (const name of userNames) {
    const leaked = PLAIN.test(name) ? inSource.has(name) && !own.has(name) && !COMPOSED.test(name) : source.includes(name) && !NO_LETTERS.test(name) && !ownText.includes(name);
    if (leaked) throw new Error(`codegen: the generated source contains the model's name ${quote(name)}; names must reach code only as labels`);
  }
  checkNumbers(source);
  return source;
}
