/**
 * Fuzzing model JSON and scheme JSON: thousands of mutated and truncated documents, each
 * of which must load into a model (or scheme) or fail with a TinytrainError, never another
 * error and never a hang (every case is timed). Every model that loads is taken through
 * quantisation, planning and code generation, and its AssemblyScript source must contain
 * none of the names the model supplied (the emitter's own check runs too, and so does a
 * stricter one here for the hostile names this file injects).
 *
 * Seeds: examples/*.json, examples/schemes/*.json, and small random valid models (with
 * random schemes in our form). Mutations: values replaced (hostile names with newlines,
 * `*\/`, `unreachable();`, quotes, backslashes, NUL, bidi controls, very long strings;
 * huge, negative, fractional, non-finite numbers; wrong types; deep nesting), keys
 * deleted, added and renamed, list items removed and duplicated, layers renamed to hostile
 * names; then text-level: truncation at a random byte, `1e999` (JSON for Infinity), bytes
 * flipped. Deterministic (seeded).
 *
 * A few hostile-named models are also built through asc: their sources and WASM modules
 * must be identical to those of the same model with plain names (so no export is added and
 * nothing traps), and they must train.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { compile, layoutIdOf, planModel, quantizeSpec } from '../compiler/index.js';
import { emitRuntime } from '../compiler/codegen/emit.js';
import { loadModelFile } from '../compiler/frontend/index.js';
import { buildGraph, hasParams, type Graph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { Rng } from '../compiler/ir/rng.js';
import { parseScheme } from '../compiler/scheme/parse.js';
import type { Scheme } from '../compiler/scheme/scheme.js';
import { getTarget } from '../targets/index.js';
import { mnistCnn, randomScheme, randomSpec, sharedMnistCalibration } from './support/models.js';
import { caseCount } from './tiers.js';

const MODEL_CASES = caseCount('input-fuzz.MODEL_CASES', 5000);
const SCHEME_CASES = caseCount('input-fuzz.SCHEME_CASES', 5000);
const SLOW_MS = 3000;
const ROOT = join(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'tinytrain-input-fuzz-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Names that must never reach generated code. The first group passes validation
 * (printable, bounded), so the emitter meets them; the rest must be refused.
 */
const HOSTILE_VALID = [
  'a }\nexport function evil(): i32 { return 1; }\n// '.replace(/\n/g, ' '),
  '*/ unreachable(); /*',
  'unreachable();',
  'x"; unreachable(); "',
  "it's ' quoted",
  'back\\slash\\n',
  '/features/0/Conv',
  'conv 1 (copy)',
  'é名前😀',
  'x'.repeat(256),
];
const HOSTILE_INVALID = ['a\nexport function evil(): i32 { return 1; }\n//', '}\r\nunreachable();', 'nul\u0000byte', '\u202eevil', 'tab\tname', 'x'.repeat(257), ''];
/** Plain words that are also words of the generated code, and a label of another node. */
const ODD_BUT_PLAIN = ['forward', 'state', 'init', 'constructor', 'toString', 'n3_conv2d', 'stream0', '16'];
const NAMES = [...HOSTILE_VALID, ...HOSTILE_INVALID, ...ODD_BUT_PLAIN, '__proto__', 'input'];

function deep(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const VALUES: unknown[] = [
  0,
  -1,
  1,
  2,
  3,
  7,
  1.5,
  -0.5,
  64,
  65,
  255,
  4096,
  4097,
  2 ** 20,
  2 ** 31,
  2 ** 53,
  1e30,
  1e31,
  1e308,
  -1e308,
  5e-324,
  'NaN',
  'Infinity',
  '-Infinity',
  '1',
  'same',
  'valid',
  'depthwise',
  'relu',
  'relu6',
  'none',
  'conv2d',
  'dense',
  'add',
  'flatten',
  null,
  true,
  false,
  [],
  {},
  [1],
  [1, 2],
  [2, 1],
  [1, 2, 3],
  ['input'],
  ['input', 'input'],
  { bias: true },
  deep(50),
  deep(500),
  'AAAA',
  'AAAAAAAAAAA=',
  '////',
  '!!!!',
  'tinytrain-model@1',
  0.125,
  0.3,
  1 / 3,
  ...NAMES,
];

type Json = unknown;

class Mutator {
  constructor(private readonly rng: Rng) {}
  int(n: number): number {
    return this.rng.nextU32() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rng.uniform() < p;
  }

  /** Every container in the document, with the keys or indices it holds. */
  private containers(v: Json, out: Array<Record<string, Json> | Json[]> = [], depth = 0): Array<Record<string, Json> | Json[]> {
    if (depth > 12 || v === null || typeof v !== 'object') return out;
    out.push(v as Record<string, Json>);
    for (const x of Object.values(v as object)) this.containers(x, out, depth + 1);
    return out;
  }

  mutate(doc: Json, names: readonly string[]): Json {
    const d = structuredClone(doc);
    const steps = this.chance(0.6) ? 1 : 2 + this.int(2);
    for (let s = 0; s < steps; s++) {
      const all = this.containers(d);
      const c = this.pick(all);
      const keys = Object.keys(c);
      const key = keys.length ? this.pick(keys) : '0';
      const op = this.int(13); // 9..12: a hostile rename (the case the emitter must survive)
      const obj = c as Record<string, Json>;
      // Values are copied: a later mutation must not edit (or tie a cycle through) VALUES itself.
      if (op <= 3) obj[key] = structuredClone(this.pick(VALUES));
      else if (op === 4) delete obj[key];
      else if (op === 5 && !Array.isArray(c))
        obj[this.pick(['kernal', 'extra', 'bias', 'name', 'weight_select_criteria', 'groups', '__proto__'])] = structuredClone(this.pick(VALUES));
      else if (op === 6 && !Array.isArray(c) && keys.length) {
        obj[`${key}_`] = obj[key];
        delete obj[key];
      } else if (op === 7 && Array.isArray(c) && c.length) c.splice(this.int(c.length + 1), 0, structuredClone(c[this.int(c.length)]));
      else if (op === 8 && Array.isArray(c) && c.length) c.splice(this.int(c.length), 1);
      else {
        // Rename a layer (or a by-name key) to a hostile name, keeping references consistent half the time.
        const hostile = this.pick(NAMES);
        const layers = (d as { layers?: Json }).layers;
        if (Array.isArray(layers) && layers.length) {
          const l = layers[this.int(layers.length)] as Record<string, Json> | null;
          if (l && typeof l === 'object') {
            const old = l.name;
            l.name = hostile;
            if (this.chance(0.5) && typeof old === 'string') renameEverywhere(d, old, hostile);
          }
        } else if (!Array.isArray(c) && keys.length && names.includes(key)) {
          obj[hostile] = obj[key];
          delete obj[key];
        }
      }
    }
    return d;
  }

  /** Text-level damage: truncation, a number that parses to Infinity, a flipped byte. */
  damage(text: string): string {
    const r = this.int(16);
    if (r === 0) return text.slice(0, this.int(text.length));
    if (r === 1) return text.replace(/(?<=[:[,]\s*)\d+(\.\d+)?/, '1e999');
    // Deep nesting in place of a value (too deep to build as an object here).
    if (r === 3) return text.replace(/(?<=:\s*)\d+/, `${'['.repeat(20000)}1${']'.repeat(20000)}`);
    if (r === 2) {
      const i = this.int(text.length);
      return text.slice(0, i) + String.fromCharCode(this.int(128)) + text.slice(i + 1);
    }
    return text;
  }
}

/** Renames a layer and every reference to it (its name, inputs, params/calibration/scheme keys). */
function renameEverywhere(d: Json, from: string, to: string): void {
  const walk = (v: Json, depth: number): void => {
    if (!v || typeof v !== 'object' || depth > 20) return;
    const o = v as Record<string, Json>;
    for (const k of Object.keys(o)) {
      if (o[k] === from) o[k] = to;
      else walk(o[k], depth + 1);
      if (k === from && !Array.isArray(v)) {
        o[to] = o[k];
        delete o[k];
      }
    }
  };
  walk(d, 0);
}

/** Names a spec supplies: the model's, every layer's, and every by-name key. */
function suppliedNames(spec: ModelSpec): string[] {
  const keys = (r: object | undefined): string[] => (r ? Object.keys(r) : []);
  return [
    spec.name,
    ...spec.layers.flatMap((l) => [l.name ?? '', ...(l.inputs ?? [])]),
    ...keys(spec.params),
    ...keys(spec.calibration),
    ...keys(spec.quantization?.tensors),
    ...keys(spec.quantization?.weights),
  ].filter(Boolean);
}

/** Stricter than the emitter's own check, for the names this file injects. */
function expectNoHostileName(source: string, names: string[]): void {
  for (const n of names) if (HOSTILE_VALID.includes(n) || HOSTILE_INVALID.includes(n)) expect(source.includes(n), `source contains ${JSON.stringify(n)}`).toBe(false);
  expect(source).not.toMatch(/evil|unreachable/);
}

function calibrationSamples(g: Graph, rng: Rng): Float32Array[] {
  const [h, w, c] = g.inputShape;
  return [Float32Array.from({ length: h * w * c }, () => rng.uniform())];
}

/** Through to the emitted source (no asc: too slow for thousands). */
function emitFor(spec: ModelSpec, scheme: ((g: Graph) => Scheme) | undefined, rng: Rng): string {
  const graph = buildGraph(spec);
  const { quant } = quantizeSpec(spec, spec.calibration ? undefined : calibrationSamples(graph, rng));
  const plan = planModel(quant, { scheme: scheme?.(graph) });
  return emitRuntime(quant, plan.program, plan.arena, plan.layout, { arenaBase: plan.layout.trainEnd, momentum: 0, qas: true, rounding: 'stochastic', layoutId: layoutIdOf(plan) });
}

/** Runs one case; returns 'ok' or 'refused'. Anything but a TinytrainError fails the test. */
function expectCleanOutcome(what: string, run: () => void): 'ok' | 'refused' {
  const t0 = performance.now();
  let outcome: 'ok' | 'refused' = 'ok';
  try {
    run();
  } catch (e) {
    if (!(e instanceof TinytrainError)) throw new Error(`${what}: ${(e as Error).stack ?? String(e)}`);
    expect(e.message.length).toBeLessThan(2000);
    outcome = 'refused';
  }
  const ms = performance.now() - t0;
  if (ms > SLOW_MS) throw new Error(`${what}: took ${ms.toFixed(0)} ms`);
  return outcome;
}

function exampleJson(path: string): Json {
  return JSON.parse(readFileSync(join(ROOT, path), 'utf8'));
}

describe('model JSON fuzz', () => {
  it(`${MODEL_CASES} mutated and truncated model files load or fail with a TinytrainError; no name reaches the source`, () => {
    const rng = new Rng(11);
    const m = new Mutator(rng);
    const seeds: Json[] = [
      exampleJson('examples/mnist-cnn.json'),
      exampleJson('examples/study-cnn.json'),
      ...Array.from({ length: 12 }, (_, i) => randomSpec(100 + i, { tableActivations: i % 2 === 0, mulConcat: i % 3 === 1 })),
    ];
    const file = join(work, 'model.json');
    const counts = { ok: 0, refused: 0, emitted: 0 };
    for (let i = 0; i < MODEL_CASES; i++) {
      const seed = seeds[i % seeds.length]!;
      const text = m.damage(JSON.stringify(m.mutate(seed, [])));
      writeFileSync(file, text);
      const outcome = expectCleanOutcome(`model case ${i}`, () => {
        const spec = loadModelFile(file);
        const source = emitFor(spec, undefined, rng);
        expectNoHostileName(source, suppliedNames(spec));
        counts.emitted++;
      });
      counts[outcome]++;
    }
    console.log(`model fuzz: ${JSON.stringify(counts)}`);
    // The mutations must exercise both sides. About 10% load (511 of 5000 in the full tier
    // since the seeds include table activations, whose extra fields break more often); 5% is
    // three standard deviations below that at the fast tier's 300 cases.
    expect(counts.ok).toBeGreaterThan(MODEL_CASES * 0.05);
    expect(counts.refused).toBeGreaterThan(MODEL_CASES * 0.3);
  });

  it('the TS API takes the same checks (non-JSON values: NaN, Infinity, functions, cycles)', () => {
    const base = mnistCnn();
    const bad: Array<(s: Record<string, Json>) => void> = [
      (s) => {
        (s.layers as Array<Record<string, Json>>)[0]!.kernel = NaN;
      },
      (s) => {
        (s.layers as Array<Record<string, Json>>)[0]!.filters = Infinity;
      },
      (s) => {
        s.inputRange = [0, NaN];
      },
      (s) => {
        s.calibration = { input: [0, Infinity] };
      },
      (s) => {
        s.seed = () => 1;
      },
      (s) => {
        const cyc: Record<string, Json> = {};
        cyc.self = cyc;
        s.notes = cyc;
      },
      (s) => {
        s.quantization = { tensors: { input: { scale: 0, zeroPoint: 0 } } };
      },
      (s) => {
        s.quantization = { tensors: { input: { scale: 1, zeroPoint: 200 } } };
      },
    ];
    for (const [k, f] of bad.entries()) {
      const s = structuredClone(base) as unknown as Record<string, Json>;
      f(s);
      expect(() => quantizeSpec(s as unknown as ModelSpec), `case ${k}`).toThrow(TinytrainError);
    }
  });
});

describe('scheme JSON fuzz', () => {
  it(`${SCHEME_CASES} mutated scheme files load or fail with a TinytrainError`, () => {
    const rng = new Rng(23);
    const m = new Mutator(rng);
    // (model, scheme document) pairs: the shipped schemes with their models (the reference's
    // form: tte-mbv2-w0.35-99kb; ours: the other two), and our form from random schemes of
    // random models.
    const study = buildGraph(exampleJson('examples/study-cnn.json') as ModelSpec);
    const mbv2 = buildGraph(exampleJson('examples/mbv2-w0.35-128.json') as ModelSpec);
    const tte = buildGraph(exampleJson('examples/tte-mbv2-w0.35.json') as ModelSpec);
    const pairs: Array<{ spec: ModelSpec | undefined; graph: Graph; doc: Json }> = [
      { spec: undefined, graph: tte, doc: exampleJson('examples/schemes/tte-mbv2-w0.35-99kb.json') },
      { spec: undefined, graph: mbv2, doc: exampleJson('examples/schemes/mbv2-99kb.json') },
      { spec: exampleJson('examples/study-cnn.json') as ModelSpec, graph: study, doc: exampleJson('examples/schemes/study-cnn-anchor.json') },
    ];
    for (let i = 0; i < 10; i++) {
      const spec = randomSpec(200 + i, { tableActivations: i % 2 === 0, mulConcat: i % 3 === 1 });
      const graph = buildGraph(spec);
      const s = randomScheme(graph, i);
      pairs.push({ spec, graph, doc: { name: s.name, layers: Object.fromEntries([...s.layers].map(([k, v]) => [k, { bias: v.bias, weightRatio: v.weightRatio }])) } });
    }
    const file = join(work, 'scheme.json');
    const counts = { ok: 0, refused: 0 };
    for (let i = 0; i < SCHEME_CASES; i++) {
      const p = pairs[i % pairs.length]!;
      const text = m.damage(
        JSON.stringify(
          m.mutate(
            p.doc,
            p.graph.nodes.filter(hasParams).map((n) => n.name),
          ),
        ),
      );
      writeFileSync(file, text);
      counts[
        expectCleanOutcome(`scheme case ${i}`, () => {
          const scheme = parseScheme(p.graph, file);
          for (const name of scheme.layers.keys()) expect(p.graph.nodes.some((n) => n.name === name)).toBe(true);
          // Our form allows the listed ratios; the reference's resolves a layer to int(C x ratio) of
          // its C channels, stored as that fraction (e.g. 9 of 28), which is anywhere in [0, 1].
          for (const t of scheme.layers.values()) expect(t.weightRatio >= 0 && t.weightRatio <= 1, `weight ratio ${t.weightRatio}`).toBe(true);
          // Small models go on to code generation with the scheme (mbv2 plans too slowly for thousands).
          if (p.spec && i % 5 === 0)
            expectNoHostileName(
              emitFor(p.spec, () => scheme, rng),
              [scheme.name],
            );
        })
      ]++;
    }
    console.log(`scheme fuzz: ${JSON.stringify(counts)}`);
    expect(counts.ok).toBeGreaterThan(SCHEME_CASES * 0.08);
    expect(counts.refused).toBeGreaterThan(SCHEME_CASES * 0.3);
  });
});

describe('hostile names through asc', () => {
  /** mnist-cnn with every layer and the model renamed to hostile (valid) names, references kept. */
  function hostileMnist(): ModelSpec {
    const spec = mnistCnn();
    const doc = spec as unknown as Json;
    spec.layers.forEach((l, i) => renameEverywhere(doc, l.name!, `${HOSTILE_VALID[i % HOSTILE_VALID.length]!.slice(0, 200)} #${i}`));
    spec.name = '*/ unreachable(); export function evil(): i32 { return 1; } /*';
    return spec;
  }

  it('builds the same source and WASM as plain names: no export added, every step runs', async () => {
    const target = getTarget('stm32f746');
    const calibration = sharedMnistCalibration();
    const plain = await compile(mnistCnn(), { target, calibration });
    const hostile = await compile(hostileMnist(), { target, calibration });
    expect(hostile.source).toBe(plain.source);
    expectNoHostileName(hostile.source, suppliedNames(hostileMnist()));
    for (const k of ['wasmSimd', 'wasmScalar', 'wasmWasi'] as const) {
      expect(Buffer.from(hostile[k]).equals(Buffer.from(plain[k])), k).toBe(true);
      const exports = WebAssembly.Module.exports(new WebAssembly.Module(hostile[k] as Uint8Array<ArrayBuffer>)).map((e) => e.name);
      expect(exports.filter((e) => /evil/.test(e))).toEqual([]);
    }
    // The exports the runtime is documented to have, and nothing else a name could add.
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(hostile.wasmScalar as Uint8Array<ArrayBuffer>))
      .map((e) => e.name)
      .sort();
    expect(exports).toEqual(expect.arrayContaining(['heapBase', 'init', 'lastPrediction', 'memory', 'predict', 'stepsDone', 'stepsNonFinite', 'stepsSkipped', 'trainStep']));
    // The user's names are in the manifest, where they belong.
    expect(hostile.manifest.model).toBe(hostileMnist().name);
    expect(hostile.manifest.nodes.map((n) => n.name)).toEqual(hostileMnist().layers.map((l) => l.name));
    // A training step runs (a pasted `unreachable();` would trap here).
    const mod = await WebAssembly.instantiate(new WebAssembly.Module(hostile.wasmScalar as Uint8Array<ArrayBuffer>), {
      env: {
        abort: () => {
          throw new Error('abort');
        },
      },
    });
    const ex = mod.exports as { memory: WebAssembly.Memory; init(seed: number): void; trainStep(label: number, lr: number): number };
    new Uint8Array(ex.memory.buffer).set(hostile.image, hostile.manifest.image.offset);
    ex.init(1);
    expect(Number.isFinite(ex.trainStep(3, 0.01))).toBe(true);
  });
});
