/**
 * Which of an imported model's outputs tinytrain trains: its only one, or, for a model with
 * several (a detector's scores and boxes, a landmark model's points and flags), the one the
 * user names (--model-output). The importers then keep only what that output depends on.
 */
import { TinytrainError } from '../errors.js';

export function chooseOutput(names: readonly string[], wanted: string | undefined, where: string): string {
  const list = names.map((n) => `'${n}'`).join(', ');
  if (wanted !== undefined) {
    if (!names.includes(wanted)) throw new TinytrainError(`${where}: --model-output '${wanted}' is not one of its outputs (${list || 'none'})`, 'give one of the names listed');
    return wanted;
  }
  if (names.length !== 1) {
    throw new TinytrainError(
      `${where}: the model has ${names.length} outputs${names.length ? ` (${list})` : ''}`,
      names.length > 1 ? 'tinytrain trains one output: choose it with --model-output NAME' : 'tinytrain trains models with one output (the class logits)',
    );
  }
  return names[0]!;
}
