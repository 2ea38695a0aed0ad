/**
 * Atomic writes for artifacts: a reader (or a crashed compile) must never see a
 * half-written manifest or an artifact folder with a new manifest and an old .wasm.
 * Everything is built beside its final place (same directory, so same filesystem and
 * rename is atomic) and renamed into place only once complete.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TinytrainError } from '../../compiler/errors.js';

/** Writes `path` so that it holds either its old content or all of `data`, never a mix. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    // Without fsync a power cut after the rename can leave an empty file under the final name.
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* never created, or already renamed */
    }
    throw new TinytrainError(`cannot write ${path}: ${(err as Error).message}`, 'check that its folder exists and is writable');
  }
  syncDir(dirname(path));
}

/**
 * Builds a directory with `fill(tmpDir)` and moves it to `finalDir` only if fill succeeds.
 * On failure the temp dir is removed and an existing `finalDir` is left as it was; the
 * error from fill is rethrown unchanged.
 *
 * Replacing an existing directory takes two renames (old aside, new in), because rename
 * cannot overwrite a non-empty directory; between them `finalDir` is briefly absent, but
 * it never holds a mix of old and new files.
 */
export async function writeDirAtomic(finalDir: string, fill: (tmpDir: string) => void | Promise<void>): Promise<void> {
  const parent = dirname(finalDir);
  const name = basename(finalDir);
  assertDirOrAbsent(finalDir);
  let tmpDir: string;
  try {
    mkdirSync(parent, { recursive: true });
    tmpDir = mkdtempSync(join(parent, `.${name}.tmp-`));
  } catch (err) {
    throw new TinytrainError(`cannot create a folder next to ${finalDir}: ${(err as Error).message}`, 'check that the output location is writable');
  }

  try {
    await fill(tmpDir);
  } catch (err) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw err;
  }

  // fill may have run for minutes; re-check in case someone put a file there meanwhile.
  try {
    assertDirOrAbsent(finalDir);
  } catch (err) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw err;
  }
  const old = exists(finalDir) ? join(parent, `.${name}.old-${process.pid}-${randomBytes(4).toString('hex')}`) : undefined;
  try {
    if (old) renameSync(finalDir, old);
    try {
      renameSync(tmpDir, finalDir);
    } catch (err) {
      if (old) renameSync(old, finalDir); // put the previous artifact back
      throw err;
    }
  } catch (err) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw new TinytrainError(`cannot move the new ${finalDir} into place: ${(err as Error).message}`, 'check that the output location is writable');
  }
  if (old) rmSync(old, { recursive: true, force: true });
  syncDir(parent);
}

/** Refuses to replace a file with a folder: that is almost always a mistyped output path. */
function assertDirOrAbsent(path: string): void {
  if (exists(path) && !statSync(path).isDirectory()) {
    throw new TinytrainError(`${path} exists and is not a folder; refusing to replace it`, 'choose another output path or remove that file');
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Makes a rename durable. Best effort: some platforms cannot fsync a directory. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* not supported here (e.g. Windows); the rename itself is still atomic */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
