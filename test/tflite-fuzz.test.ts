/**
 * Fuzzing the TFLite importer: mutated and truncated .tflite files, each of which must
 * either import into a valid tinytrain model or fail with a TinytrainError, never
 * anything else (no crash, no RangeError, no hang or huge allocation: every file is timed).
 *
 * Seeds: float and int8 models written here with the flatbuffers builder (one with its
 * constants stored after the flatbuffer), and the third-party models of
 * scripts/setup-tflite.sh when installed. Mutations (deterministic, seeded): truncation,
 * bit flips, random bytes, 32-bit words overwritten with hostile offsets and lengths
 * (0, the file size, 2^31 - 1, 2^32 - 1, small and negative values: the vtable, table,
 * vector and string offsets a hostile file would corrupt), and ranges inserted, deleted or
 * duplicated.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { forward } from '../compiler/float/network.js';
import { importTflite } from '../compiler/frontend/tflite/index.js';
import { buildGraph, shapeSize } from '../compiler/ir/graph.js';
import { loadParams } from '../compiler/ir/params.js';
import { Rng } from '../compiler/ir/rng.js';
import { TFLITE_MODELS, encodeTflite } from './support/tflite.js';
import { netModel, type NetDef } from './support/tflite-nets.js';

const CASES = 3000;
const SLOW_MS = 2000;

const NET: NetDef = {
  name: 'fuzz',
  input: [7, 7, 2],
  seed: 9,
  layers: [
    { op: 'conv', name: 'c1', filters: 4, k: 3, act: 'relu' },
    { op: 'dw', name: 'd1', k: 3, act: 'relu6' },
    { op: 'add', name: 'res', from: 'c1' },
    { op: 'avgpool', name: 'pool', size: 2, stride: 1 },
    { op: 'mean', name: 'gap', keepDims: true },
    { op: 'squeeze', name: 'sq' },
    { op: 'fc', name: 'fc', units: 3 },
    { op: 'softmax', name: 'prob' },
  ],
};

function seeds(): { name: string; bytes: Uint8Array }[] {
  const float = netModel(NET, { kind: 'float' });
  const int8 = netModel(NET, { kind: 'int8', ranges: {}, io: 'float' });
  const out = [
    { name: 'float', bytes: encodeTflite(float) },
    { name: 'int8', bytes: encodeTflite(int8) },
    { name: 'float, external data', bytes: encodeTflite(float, true) },
  ];
  if (existsSync(TFLITE_MODELS)) {
    for (const pkg of readdirSync(TFLITE_MODELS)) {
      for (const f of readdirSync(join(TFLITE_MODELS, pkg))
        .filter((n) => n.endsWith('.tflite'))
        .slice(0, 2)) {
        out.push({ name: `${pkg}/${f}`, bytes: new Uint8Array(readFileSync(join(TFLITE_MODELS, pkg, f))) });
      }
    }
  }
  return out;
}

function mutate(src: Uint8Array, rng: Rng): { bytes: Uint8Array; how: string } {
  const b = Uint8Array.from(src);
  const at = (n = b.length): number => rng.nextU32() % Math.max(1, n);
  const view = new DataView(b.buffer);
  switch (rng.nextU32() % 6) {
    case 0: {
      const n = at(src.length);
      return { bytes: src.slice(0, n), how: `truncated to ${n}` };
    }
    case 1: {
      const flips = 1 + at(8);
      for (let i = 0; i < flips; i++) b[at()]! ^= 1 << at(8);
      return { bytes: b, how: `${flips} bit flips` };
    }
    case 2: {
      const n = 1 + at(16);
      const p = at();
      for (let i = 0; i < n && p + i < b.length; i++) b[p + i] = at(256);
      return { bytes: b, how: `${n} random bytes at ${p}` };
    }
    case 3: {
      const hostile = [0, 1, 4, b.length, b.length - 4, 0x7fffffff, 0xffffffff, 0x80000000, 0xfffffffc, at(b.length), 1 << 20, 0xffff];
      const p = at(Math.floor(b.length / 4)) * 4;
      const v = hostile[at(hostile.length)]!;
      if (p + 4 <= b.length) view.setUint32(p, v >>> 0, true);
      return { bytes: b, how: `word at ${p} := ${v}` };
    }
    case 4: {
      const p = at(),
        n = 1 + at(64);
      const out = new Uint8Array(b.length + n);
      out.set(b.subarray(0, p));
      for (let i = 0; i < n; i++) out[p + i] = at(256);
      out.set(b.subarray(p), p + n);
      return { bytes: out, how: `${n} bytes inserted at ${p}` };
    }
    default: {
      const p = at(),
        n = 1 + at(64);
      const out =
        rng.nextU32() % 2 ? new Uint8Array([...b.subarray(0, p), ...b.subarray(p + n)]) : new Uint8Array([...b.subarray(0, p + n), ...b.subarray(p, p + n), ...b.subarray(p + n)]);
      return { bytes: out, how: `range ${p}+${n} deleted or duplicated` };
    }
  }
}

/** Imports `bytes`; an accepted model must be valid and run on the float engine. */
function check(bytes: Uint8Array): 'accepted' | 'refused' {
  try {
    const imp = importTflite(bytes);
    const g = buildGraph(imp.spec);
    forward(g, loadParams(g, imp.spec), new Float32Array(shapeSize(g.inputShape)));
    return 'accepted';
  } catch (e) {
    if (e instanceof TinytrainError) return 'refused';
    throw e;
  }
}

describe('TFLite fuzz: every mutated file imports or is refused with a TinytrainError', () => {
  const all = seeds();

  it('the seeds import or are refused cleanly', () => {
    for (const s of all) expect(['accepted', 'refused']).toContain(check(s.bytes));
    expect(check(all[0]!.bytes)).toBe('accepted');
    expect(check(all[1]!.bytes)).toBe('accepted');
    expect(check(all[2]!.bytes)).toBe('accepted');
  });

  it(`${CASES} mutations, each within ${SLOW_MS} ms`, () => {
    const rng = new Rng(16);
    const counts = { accepted: 0, refused: 0 };
    let slowest = 0;
    for (let i = 0; i < CASES; i++) {
      const seed = all[i % all.length]!;
      const { bytes, how } = mutate(seed.bytes, rng);
      const t0 = performance.now();
      let result: 'accepted' | 'refused';
      try {
        result = check(bytes);
      } catch (e) {
        throw new Error(`case ${i} (${seed.name}, ${how}): ${(e as Error).stack}`);
      }
      const ms = performance.now() - t0;
      slowest = Math.max(slowest, ms);
      expect(ms, `case ${i} (${seed.name}, ${how}) took ${ms.toFixed(0)} ms`).toBeLessThan(SLOW_MS);
      counts[result]++;
    }
    console.log(`tflite fuzz: ${counts.accepted} accepted, ${counts.refused} refused, slowest ${slowest.toFixed(1)} ms`);
    // Mutations land in weights and names too: some files still import.
    expect(counts.accepted).toBeGreaterThan(0);
    expect(counts.refused).toBeGreaterThan(CASES / 4);
  });
});
