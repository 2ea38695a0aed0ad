/**
 * "May tinytrain write here?" — the one place that decides, for every output path a
 * command is given (compile/demo --out, train --save, report --html, firmware --out,
 * pretrain --out). An output may be written only where nothing of the user's is lost:
 *
 * Folder outputs (artifact folders):
 *   - absent: missing parent folders are created (like `mkdir -p`; an artifact folder is
 *     usually somewhere new such as build/mnist), so the nearest existing ancestor must be
 *     a writable folder;
 *   - an empty folder;
 *   - an artifact folder tinytrain wrote: manifest.json parses with format
 *     tinytrain-artifact@1 AND every entry is a regular file with a name tinytrain writes
 *     there (manifest.json, the files its manifest lists, runtime.ts, scheme.json, the
 *     firmware cache firmware-<target>.elf[.key], and our own .NAME.tmp-<pid>-<hex> of
 *     those). A user's file inside is named in the refusal: replacing the folder would
 *     delete it.
 *   - for `export c`: absent, empty, or a C library folder tinytrain exported (its
 *     tinytrain-c.json has format tinytrain-c-library@1 and lists every entry).
 * File outputs:
 *   - absent: its folder must already exist and be writable (a missing folder is most
 *     often a typo or the wrong working directory; creating folders there leaves junk);
 *   - an existing regular file recognised as the same kind of tinytrain output (see
 *     recognisers below). A file of another kind is refused even if tinytrain wrote it:
 *     `--save` over a model file is a mistake, not a wish.
 * Always refused: a symbolic link at the output path (writing through it would replace a
 * file elsewhere, and replacing the link itself would surprise whoever made it), a folder
 * where a file is expected and a file where a folder is expected, anything else (fifo,
 * device). Parent components may be links: the user chose that path.
 *
 * Every refusal is a TinytrainError naming the flag, the path and what is there; nothing
 * is touched. The writers call these checks before the work starts and again just before
 * the final rename (host/io/atomic.ts).
 */
import { accessSync, closeSync, constants, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { TinytrainError } from '../../compiler/errors.js';
import { CHECKPOINT_MAGIC } from '../checkpoint.js';
import { ARTIFACT_FORMAT, C_LIBRARY_FORMAT, C_LIBRARY_MARKER, FIRMWARE_MARKER, HTML_REPORT_META, PRETRAINED_MODEL_GENERATOR } from './provenance.js';
import { parseTempName } from './temp-names.js';

export type OutputFileKind = 'checkpoint' | 'html-report' | 'firmware-elf' | 'model-json';

const KIND_WORDS: Record<OutputFileKind, string> = {
  checkpoint: 'a tinytrain checkpoint',
  'html-report': 'an HTML report written by tinytrain',
  'firmware-elf': 'a firmware ELF built by tinytrain',
  'model-json': 'a model file written by tinytrain pretrain',
};

/** Names an artifact folder holds besides manifest.json and the files its manifest lists. */
const ARTIFACT_EXTRA_FILES = new Set(['runtime.ts', 'scheme.json']);
/** What the manifest's `files` may name: the runtimes (.wasm) and the weights image (.bin). */
const LISTED_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]*\.(wasm|bin)$/;
/** The firmware cache host/firmware/qemu.ts keeps beside the manifest. */
const FIRMWARE_CACHE = /^firmware-[a-z0-9][a-z0-9._-]*\.elf(\.key)?$/;
/** What a C library folder's marker (host/clib/export.ts) may list: plain file names. */
const LIBRARY_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Larger files are not read to recognise them (nothing tinytrain writes is near this). */
const MAX_RECOGNISED_BYTES = 512 * 1024 * 1024;

const defaultHint = (flag: string): string => `choose another ${flag} path, or move or remove what is there yourself`;

/** The path cannot be written (missing or read-only folder, unreadable path). */
function refuse(flag: string, path: string, what: string, hint = defaultHint(flag)): never {
  throw new TinytrainError(`${flag} ${path}: ${what}`, hint);
}

/** Something is at the path that tinytrain did not write (or not of this kind): it stays as it is. */
function refuseOccupied(flag: string, path: string, what: string, hint = defaultHint(flag)): never {
  throw new TinytrainError(`${flag} ${path}: ${what}; tinytrain replaces only what it wrote itself, so it was left as it is`, hint);
}

/** lstat that says "absent" instead of throwing; other failures (EACCES, ENOTDIR) are a refusal. */
function lstatOrAbsent(path: string, flag: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') refuse(flag, path, 'a part of this path is a file, not a folder', 'check the path');
    return refuse(flag, path, `cannot look at it (${(e as Error).message})`, 'check the path and its permissions');
  }
}

function describeNonRegular(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link (tinytrain does not write through links or replace them)';
  if (st.isDirectory()) return 'a folder';
  return 'not a regular file (a device, fifo or socket)';
}

function assertWritableFolder(dir: string, flag: string, path: string): void {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch {
    refuse(flag, path, `its folder ${dir} does not exist`, `create ${dir} first (tinytrain creates no folders for a file output), or choose another ${flag} path`);
  }
  if (!st.isDirectory()) refuse(flag, path, `${dir} is not a folder`, 'check the path');
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    refuse(flag, path, `its folder ${dir} is not writable`, `choose a ${flag} path in a folder you can write to`);
  }
}

// ---------------------------------------------------------------------------------------
// Folders

/** The folders tinytrain writes: artifact folders (compile, demo) and C library folders (export c). */
export type OutputFolderKind = 'artifact' | 'c-library';

export function checkOutputFolder(path: string, flag = '--out', kind: OutputFolderKind = 'artifact'): void {
  const st = lstatOrAbsent(path, flag);
  if (!st) return checkFolderCreatable(path, flag);
  if (!st.isDirectory()) {
    refuseOccupied(
      flag,
      path,
      st.isFile() ? 'a file is there, and this output is a folder' : describeNonRegular(st),
      st.isFile() ? `give ${flag} a folder path (the file stays as it is)` : defaultHint(flag),
    );
  }
  let entries: string[];
  try {
    entries = readdirSync(path);
  } catch (e) {
    return refuse(flag, path, `cannot list the folder (${(e as Error).message})`, 'check its permissions');
  }
  if (entries.length === 0) return;
  if (kind === 'c-library') return checkLibraryFolder(path, flag, entries);
  const manifest = readArtifactManifest(path);
  if (typeof manifest === 'string') {
    refuseOccupied(
      flag,
      path,
      `a folder holding ${entries.length} ${entries.length === 1 ? 'entry' : 'entries'} (${listNames(path, entries)}) that is not a tinytrain artifact (${manifest})`,
      `choose a new or empty folder for ${flag}; tinytrain replaces only artifact folders it wrote`,
    );
  }
  const foreign = foreignArtifactEntries(path, entries, manifest);
  if (foreign.length) {
    refuseOccupied(
      flag,
      path,
      `an artifact folder that also holds ${foreign.length === 1 ? 'an entry' : 'entries'} tinytrain did not write (${listNames(path, foreign)}), which replacing the folder would delete`,
      `move ${foreign.length === 1 ? 'it' : 'them'} out of ${path} and run again, or choose another ${flag} path`,
    );
  }
}

/**
 * A C library folder tinytrain wrote: tinytrain-c.json has the library format and names
 * every entry, each a regular file with a plain name (so a hand-edited marker cannot
 * claim a sub-folder or a path outside).
 */
function checkLibraryFolder(path: string, flag: string, entries: string[]): void {
  const marker = readJsonFile(join(path, C_LIBRARY_MARKER));
  const listed =
    isRecord(marker) && marker.format === C_LIBRARY_FORMAT && Array.isArray(marker.files)
      ? marker.files.filter((f): f is string => typeof f === 'string' && LIBRARY_FILE.test(f))
      : undefined;
  if (!listed) {
    refuseOccupied(
      flag,
      path,
      `a folder holding ${entries.length} ${entries.length === 1 ? 'entry' : 'entries'} (${listNames(path, entries)}) that is not a C library tinytrain exported (no ${C_LIBRARY_MARKER} with "format": "${C_LIBRARY_FORMAT}")`,
      `choose a new or empty folder for ${flag}; tinytrain replaces only library folders it wrote`,
    );
  }
  const foreign = entries.filter((e) => {
    const t = parseTempName(e);
    return !listed.includes(t?.role === 'tmp' ? t.name : e) || !isRegularFile(join(path, e));
  });
  if (foreign.length) {
    refuseOccupied(
      flag,
      path,
      `a C library folder that also holds ${foreign.length === 1 ? 'an entry' : 'entries'} tinytrain did not write (${listNames(path, foreign)}), which replacing the folder would delete`,
      `move ${foreign.length === 1 ? 'it' : 'them'} out of ${path} (objects of a build there: make clean) and run again, or choose another ${flag} path`,
    );
  }
}

function isRegularFile(p: string): boolean {
  try {
    return lstatSync(p).isFile();
  } catch {
    return false;
  }
}

/** A small JSON file's value, or undefined (absent, not a regular file, too large, not JSON). */
function readJsonFile(p: string): unknown {
  try {
    const st = lstatSync(p);
    if (!st.isFile() || st.size > MAX_RECOGNISED_BYTES) return undefined;
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The parsed `dir/manifest.json` of an artifact, or why it is not one. */
function readArtifactManifest(dir: string): Record<string, unknown> | string {
  const mpath = join(dir, 'manifest.json');
  let st: Stats;
  try {
    st = lstatSync(mpath);
  } catch {
    return 'no manifest.json';
  }
  if (!st.isFile()) return 'manifest.json is not a regular file';
  if (st.size > MAX_RECOGNISED_BYTES) return 'manifest.json is far too large';
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(mpath, 'utf8'));
  } catch {
    return 'manifest.json is not JSON';
  }
  if (!isRecord(m) || m.format !== ARTIFACT_FORMAT) return `manifest.json has no "format": "${ARTIFACT_FORMAT}"`;
  return m;
}

/** Entries of an artifact folder that are not files tinytrain writes there. */
function foreignArtifactEntries(dir: string, entries: string[], m: Record<string, unknown>): string[] {
  // The manifest names its runtimes and image; only such names count, so that a hand-edited
  // manifest listing "thesis.tex" cannot make a user's file look like ours.
  const listed = isRecord(m.files) ? Object.values(m.files).filter((v): v is string => typeof v === 'string' && LISTED_FILE.test(v)) : [];
  const ours = (name: string): boolean => name === 'manifest.json' || ARTIFACT_EXTRA_FILES.has(name) || listed.includes(name) || FIRMWARE_CACHE.test(name);
  return entries.filter((entry) => {
    const t = parseTempName(entry);
    const name = t?.role === 'tmp' ? t.name : entry; // a firmware-cache write cut short
    if (!ours(name)) return true;
    try {
      return !lstatSync(join(dir, entry)).isFile();
    } catch {
      return false; // vanished meanwhile
    }
  });
}

function checkFolderCreatable(path: string, flag: string): void {
  // Walk up to the nearest existing ancestor: everything below it will be created.
  let dir = dirname(resolve(path));
  for (;;) {
    let st: Stats | undefined;
    try {
      st = statSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') refuse(flag, path, 'a part of this path is a file, not a folder', 'check the path');
      if (code !== 'ENOENT') refuse(flag, path, `cannot look at ${dir} (${(e as Error).message})`, 'check the path and its permissions');
    }
    if (st) {
      if (!st.isDirectory()) refuse(flag, path, `${dir} is a file, so the folder cannot be created`, 'check the path');
      try {
        accessSync(dir, constants.W_OK | constants.X_OK);
      } catch {
        refuse(flag, path, `cannot create it: ${dir} is not writable`, `choose a ${flag} path in a folder you can write to`);
      }
      return;
    }
    const up = dirname(dir);
    if (up === dir) return; // the root always exists; unreachable in practice
    dir = up;
  }
}

// ---------------------------------------------------------------------------------------
// Files

export function checkOutputFile(path: string, kind: OutputFileKind, flag: string): void {
  const st = lstatOrAbsent(path, flag);
  if (!st) return assertWritableFolder(dirname(resolve(path)), flag, path);
  if (st.isDirectory()) refuseOccupied(flag, path, 'a folder is there, and this output is a file', `give ${flag} a file path, e.g. ${join(path, basename(path) + suffix(kind))}`);
  if (!st.isFile()) refuseOccupied(flag, path, describeNonRegular(st));
  let ours: boolean;
  try {
    ours = st.size <= MAX_RECOGNISED_BYTES && RECOGNISERS[kind](path);
  } catch (e) {
    return refuse(flag, path, `cannot read the file there to tell whether tinytrain wrote it (${(e as Error).message})`, 'check its permissions, or choose another path');
  }
  if (!ours) refuseOccupied(flag, path, `a file that is not ${KIND_WORDS[kind]}`);
  try {
    accessSync(dirname(resolve(path)), constants.W_OK | constants.X_OK);
  } catch {
    refuse(flag, path, `its folder ${dirname(resolve(path))} is not writable`, `choose a ${flag} path in a folder you can write to`);
  }
}

const suffix = (k: OutputFileKind): string => ({ checkpoint: '.ckpt', 'html-report': '.html', 'firmware-elf': '.elf', 'model-json': '.json' })[k];

/** Each kind's "did tinytrain write this?" test; reads no more than it needs. */
const RECOGNISERS: Record<OutputFileKind, (path: string) => boolean> = {
  checkpoint: (p) => readPrefix(p, 4).toString('latin1') === CHECKPOINT_MAGIC,
  'html-report': (p) => readPrefix(p, 4096).toString('utf8').includes(HTML_REPORT_META),
  'firmware-elf': (p) => {
    if (readPrefix(p, 4).toString('latin1') !== '\x7fELF') return false;
    // The firmware cache's key sidecar also marks an ELF as ours (host/firmware/qemu.ts).
    if (isCacheKey(`${p}.key`)) return true;
    return readFileSync(p).includes(FIRMWARE_MARKER, 0, 'latin1');
  },
  'model-json': (p) => {
    try {
      const m: unknown = JSON.parse(readFileSync(p, 'utf8'));
      return isRecord(m) && m.generator === PRETRAINED_MODEL_GENERATOR;
    } catch {
      return false;
    }
  },
};

function isCacheKey(path: string): boolean {
  try {
    return lstatSync(path).isFile() && /^[0-9a-f]{64}\s*$/.test(readPrefix(path, 80).toString('latin1'));
  } catch {
    return false;
  }
}

function readPrefix(path: string, bytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** At most five names, folders marked with a slash, then how many more. */
function listNames(dir: string, names: string[]): string {
  const shown = [...names]
    .sort()
    .slice(0, 5)
    .map((n) => {
      try {
        return lstatSync(join(dir, n)).isDirectory() ? `${n}/` : n;
      } catch {
        return n;
      }
    });
  return shown.join(', ') + (names.length > 5 ? `, and ${names.length - 5} more` : '');
}
