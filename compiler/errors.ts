/**
 * The one error type a user should ever see. Everything the CLI catches that is not a
 * TinytrainError is a bug in tinytrain and is reported as such.
 *
 * `what` names the problem; `hint` says what the user can do about it.
 */
export class TinytrainError extends Error {
  readonly hint: string | undefined;
  constructor(what: string, hint?: string) {
    super(what);
    this.name = 'TinytrainError';
    this.hint = hint;
  }

  /** One or two lines, ready for stderr. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}
