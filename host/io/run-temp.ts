/**
 * One private temp folder per CLI run, so that no temp file or folder outlives the run,
 * whatever way it ends.
 *
 * Every part of tinytrain that needs scratch space (engine job folders tinytrain-job-*,
 * firmware builds tinytrain-firmware-*, asc builds, demo's temp artifact) makes it under
 * os.tmpdir(), each removing its own in a `finally`. That covers errors; it cannot cover
 * a signal. So the CLI points TMPDIR (which os.tmpdir() reads on every call, and which
 * child processes such as wasmtime and qemu inherit) at `tinytrain-run-<pid>-<hex>` inside
 * the real temp folder, and that one folder is removed:
 *   - on any normal exit, error or not (process 'exit');
 *   - on SIGINT, SIGTERM, SIGHUP, even SIGKILL, by a tiny watcher shell that waits for our
 *     pid to vanish. A JS signal handler would not do: training runs synchronously, so
 *     the handler (and with it Ctrl-C) would wait until training ends;
 *   - failing both (no /bin/sh, a power cut), by the next run, which removes run folders
 *     whose pid is no longer alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isPidAlive } from './temp-names.js';

const RUN_DIR = /^tinytrain-run-(\d{1,10})-[0-9a-f]{8}$/;

/** Creates this run's temp folder and makes it os.tmpdir(); returns its path. */
export function useRunTempDir(): string {
  const base = tmpdir();
  removeDeadRunDirs(base);
  const dir = join(base, `tinytrain-run-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch {
    return base; // an unwritable temp folder fails later, where the error can say what needed it
  }
  process.env.TMPDIR = dir;
  const watcher = startWatcher(dir);
  process.on('exit', () => {
    rmSync(dir, { recursive: true, force: true });
    watcher?.kill();
  });
  return dir;
}

/** Removes run folders in `base` left by processes that are gone. */
export function removeDeadRunDirs(base: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const uid = process.getuid?.();
  for (const entry of entries) {
    const m = RUN_DIR.exec(entry);
    if (!m || isPidAlive(Number(m[1]))) continue;
    const path = join(base, entry);
    try {
      const st = lstatSync(path);
      // Only our own folders: never a link, never another user's.
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(entry);
    } catch {
      /* best effort */
    }
  }
  return removed;
}

/** The folder and the pid are positional arguments: nothing is pasted into the script. */
const WATCH_SCRIPT = 'while kill -0 "$2" 2>/dev/null; do sleep 1; done; rm -rf -- "$1"';

function startWatcher(dir: string): ChildProcess | undefined {
  try {
    // Detached: its own process group, so the Ctrl-C that stops us does not stop it.
    const child = spawn('/bin/sh', ['-c', WATCH_SCRIPT, 'tinytrain-cleanup', dir, String(process.pid)], { detached: true, stdio: 'ignore' });
    child.on('error', () => {
      /* no shell: the exit handler and the next run still clean up */
    });
    child.unref();
    return child;
  } catch {
    return undefined;
  }
}
