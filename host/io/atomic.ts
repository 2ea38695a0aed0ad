/**
 * Atomic writes for outputs: a reader (or a crashed compile) must never see a
 * half-written manifest or an artifact folder with a new manifest and an old .wasm.
 * Everything is built beside its final place (same directory, so same filesystem and
 * rename is atomic) and renamed into place only once complete. The temp entries carry
 * the pid (host/io/temp-names.ts), are removed on every failure path, and a later write
 * to the same output removes those a killed run left.
 */
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { TinytrainError } from '../../compiler/errors.js';
import { checkOutputFolder, type OutputFolderKind } from './output-paths.js';
import { removeDeadLeftovers, tempName } from './temp-names.js';

export interface FileWriteOptions {
  /**
   * Called after the data is on disk and just before it is renamed over `path`: the
   * work before may have taken minutes, and something may have appeared at `path`
   * meanwhile. Its error is rethrown as is, and nothing is renamed.
   */
  beforeRename?: () => void;
}

/** Writes `path` so that it holds either its old content or all of `data`, never a mix. */
export function writeFileAtomic(path: string, data: Uint8Array | string, o: FileWriteOptions = {}): void {
  const dir = dirname(path);
  const tmp = join(dir, tempName(basename(path), 'tmp'));
  let fd: number | undefined;
  let created = false;
  try {
    try {
      fd = openSync(tmp, 'wx');
      created = true;
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      // Without fsync a power cut after the rename can leave an empty file under the final name.
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
    } catch (err) {
      throw cannotWrite(path, err);
    }
    o.beforeRename?.();
    try {
      renameSync(tmp, path);
      created = false;
    } catch (err) {
      throw cannotWrite(path, err);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (created) rmSync(tmp, { force: true });
  }
  removeDeadLeftovers(dir, basename(path));
  syncDir(dir);
}

const cannotWrite = (path: string, err: unknown): TinytrainError =>
  new TinytrainError(`cannot write ${path}: ${(err as Error).message}`, 'check that its folder exists and is writable');

/**
 * Builds an output folder (an artifact, or a C library: `kind`) with `fill(tmpDir)` and moves it to `finalDir` only if fill
 * succeeds. On failure the temp folder is removed and an existing `finalDir` is left as it
 * was; the error from fill is rethrown unchanged.
 *
 * Artifact and C library folders are the only folders tinytrain writes, so this refuses to replace
 * anything host/io/output-paths.ts does not call ours (checked before fill and again
 * before the rename). Missing parent folders are created.
 *
 * Replacing an existing directory takes two renames (old aside, new in), because rename
 * cannot overwrite a non-empty directory; between them `finalDir` is briefly absent, but
 * it never holds a mix of old and new files.
 */
export async function writeDirAtomic(outDir: string, fill: (tmpDir: string) => void | Promise<void>, label = 'output folder', kind: OutputFolderKind = 'artifact'): Promise<void> {
  // Absolute, so that '.', '..' or 'out/' name the folder itself and its temp goes beside it, not inside.
  const finalDir = resolve(outDir);
  const parent = dirname(finalDir);
  const name = basename(finalDir);
  checkOutputFolder(finalDir, label, kind);
  const tmpDir = join(parent, tempName(name, 'tmp'));
  try {
    mkdirSync(parent, { recursive: true });
    mkdirSync(tmpDir);
  } catch (err) {
    throw new TinytrainError(`cannot create a folder next to ${finalDir}: ${(err as Error).message}`, 'check that the output location is writable');
  }

  try {
    await fill(tmpDir);
    // fill may have run for minutes; re-check in case someone put something there meanwhile.
    checkOutputFolder(finalDir, label, kind);
  } catch (err) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw err;
  }
  const old = exists(finalDir) ? join(parent, tempName(name, 'old')) : undefined;
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
  if (old) removeReplaced(old, finalDir, kind);
  removeDeadLeftovers(parent, name);
  syncDir(parent);
}

/**
 * Deletes the previous folder, now moved aside, unless a file of the user's landed in it
 * between the last check and the rename: then it is kept, and the user is told where.
 */
function removeReplaced(old: string, finalDir: string, kind: OutputFolderKind): void {
  try {
    checkOutputFolder(old, 'previous folder', kind);
  } catch {
    process.stderr.write(`note: ${finalDir} was replaced, but the previous folder gained files tinytrain did not write just before; it is kept at ${old}\n`);
    return;
  }
  rmSync(old, { recursive: true, force: true });
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
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
