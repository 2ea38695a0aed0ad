/**
 * Names of the entries tinytrain puts beside an output while it writes it, and the rule
 * for cleaning what a killed run left.
 *
 *   .NAME.tmp-<pid>-<8 hex>   the new file or folder, renamed onto NAME once complete
 *   .NAME.old-<pid>-<8 hex>   the previous folder, moved aside while the new one moves in
 *
 * The pid says who owns an entry: a later write to NAME removes such entries only when
 * their process is gone (a SIGKILL, a power cut), never those of a live run and never any
 * other name. A pid can be reused by an unrelated process; then the leftover simply stays
 * until a later run finds that pid dead too (the safe direction).
 */
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export type TempRole = 'tmp' | 'old';

export function tempName(name: string, role: TempRole, pid = process.pid): string {
  return `.${name}.${role}-${pid}-${randomBytes(4).toString('hex')}`;
}

export interface ParsedTempName {
  name: string;
  role: TempRole;
  pid: number;
}

const TEMP_NAME = /^\.(.+)\.(tmp|old)-(\d{1,10})-([0-9a-f]{8})$/;

/** The parts of a name tempName() made, or undefined for any other name. */
export function parseTempName(entry: string): ParsedTempName | undefined {
  const m = TEMP_NAME.exec(entry);
  if (!m) return undefined;
  return { name: m[1]!, role: m[2] as TempRole, pid: Number(m[3]) };
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to another user). */
export function isPidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp entries for `name` in `dir` whose process is gone. Best effort: a
 * leftover we cannot remove (permissions) is not worth failing a successful write for.
 * Symbolic links are skipped: tinytrain never makes one, so such an entry is not ours.
 * Returns the names removed.
 */
export function removeDeadLeftovers(dir: string, name: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const t = parseTempName(entry);
    if (!t || t.name !== name || isPidAlive(t.pid)) continue;
    const path = join(dir, entry);
    try {
      if (lstatSync(path).isSymbolicLink()) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(entry);
    } catch {
      /* not ours to fight over */
    }
  }
  return removed;
}
