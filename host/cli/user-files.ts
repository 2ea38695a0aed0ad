/**
 * Reading a file the user named on the command line (--load, ...). Whatever is wrong with
 * it is the user's to fix, so every failure is a TinytrainError (exit 1) that names the
 * flag and the path, never a raw ENOENT reported as a tinytrain bug.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { TinytrainError } from '../../compiler/errors.js';

export interface UserFileLimits {
  /** Larger files are refused before reading (a mistyped path to a disk image, /dev/zero). */
  maxBytes: number;
  /** What the file should be, for the messages: "a checkpoint". */
  what: string;
  hint: string;
}

export function readUserFile(path: string, flag: string, l: UserFileLimits): Buffer {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TinytrainError(code === 'ENOENT' || code === 'ENOTDIR' ? `${flag} ${path}: no such file` : `${flag} ${path}: cannot read it (${(e as Error).message})`, l.hint);
  }
  if (st.isDirectory()) throw new TinytrainError(`${flag} ${path}: a folder, not ${l.what}`, l.hint);
  if (!st.isFile()) throw new TinytrainError(`${flag} ${path}: not a regular file, so not ${l.what}`, l.hint);
  if (st.size > l.maxBytes) throw new TinytrainError(`${flag} ${path}: ${st.size} bytes, larger than ${l.what} can be (at most ${l.maxBytes})`, l.hint);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TinytrainError(`${flag} ${path}: cannot read it (${(e as Error).message})`, l.hint);
  }
}

/** A `--load` checkpoint for this artifact: read with a size cap (header + payload, with room to spare). */
export function readCheckpointFile(path: string, checkpointBytes: number): Buffer {
  return readUserFile(path, '--load', {
    maxBytes: checkpointBytes + 64 * 1024,
    what: 'a checkpoint of this artifact',
    hint: 'give a checkpoint saved from this artifact (tinytrain train DIR --save FILE)',
  });
}
