/**
 * Fuzzing artifact folders: thousands of mutated and truncated manifests and files, each
 * loaded and (when it loads) run for a few steps on the embedded engine. Every outcome
 * must be a success or a TinytrainError (the CLI's exit 1), never another error, a trap
 * or a hang; no file outside the artifact folder may be read, and no file deleted.
 *
 * Manifests are mutated as text (truncation, byte flips) and as JSON (a field set to a
 * hostile value, deleted, or a key added), and then usually re-sealed (manifestSha256
 * recomputed, as a careless tool would) so the schema and consistency checks behind the
 * seal are reached too. Files are truncated, flipped or extended, with integrity
 * updated to match in half the cases so the module checks (memory limits, exports,
 * layout id) are reached. Deterministic (seeded).
 *
 * One thing no loader can promise: that a module whose code was changed, and whose hash
 * was then updated to match, still terminates (it is another program; case 1008 of an
 * earlier run turned an i32.shl into i32.shr_s and looped forever). The code's only
 * defence is its sha256, so code bytes are flipped only in the cases that leave the hash
 * stale (which must be refused); the re-hashed cases flip a module's other sections.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { resolve, sep } from 'node:path';
import { caseCount } from './tiers.js';

/** Every path a file is opened or read by (readdir/stat of folders are not reads of a file). */
const reads: string[] = [];
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const track = <F extends (...a: never[]) => unknown>(f: F): F =>
    ((...a: Parameters<F>) => {
      if (typeof a[0] === 'string') reads.push(a[0]);
      return f(...a);
    }) as F;
  return { ...fs, default: fs, readFileSync: track(fs.readFileSync), openSync: track(fs.openSync) };
});

// A test worker may have loaded the host modules for an earlier file, with the real node:fs
// (the fast tier's workers are not isolated: vitest.config.ts): load them afresh, so they
// read through the recorder above.
vi.resetModules();
const fs = await import('node:fs');
const { join } = await import('node:path');
const { tmpdir } = await import('node:os');
const { TinytrainError } = await import('../compiler/errors.js');
const { Rng } = await import('../compiler/ir/rng.js');
const { buildGraph } = await import('../compiler/ir/graph.js');
const { fullScheme } = await import('../compiler/scheme/scheme.js');
const { readArtifact } = await import('../host/artifact.js');
const { crc32 } = await import('../host/checkpoint.js');
const { Runtime } = await import('../host/runtime.js');
const { getTarget } = await import('../targets/index.js');
const { ArtifactCache, mnistCnn, sharedMnistCalibration } = await import('./support/models.js');

const MANIFEST_CASES = caseCount('artifact-fuzz.MANIFEST_CASES', 3000);
const CHECKPOINT_CASES = caseCount('artifact-fuzz.CHECKPOINT_CASES', 1000);
const FILE_CASES = caseCount('artifact-fuzz.FILE_CASES', 1200);
const SLOW_MS = 2000;

const cache = new ArtifactCache();
const work = fs.mkdtempSync(join(tmpdir(), 'tinytrain-afuzz-'));
/** A file beside the artifact folders, named by hostile manifests: it must never be read. */
const outsideFile = join(work, 'outside.bin');
afterAll(() => {
  cache.dispose();
  fs.rmSync(work, { recursive: true, force: true });
});

let original: Map<string, Buffer>;
beforeAll(async () => {
  const spec = mnistCnn();
  const a = await cache.get('afuzz', spec, { target: getTarget('stm32f746'), scheme: fullScheme(buildGraph(spec)), calibration: sharedMnistCalibration() });
  original = new Map(fs.readdirSync(a.dir).map((f) => [f, fs.readFileSync(join(a.dir, f))]));
  fs.writeFileSync(outsideFile, original.get('image.bin')!); // same bytes as image.bin: reading it would pass a hash check
});

const sha256 = (d: Uint8Array | string): string => createHash('sha256').update(d).digest('hex');
type Json = Record<string, unknown>;
function seal(m: Json): string {
  const { manifestSha256: _drop, ...rest } = m;
  return JSON.stringify({ ...rest, manifestSha256: sha256(JSON.stringify(rest)) }, null, 2);
}

const HOSTILE: unknown[] = [
  0,
  -1,
  1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  1e300,
  -1e300,
  0.5,
  null,
  true,
  '',
  'x',
  '../outside.bin',
  '/etc/passwd',
  'image.bin',
  'runtime.ts',
  '..',
  '.',
  'a/b',
  'C:\\x',
  '\u0000',
  'x'.repeat(5000),
  [],
  [0],
  {},
  { offset: 0 },
  [1, 2, 3, 4, 5],
  16,
  65536,
];

/** All paths to values inside `v` (objects and arrays alike). */
function paths(v: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (v === null || typeof v !== 'object') return [at];
  const entries: Array<[string | number, unknown]> = Array.isArray(v) ? v.slice(0, 3).map((x, i) => [i, x]) : Object.entries(v);
  return [at, ...entries.flatMap(([k, x]) => paths(x, [...at, k]))];
}

function mutateJson(m: Json, rng: Rng): void {
  const all = paths(m).filter((p) => p.length > 0 && p[0] !== 'manifestSha256');
  const path = all[Math.floor(rng.uniform() * all.length)]!;
  let o = m as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const k = path[path.length - 1]!;
  const r = rng.uniform();
  if (r < 0.15) delete o[k];
  else if (r < 0.25) o[`extra${Math.floor(rng.uniform() * 9)}`] = 1;
  else if (r < 0.45 && typeof o[k] === 'number') o[k] = (o[k] as number) + Math.floor(rng.uniform() * 33) - 16;
  else o[k] = HOSTILE[Math.floor(rng.uniform() * HOSTILE.length)];
}

/** Truncated, 1-4 bits flipped (never inside `keep`, a [start, end) byte range), or extended. */
function mutateBytes(b: Buffer, rng: Rng, keep: [number, number] = [0, 0]): Buffer {
  const r = rng.uniform();
  if (r < 0.3) return b.subarray(0, Math.floor(rng.uniform() * b.length));
  const out = Buffer.from(b);
  if (r < 0.8) {
    const [from, to] = keep;
    for (let n = 1 + Math.floor(rng.uniform() * 4); n > 0; n--) {
      const i = Math.floor(rng.uniform() * (out.length - (to - from)));
      out[i < from ? i : i + (to - from)] ^= 1 << Math.floor(rng.uniform() * 8);
    }
    return out;
  }
  return Buffer.concat([out, Buffer.alloc(1 + Math.floor(rng.uniform() * 64), 0x41)]);
}

/** The [start, end) bytes of a wasm module's code section (section id 10), or [0, 0]. */
function codeSection(wasm: Buffer): [number, number] {
  const leb = (at: number): [number, number] => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = wasm[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return [value, at];
    }
  };
  for (let at = 8; at < wasm.length;) {
    const id = wasm[at]!;
    const [size, body] = leb(at + 1);
    if (id === 10) return [at, body + size];
    at = body + size;
  }
  return [0, 0];
}

/** Names and contents of a folder, as one string (cheap to compare). */
function folderDigest(dir: string): string {
  return fs
    .readdirSync(dir)
    .sort()
    .map((f) => `${f}:${sha256(fs.readFileSync(join(dir, f)))}`)
    .join(',');
}

let caseNo = 0;
/** Writes a case folder from `files`, loads and runs it; returns the outcome. */
async function runCase(files: Map<string, Buffer | string>): Promise<'ok' | 'refused'> {
  const dir = join(work, `case-${caseNo++}`);
  fs.mkdirSync(dir);
  for (const [name, data] of files) fs.writeFileSync(join(dir, name), data);
  const listing = folderDigest(dir);
  reads.length = 0;
  const t0 = performance.now();
  let outcome: 'ok' | 'refused';
  try {
    const a = readArtifact(dir);
    const rt = await Runtime.load(a);
    const n = a.manifest.inputs[0]!.shape.reduce((p, q) => p * q, 1);
    for (let s = 0; s < 2; s++) {
      rt.setInputPixels(Uint8Array.from({ length: n }, (_, i) => (i * 37 + s) & 255));
      rt.trainStep(s % a.manifest.classes, 0.01);
    }
    rt.predict();
    outcome = 'ok';
  } catch (e) {
    if (!(e instanceof TinytrainError)) throw new Error(`case ${caseNo - 1}: ${(e as Error)?.stack ?? String(e)}`);
    outcome = 'refused';
  }
  expect(performance.now() - t0).toBeLessThan(SLOW_MS);
  const inside = resolve(dir) + sep;
  // The recorder works (every case has a manifest.json, which is always read first).
  expect(reads.some((p) => p.endsWith('manifest.json'))).toBe(true);
  const outside = reads.filter((p) => !resolve(p).startsWith(inside));
  expect(outside, `case ${caseNo - 1} read files outside its folder`).toEqual([]);
  // Loading never writes or deletes: the folder is exactly as the case left it.
  expect(folderDigest(dir)).toBe(listing);
  fs.rmSync(dir, { recursive: true });
  return outcome;
}

describe('artifact fuzz', () => {
  it('the unmodified artifact loads and trains (the harness does not refuse everything)', async () => {
    expect(await runCase(new Map(original))).toBe('ok');
  });

  it(`${MANIFEST_CASES} mutated manifests: success or TinytrainError, no read outside the folder`, async () => {
    const rng = new Rng(11);
    const tally = { ok: 0, refused: 0, resealedOk: 0 };
    const text = original.get('manifest.json')!.toString('utf8');
    for (let i = 0; i < MANIFEST_CASES; i++) {
      const files = new Map<string, Buffer | string>(original);
      const kind = rng.uniform();
      let resealed = false;
      if (kind < 0.15) files.set('manifest.json', mutateBytes(Buffer.from(text), rng));
      else {
        const m = JSON.parse(text) as Json;
        for (let n = 1 + Math.floor(rng.uniform() * 3); n > 0; n--) mutateJson(m, rng);
        resealed = kind < 0.9;
        files.set('manifest.json', resealed ? seal(m) : JSON.stringify(m));
      }
      const r = await runCase(files);
      tally[r]++;
      if (r === 'ok' && resealed) tally.resealedOk++;
    }
    console.log(`manifest fuzz: ${JSON.stringify(tally)}`);
    // Most mutations must be caught; some re-sealed ones are harmless (a name, a report figure).
    expect(tally.refused).toBeGreaterThan(MANIFEST_CASES * 0.8);
  });

  it(`${FILE_CASES} mutated artifact files: success or TinytrainError`, async () => {
    const rng = new Rng(12);
    const names = [...original.keys()].filter((f) => f !== 'manifest.json');
    const tally = { ok: 0, refused: 0 };
    for (let i = 0; i < FILE_CASES; i++) {
      const files = new Map<string, Buffer | string>(original);
      const name = names[Math.floor(rng.uniform() * names.length)]!;
      const rehash = rng.uniform() < 0.5;
      const source = original.get(name)!;
      const bytes = mutateBytes(source, rng, rehash && name.endsWith('.wasm') ? codeSection(source) : undefined);
      files.set(name, bytes);
      if (rehash) {
        // Integrity updated to match: the checks behind the hashes must hold on their own.
        const m = JSON.parse(original.get('manifest.json')!.toString('utf8')) as Json;
        (m.integrity as Json)[name] = { bytes: bytes.length, sha256: sha256(bytes) };
        if (name === 'image.bin') m.image = { ...(m.image as Json), bytes: bytes.length, sha256: sha256(bytes) };
        files.set('manifest.json', seal(m));
      }
      tally[await runCase(files)]++;
    }
    console.log(`file fuzz: ${JSON.stringify(tally)}`);
    expect(tally.refused).toBeGreaterThan(FILE_CASES * 0.5);
  });

  it(`${CHECKPOINT_CASES} mutated checkpoints: load and train, or TinytrainError`, async () => {
    const dir = join(work, 'ckpt');
    fs.mkdirSync(dir);
    for (const [name, data] of original) fs.writeFileSync(join(dir, name), data);
    const rt = await Runtime.load(readArtifact(dir));
    const good = Buffer.from(rt.exportCheckpoint());
    const rng = new Rng(13);
    const tally = { ok: 0, refused: 0 };
    for (let i = 0; i < CHECKPOINT_CASES; i++) {
      const bad = Buffer.from(mutateBytes(good, rng)); // a copy: a truncation is a view of `good`
      // Half with the CRC recomputed: any payload bytes must then be safe to train from.
      if (bad.length >= 32 && rng.uniform() < 0.5) bad.writeUInt32LE(crc32(bad.subarray(32)), 28);
      try {
        rt.reset(0);
        rt.importCheckpoint(bad, `case ${i}`);
        rt.setInputPixels(new Uint8Array(784).fill(i & 255));
        rt.trainStep(i % 10, 0.01);
        tally.ok++;
      } catch (e) {
        if (!(e instanceof TinytrainError)) throw new Error(`checkpoint case ${i}: ${(e as Error)?.stack ?? String(e)}`);
        tally.refused++;
      }
    }
    console.log(`checkpoint fuzz: ${JSON.stringify(tally)}`);
    expect(tally.refused).toBeGreaterThan(CHECKPOINT_CASES * 0.3);
    expect(tally.ok).toBeGreaterThan(0);
  });
});
