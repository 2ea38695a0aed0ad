/**
 * Artifacts are verified when loaded, by every engine: each artifact file and each
 * manifest field is damaged in turn, and node, node-wasi, wasmtime, arm64 and cortex-m
 * must each refuse with a TinytrainError naming the damaged file, before anything runs.
 * Files swapped in from another artifact with a manifest re-sealed to match (hashes
 * updated, as a careless tool might) are caught by the runtime's own layout id, on the
 * module each engine really runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TinytrainError } from '../compiler/errors.js';
import { buildGraph } from '../compiler/ir/graph.js';
import { fullScheme } from '../compiler/scheme/scheme.js';
import { readArtifact } from '../host/artifact.js';
import type { Dataset } from '../host/data/dataset.js';
import { ENGINES, trainOnEngine, type Engine } from '../host/engines/index.js';
import { getTarget } from '../targets/index.js';
import { ArtifactCache, calibrationInputs, mnist, mnistCnn, type CachedArtifact } from './support/models.js';

const cache = new ArtifactCache();
const work = mkdtempSync(join(tmpdir(), 'tinytrain-verify-'));
afterAll(() => {
  cache.dispose();
  rmSync(work, { recursive: true, force: true });
});

let art: CachedArtifact;
/**
 * A different artifact of the same model and scheme, calibrated on other images: other
 * quantisation tables, so another layout id, but the same memory map and size, so that a
 * module swapped in from it gets past every check but the layout id. Its files must not
 * pass for art's.
 */
let other: CachedArtifact;
let ds: Dataset;

beforeAll(async () => {
  const spec = mnistCnn();
  const graph = buildGraph(spec);
  const base = { target: getTarget('stm32f746'), calibration: calibrationInputs(20) };
  [art, other] = await Promise.all([
    cache.get('verify-full', spec, { ...base, scheme: fullScheme(graph) }),
    cache.get('verify-full-other-calibration', spec, { ...base, scheme: fullScheme(graph), calibration: calibrationInputs(20, [0, 1], 20) }),
  ]);
  const train = mnist('train');
  ds = { ...train, count: 20 };
});

type Json = Record<string, unknown>;
const sha256 = (d: Uint8Array | string): string => createHash('sha256').update(d).digest('hex');
const readManifest = (dir: string): Json => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Json;
/** Re-seals a manifest the way writeArtifact does (sha256 of the compact JSON of every other field). */
function writeResealed(dir: string, m: Json): void {
  const { manifestSha256: _old, ...rest } = m;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...rest, manifestSha256: sha256(JSON.stringify(rest)) }, null, 2));
}

let copies = 0;
function damagedCopy(damage: (dir: string) => void): string {
  const dir = join(work, `copy-${copies++}`);
  cpSync(art.dir, dir, { recursive: true });
  damage(dir);
  return dir;
}

/** What an engine does with the folder: it must throw a TinytrainError naming `file`. */
async function expectRefused(engine: Engine, dir: string, file: RegExp): Promise<void> {
  const err = await trainOnEngine(engine, dir, ds, { steps: 2, lr: 0.01, seed: 1 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `${engine} accepted ${dir}`).toBeInstanceOf(TinytrainError);
  expect((err as TinytrainError).message, engine).toMatch(file);
}

const FILES = ['manifest.json', 'runtime-simd.wasm', 'runtime-scalar.wasm', 'runtime-wasi.wasm', 'image.bin', 'runtime.ts'];
const DAMAGES: Record<string, (path: string, otherPath: string) => void> = {
  missing: (p) => unlinkSync(p),
  truncated: (p) => writeFileSync(p, readFileSync(p).subarray(0, readFileSync(p).length >> 1)),
  'one byte changed': (p) => {
    const b = readFileSync(p);
    b[b.length >> 1] ^= 0x20;
    writeFileSync(p, b);
  },
  'from another artifact': (p, o) => writeFileSync(p, readFileSync(o)),
  'a symlink out of the folder': (p, o) => {
    unlinkSync(p);
    symlinkSync(o, p);
  },
};

describe('a damaged artifact file is refused by every engine, naming the file', () => {
  for (const file of FILES) {
    for (const [how, damage] of Object.entries(DAMAGES)) {
      it(`${file}: ${how}`, async () => {
        const before = readFileSync(join(art.dir, file));
        const dir = damagedCopy((d) => damage(join(d, file), join(other.dir, file)));
        // 'from another artifact' must really differ, or the case proves nothing.
        if (how === 'from another artifact') expect(readFileSync(join(other.dir, file)).equals(before)).toBe(false);
        for (const engine of ENGINES) await expectRefused(engine, dir, new RegExp(file.replace('.', '\\.')));
      });
    }
  }
});

/** Every leaf of the manifest (first element of each array), as a path of keys. */
function leafPaths(v: unknown, path: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(v)) return v.length ? [path, ...leafPaths(v[0], [...path, 0])] : [path];
  if (v && typeof v === 'object') return [path, ...Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...path, k]))].filter((p) => p.length > 0);
  return [path];
}

function mutateAt(m: Json, path: Array<string | number>): void {
  let o = m as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const k = path[path.length - 1]!;
  const v = o[k];
  // null (e.g. `loss.targets` of a model whose loss reads the label) becomes 0: a change too.
  o[k] = typeof v === 'number' ? v + 1 : typeof v === 'string' ? `${v}x` : typeof v === 'boolean' ? !v : v === null ? 0 : null;
}

describe('a changed manifest field is refused by every engine, naming manifest.json', () => {
  it('every field, one at a time', async () => {
    const paths = leafPaths(readManifest(art.dir)).filter((p) => p[0] !== 'manifestSha256');
    expect(paths.length).toBeGreaterThan(60);
    for (const path of paths) {
      const dir = damagedCopy((d) => {
        const m = readManifest(d);
        mutateAt(m, path);
        writeFileSync(join(d, 'manifest.json'), JSON.stringify(m, null, 2));
      });
      for (const engine of ENGINES) await expectRefused(engine, dir, /manifest\.json/);
      rmSync(dir, { recursive: true });
    }
  });
});

describe('files from another artifact under a re-sealed manifest are caught by the runtime layout id', () => {
  /** The module each engine runs, swapped for the other artifact's, with integrity and seal updated. */
  const cases: Array<[Engine[], string]> = [
    [['node'], 'runtime-scalar.wasm'], // stm32f746 has no SIMD: files.wasm is the scalar build
    [['node-wasi', 'wasmtime', 'arm64'], 'runtime-wasi.wasm'],
    [['cortex-m'], 'runtime-scalar.wasm'],
  ];
  for (const [engines, file] of cases) {
    it(`${engines.join(', ')}: ${file}`, async () => {
      expect(readManifest(art.dir).files).toMatchObject({ wasm: 'runtime-scalar.wasm' });
      const dir = damagedCopy((d) => {
        const bytes = readFileSync(join(other.dir, file));
        writeFileSync(join(d, file), bytes);
        const m = readManifest(d);
        (m.integrity as Json)[file] = { bytes: bytes.length, sha256: sha256(bytes) };
        writeResealed(d, m);
      });
      for (const engine of engines) await expectRefused(engine, dir, /runtime-(scalar|wasi)\.wasm.*(layout|another artifact)/);
    });
  }

  it('the undamaged copy and a re-sealed but unchanged manifest train on the node engine (the cases above are not refusing everything)', async () => {
    const dir = damagedCopy((d) => writeResealed(d, readManifest(d)));
    const r = await trainOnEngine('node', dir, ds, { steps: 2, lr: 0.01, seed: 1 });
    expect(r.steps).toBe(2);
  });
});

describe('a reader never sees half of one artifact and half of another', () => {
  it('reads while another process keeps replacing the folder: every read is one whole artifact', async () => {
    const live = join(work, 'live');
    cpSync(art.dir, live, { recursive: true });
    const ids = new Set([readManifest(art.dir).layoutId, readManifest(other.dir).layoutId]);
    expect(ids.size).toBe(2);
    // The writer replaces the folder exactly as compile --out does (io/atomic.ts, from dist/).
    const atomic = pathToFileURL(join(__dirname, '..', 'dist', 'host', 'io', 'atomic.js')).href;
    const script = `
      const { writeDirAtomic } = await import(${JSON.stringify(atomic)});
      const { cpSync } = await import('node:fs');
      const srcs = ${JSON.stringify([other.dir, art.dir])};
      const until = Date.now() + 4000;
      for (let i = 0; Date.now() < until; i++) await writeDirAtomic(${JSON.stringify(live)}, (tmp) => cpSync(srcs[i % 2], tmp, { recursive: true }));
    `;
    const writer = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    writer.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number>((res) => writer.on('close', (code) => res(code ?? -1)));
    const seen = new Map<string, number>();
    const until = Date.now() + 3500;
    while (Date.now() < until) {
      const a = readArtifact(live); // throws on any mix: every file is checked against the manifest read
      seen.set(a.manifest.layoutId, (seen.get(a.manifest.layoutId) ?? 0) + 1);
      expect(ids.has(a.manifest.layoutId)).toBe(true);
      await new Promise((r) => setImmediate(r));
    }
    expect(await exited, stderr).toBe(0);
    // Both artifacts were seen, so the reads really overlapped the replacements.
    expect(seen.size, JSON.stringify([...seen])).toBe(2);
  });
});
