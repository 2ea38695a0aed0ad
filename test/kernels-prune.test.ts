/**
 * Fine-grained sparse kernels for pruned frozen 1x1 layers (assembly/kernels/sparse.ts)
 * against the dense kernels on the same (pruned) weights, bit for bit:
 *  - forward int8: sparse1x1ForwardS8 == conv2dForwardS8 (1x1 over a 1 x P image);
 *  - input gradient f32: sparse1x1BackwardInputF32 == conv2dBackwardInputF32, compared as
 *    raw bits (so +0 and -0 differ: the kernels keep the dense kernel's zero signs, also
 *    when accumulating onto a gradient holding -0), except that any NaN equals any NaN
 *    (WASM leaves NaN payloads to the engine; NaNs appear where the dense kernel computes
 *    inf * 0 for a non-finite upstream gradient);
 *  - unstructured and pair lists; SIMD with scratch (tiles), SIMD without scratch and the
 *    scalar build all give the same bits.
 * Shapes: pixel counts around the tile sizes (16 forward, 4 backward), channel counts that
 * are not multiples of the SIMD width, all-zero output channels, 0% and 100% sparsity.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompileOptions } from '../compiler/index.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { f32ToBase64, loadParams } from '../compiler/ir/params.js';
import { quantizeMultiplier } from '../compiler/quantize/fixedpoint.js';
import { encodeNzList, nzFormat, prunedScratchBytes, type PruneStructure } from '../compiler/pruning/nzlist.js';
import { biasOnlyScheme, lastKScheme } from '../compiler/scheme/parse.js';
import { frozenPointwise, pointwiseShape, pruneParams, type PruneOptions } from '../compiler/pruning/prune.js';
import type { Scheme } from '../compiler/scheme/scheme.js';
import { Runtime } from '../host/runtime.js';
import { getTarget } from '../targets/index.js';
import { type KernelModule, Rng, loadKernels } from './support/kernel-module.js';
import { ArtifactCache, calibrationInputs, mnistCnn } from './support/models.js';
import { caseSubset } from './tiers.js';

let simd: KernelModule;
let scalar: KernelModule;

beforeAll(async () => {
  [simd, scalar] = await Promise.all([loadKernels({ simd: true }), loadKernels({ simd: false })]);
}, 180_000);

interface Case {
  P: number;
  CI: number;
  CO: number;
  sparsity: number;
  structure: PruneStructure;
  seed: number;
}

/** Random int8 weights [CO, CI] in [-127, 127] with a fraction `sparsity` zeroed (pairs: whole pairs), some rows all zero. */
function prunedWeights(rng: Rng, c: Case): Int8Array {
  const w = rng.int8s(c.CO * c.CI, -127, 127);
  for (let co = 0; co < c.CO; co++) {
    const dead = c.sparsity > 0 && rng.next() < 0.15;
    for (let ci = 0; ci < c.CI; ci++) {
      const unit = c.structure === 'pairs' ? ci >> 1 : ci;
      // one draw per unit (pair members share it)
      if (c.structure === 'pairs' && ci % 2 === 1) {
        w[co * c.CI + ci] = w[co * c.CI + ci - 1] === 0 ? 0 : w[co * c.CI + ci]!;
        continue;
      }
      void unit;
      if (dead || rng.next() < c.sparsity) w[co * c.CI + ci] = 0;
    }
  }
  if (c.sparsity >= 1) w.fill(0);
  return w;
}

function cases(): Case[] {
  const rng = new Rng(4242);
  const out: Case[] = [];
  const Ps = [1, 3, 4, 5, 15, 16, 17, 33, 40];
  for (const structure of ['unstructured', 'pairs'] as const) {
    for (const sparsity of [0, 0.5, 0.7, 0.9, 1]) {
      for (let i = 0; i < 4; i++) {
        out.push({ P: rng.pick(Ps), CI: rng.int(1, 45), CO: rng.int(1, 20), sparsity, structure, seed: rng.u32() });
      }
    }
  }
  out.push({ P: 49, CI: 96, CO: 24, sparsity: 0.9, structure: 'unstructured', seed: 7 });
  out.push({ P: 49, CI: 96, CO: 24, sparsity: 0.7, structure: 'pairs', seed: 8 });
  // u16 indices (more than 256 channels, or pairs)
  out.push({ P: 18, CI: 300, CO: 9, sparsity: 0.9, structure: 'unstructured', seed: 9 });
  out.push({ P: 7, CI: 515, CO: 5, sparsity: 0.8, structure: 'pairs', seed: 10 });
  return out;
}

/** Equal element by element; on a mismatch, names the first differing index (cheap on large arrays). */
function same(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) expect(`${what}: [${i}] = ${a[i]}`).toBe(`${what}: [${i}] = ${b[i]}`);
}

const label = (c: Case): string => `${c.structure} P${c.P} ${c.CI}->${c.CO} @${c.sparsity}`;

/** Forward on one module; returns outputs of dense, sparse (scratch) and sparse (no scratch). */
function forwardAll(k: KernelModule, c: Case, w: Int8Array) {
  const rng = new Rng(c.seed);
  k.reset();
  const x = k.i8(rng.int8s(c.P * c.CI));
  const zx = rng.int(-40, 40);
  const bias = k.i32(rng.int32s(c.CO, -6000, 6000));
  const mult = k.i32(Int32Array.from({ length: c.CO }, () => quantizeMultiplier(rng.uniform(1e-4, 3e-2)).m));
  // Shifts below and above 32: the SIMD requantisation has a path for each.
  const shift = k.i32(Int32Array.from({ length: c.CO }, () => (rng.next() < 0.5 ? rng.int(8, 31) : rng.int(32, 45))));
  const zy = rng.int(-20, 20);
  const lo = rng.next() < 0.5 ? zy : -128;
  const pw = k.i8(w);
  const nz = k.i8(new Int8Array(encodeNzList(w, c.CO, c.CI, c.structure).buffer));
  const scratch = k.allocFilled(prunedScratchBytes(c.CI), 0x5a);
  const n = c.P * c.CO;
  const yd = k.allocFilled(n + 32, 0x77);
  k.k.conv2dForwardS8({
    x,
    H: 1,
    W: c.P,
    C: c.CI,
    zx,
    w: pw,
    bias,
    mult,
    shift,
    y: yd,
    OH: 1,
    OW: c.P,
    CO: c.CO,
    zy,
    lo,
    hi: 127,
    KH: 1,
    KW: 1,
    stride: 1,
    pad: 0,
    depthwise: false,
    w2: 0,
    split: 0,
  });
  const pairs = nzFormat(c.CI, c.structure);
  const ys = k.allocFilled(n + 32, 0x77);
  k.k.sparse1x1ForwardS8({ x, P: c.P, CI: c.CI, zx, nz, format: pairs, bias, mult, shift, y: ys, CO: c.CO, zy, lo, hi: 127, scratch });
  const y0 = k.allocFilled(n + 32, 0x77);
  k.k.sparse1x1ForwardS8({ x, P: c.P, CI: c.CI, zx, nz, format: pairs, bias, mult, shift, y: y0, CO: c.CO, zy, lo, hi: 127, scratch: 0 });
  return { dense: k.readBytes(yd, n + 32), tiled: k.readBytes(ys, n + 32), direct: k.readBytes(y0, n + 32) };
}

/** Raw bits, with every NaN mapped to one pattern. */
function bits(f: Float32Array): Uint32Array {
  const u = new Uint32Array(f.buffer.slice(0));
  for (let i = 0; i < f.length; i++) if (Number.isNaN(f[i])) u[i] = 0x7fc00000;
  return u;
}

interface GradOpts {
  accumulate: boolean;
  nonFinite: boolean;
}

function backwardAll(k: KernelModule, c: Case, w: Int8Array, o: GradOpts) {
  const rng = new Rng(c.seed ^ 0x9e37);
  k.reset();
  const gyData = rng.f32s(c.P * c.CO, -1, 1, 0.2);
  // Negative zeros upstream too: g = -0 * scale must be skipped like +0.
  for (let i = 0; i < gyData.length; i++) if (gyData[i] === 0 && rng.next() < 0.5) gyData[i] = -0;
  if (o.nonFinite) {
    gyData[rng.int(0, gyData.length - 1)] = Infinity;
    gyData[rng.int(0, gyData.length - 1)] = NaN;
  }
  const gy = k.f32(gyData);
  const wScale = k.f32(Float32Array.from({ length: c.CO }, () => rng.uniform(0.002, 0.03)));
  const init = rng.f32s(c.P * c.CI, -0.5, 0.5, 0.3);
  // The incoming gradient has -0s (the case where skipping g * 0 could flip a sign).
  for (let i = 0; i < init.length; i++) if (init[i] === 0 && rng.next() < 0.7) init[i] = -0;
  const pw = k.i8(w);
  const nz = k.i8(new Int8Array(encodeNzList(w, c.CO, c.CI, c.structure).buffer));
  const scratch = k.allocFilled(prunedScratchBytes(c.CI), 0x5a);
  const n = c.P * c.CI;
  const run = (f: (gx: number) => void): Float32Array => {
    const gx = k.alloc(4 * n + 64);
    k.writeF32(gx, o.accumulate ? init : new Float32Array(n).fill(123));
    k.writeF32(gx + 4 * n, new Float32Array(16).fill(-7));
    f(gx);
    return k.readF32(gx, n + 16);
  };
  const pairs = nzFormat(c.CI, c.structure);
  const dense = run((gx) =>
    k.k.conv2dBackwardInputF32({
      gy,
      OH: 1,
      OW: c.P,
      CO: c.CO,
      w: pw,
      wScale,
      gx,
      H: 1,
      W: c.P,
      C: c.CI,
      KH: 1,
      KW: 1,
      stride: 1,
      pad: 0,
      depthwise: false,
      accumulate: o.accumulate,
      w2: 0,
      split: 0,
    }),
  );
  const tiled = run((gx) => k.k.sparse1x1BackwardInputF32({ gy, P: c.P, CO: c.CO, nz, format: pairs, wScale, gx, CI: c.CI, accumulate: o.accumulate, scratch }));
  const direct = run((gx) => k.k.sparse1x1BackwardInputF32({ gy, P: c.P, CO: c.CO, nz, format: pairs, wScale, gx, CI: c.CI, accumulate: o.accumulate, scratch: 0 }));
  return { dense: bits(dense), tiled: bits(tiled), direct: bits(direct) };
}

describe('sparse 1x1 forward == dense forward on the pruned weights', () => {
  for (const c of cases()) {
    it(label(c), () => {
      const w = prunedWeights(new Rng(c.seed), c);
      const s = forwardAll(simd, c, w);
      const q = forwardAll(scalar, c, w);
      same(s.tiled, s.dense, 'SIMD tiled');
      same(s.direct, s.dense, 'SIMD direct');
      same(q.tiled, q.dense, 'scalar tiled');
      same(q.direct, q.dense, 'scalar direct');
      same(s.dense, q.dense, 'dense SIMD vs scalar');
    });
  }
});

describe('sparse 1x1 input gradient == dense input gradient, bit for bit', () => {
  for (const c of cases()) {
    for (const o of [
      { accumulate: false, nonFinite: false },
      { accumulate: true, nonFinite: false },
      { accumulate: true, nonFinite: true },
    ]) {
      it(`${label(c)}${o.accumulate ? ' accumulate' : ''}${o.nonFinite ? ' non-finite' : ''}`, () => {
        const w = prunedWeights(new Rng(c.seed), c);
        const s = backwardAll(simd, c, w, o);
        const q = backwardAll(scalar, c, w, o);
        same(s.tiled, s.dense, 'SIMD tiled');
        same(s.direct, s.dense, 'SIMD direct');
        same(q.tiled, q.dense, 'scalar tiled');
        same(q.direct, q.dense, 'scalar direct');
        same(s.dense, q.dense, 'dense SIMD vs scalar');
      });
    }
  }
});

// ---------------------------------------------------------------------------------------
// Pruning at compile time, and the compiled runtimes end to end.

describe('magnitude pruning selects the right fraction', () => {
  const graph = buildGraph(mnistCnn());
  const layers = frozenPointwise(graph, biasOnlyScheme(graph));
  const params = loadParams(graph, mnistCnn());
  const zeros = (w: Float32Array): number => w.reduce((a, v) => a + (v === 0 ? 1 : 0), 0);

  it('bias-only freezes the 1x1 layers and the classifier, nothing else is prunable', () => {
    expect(layers.map((n) => n.name)).toEqual(['pw1', 'pw2', 'pw3', 'fc']);
    expect(frozenPointwise(graph, lastKScheme(graph, 2)).map((n) => n.name)).toEqual(['pw1', 'pw2', 'pw3']);
  });

  for (const ratio of [0, 0.3, 0.8, 1]) {
    it(`per layer, ratio ${ratio}: each layer loses round(ratio * n) weights, the smallest`, () => {
      const out = pruneParams(params, layers, { ratio, mode: 'layer' });
      for (const n of layers) {
        const before = params.get(n.name)!.weight;
        const after = out.get(n.name)!.weight;
        expect(zeros(after)).toBe(Math.round(before.length * ratio));
        const kept = after.filter((v) => v !== 0).map(Math.abs);
        const dropped = before.filter((_, i) => after[i] === 0).map(Math.abs);
        if (kept.length && dropped.length) expect(Math.max(...dropped)).toBeLessThanOrEqual(Math.min(...kept));
        expect(before.some((v) => v === 0)).toBe(false); // the caller's params are untouched
      }
    });
  }

  it('global: one threshold over all layers, the total fraction is exact', () => {
    const out = pruneParams(params, layers, { ratio: 0.8, mode: 'global' });
    const total = layers.reduce((a, n) => a + params.get(n.name)!.weight.length, 0);
    const dropped = layers.reduce((a, n) => a + zeros(out.get(n.name)!.weight), 0);
    expect(dropped).toBe(Math.round(total * 0.8));
    const keptMin = Math.min(...layers.flatMap((n) => [...out.get(n.name)!.weight].filter((v) => v !== 0).map(Math.abs)));
    const dropMax = Math.max(...layers.flatMap((n) => [...params.get(n.name)!.weight].filter((_, i) => out.get(n.name)!.weight[i] === 0).map(Math.abs)));
    expect(dropMax).toBeLessThanOrEqual(keptMin);
    // Different layers end at different sparsities (that is the point of global).
    const per = layers.map((n) => zeros(out.get(n.name)!.weight) / out.get(n.name)!.weight.length);
    expect(Math.max(...per) - Math.min(...per)).toBeGreaterThan(0.01);
  });

  it('pairs: whole aligned input-channel pairs go', () => {
    const out = pruneParams(params, layers, { ratio: 0.5, mode: 'layer', structure: 'pairs' });
    for (const n of layers) {
      const w = out.get(n.name)!.weight;
      const [CO, CI] = pointwiseShape(n);
      let pairs = 0,
        dead = 0;
      for (let co = 0; co < CO; co++)
        for (let c = 0; c < CI; c += 2) {
          pairs++;
          const a = w[co * CI + c] === 0,
            b = c + 1 >= CI || w[co * CI + c + 1] === 0;
          expect(a).toBe(b);
          if (a) dead++;
        }
      expect(dead).toBe(Math.round(pairs * 0.5));
    }
  });
});

/** A 1x1 head before global average pooling: the fused pool/head backward runs sparse. */
function gapHeadSpec(): ModelSpec {
  return {
    format: 'tinytrain-model@1',
    name: 'test-gap-head',
    input: [12, 12, 1],
    inputRange: [0, 1],
    seed: 5,
    layers: [
      { op: 'conv2d', name: 'stem', filters: 12, kernel: 3, stride: 2, padding: 1, activation: 'relu' },
      { op: 'conv2d', name: 'pw', filters: 21, kernel: 1, activation: 'relu6' },
      { op: 'conv2d', name: 'head', filters: 40, kernel: 1, activation: 'relu' },
      { op: 'globalavgpool', name: 'gap' },
      { op: 'dense', name: 'fc', units: 10 },
    ],
    calibration: { stem: [0, 2], pw: [0, 6], head: [0, 3], gap: [0, 2], fc: [-4, 4] },
  };
}

const cache = new ArtifactCache();
afterAll(() => cache.dispose());

async function trainCheckpoint(spec: ModelSpec, opts: CompileOptions, key: string, engine: 'simd' | 'scalar') {
  const { loaded, artifact } = await cache.get(key, spec, opts);
  const rt = await Runtime.load(loaded, engine);
  rt.reset(11);
  const c0 = loaded.manifest.checkpoint;
  const before = rt.bytes().slice(c0.offset, c0.offset + c0.bytes);
  const data = new Rng(77);
  const n = spec.input.reduce((a, b) => a * b, 1);
  for (let s = 0; s < 12; s++) {
    rt.setInputPixels(Uint8Array.from({ length: n }, () => data.u32() & 0xff));
    rt.trainStep(data.u32() % 10, 0.05);
  }
  // The checkpoint region itself: the file header names the layout, which differs (the
  // frozen region holds lists instead of dense weights).
  const c = loaded.manifest.checkpoint;
  const ckpt = rt.bytes().slice(c.offset, c.offset + c.bytes);
  expect(Buffer.compare(ckpt, rt.exportCheckpoint().subarray(-c.bytes))).toBe(0);
  expect(Buffer.compare(ckpt, before), 'training changed the trained parameters').not.toBe(0);
  return { ckpt, artifact };
}

describe('compile --prune: the sparse kernels train bit-identically to the pruned weights run densely', () => {
  const target = getTarget('desktop');
  const calibration = calibrationInputs(8);
  const configs: Array<[string, () => ModelSpec, (g: ReturnType<typeof buildGraph>) => Scheme, PruneOptions, string[], string]> = [
    ['mnist-cnn bias-only 0.8 layer', mnistCnn, biasOnlyScheme, { ratio: 0.8, mode: 'layer' }, ['pw1', 'pw2', 'pw3', 'fc'], 'sparse1x1BackwardInputF32'],
    ['mnist-cnn last-k:2 0.8 global (streamed chain)', mnistCnn, (g) => lastKScheme(g, 2), { ratio: 0.8, mode: 'global' }, ['pw1', 'pw2', 'pw3'], '_ensure'],
    ['mnist-cnn bias-only 0.8 pairs', mnistCnn, biasOnlyScheme, { ratio: 0.8, mode: 'layer', structure: 'pairs' }, ['pw1', 'pw2', 'pw3', 'fc'], 'sparse1x1BackwardInputF32'],
    ['1x1 head + gap bias-only 0.7 (fused head backward)', gapHeadSpec, biasOnlyScheme, { ratio: 0.7 }, ['pw', 'head', 'fc'], 'sparseGapHeadBackwardF32'],
  ];
  for (const [name, specOf, schemeOf, prune, expected, marker] of caseSubset('kernels-prune.configs', configs, (c) => c[0])) {
    it(
      name,
      async () => {
        const spec = specOf();
        const scheme = schemeOf(buildGraph(spec));
        const base: CompileOptions = { target, scheme, prune, calibration: spec.calibration ? undefined : calibration };
        const sparse = await trainCheckpoint(spec, base, `${name}-sparse`, 'simd');
        const m = sparse.artifact.manifest;
        expect(m.sparse!.layers.map((l) => l.name)).toEqual(expected);
        for (const l of m.sparse!.layers) expect(l.pruned).toBe(true);
        expect(m.sparse!.flashSavedBytes).toBeGreaterThan(0);
        expect(sparse.artifact.source).toContain(marker);
        const dense = await trainCheckpoint(spec, { ...base, prunedKernels: false }, `${name}-dense`, 'simd');
        expect(dense.artifact.manifest.sparse!.layers).toEqual([]);
        expect(dense.artifact.source).not.toContain('sparse1x1ForwardS8(');
        expect(Buffer.compare(sparse.ckpt, dense.ckpt), 'sparse vs dense (SIMD)').toBe(0);
        const sparseScalar = await trainCheckpoint(spec, base, `${name}-sparse`, 'scalar');
        const denseScalar = await trainCheckpoint(spec, { ...base, prunedKernels: false }, `${name}-dense`, 'scalar');
        expect(Buffer.compare(sparseScalar.ckpt, denseScalar.ckpt), 'sparse vs dense (scalar)').toBe(0);
        expect(Buffer.compare(sparseScalar.ckpt, sparse.ckpt), 'scalar vs SIMD').toBe(0);
        // The frozen region shrank by about the Flash the manifest reports.
        expect(dense.artifact.manifest.memory.breakdown.frozenParamsBytes - m.memory.breakdown.frozenParamsBytes).toBeGreaterThan(m.sparse!.flashSavedBytes * 0.8);
      },
      300_000,
    );
  }
});

describe('imported sparse weights run on the sparse kernels without --prune', () => {
  it('a frozen 1x1 layer stored with 60% zeros is detected, reported and trains bit-identically to dense', async () => {
    const spec = gapHeadSpec();
    const graph = buildGraph(spec);
    const params = loadParams(graph, spec);
    const rng = new Rng(3);
    const pw = params.get('pw')!.weight;
    for (let i = 0; i < pw.length; i++) if (rng.next() < 0.6) pw[i] = 0;
    spec.params = Object.fromEntries([...params].map(([name, p]) => [name, { weight: f32ToBase64(p.weight), bias: f32ToBase64(p.bias) }]));
    const base: CompileOptions = { target: getTarget('desktop'), scheme: biasOnlyScheme(graph) };
    const sparse = await trainCheckpoint(spec, base, 'imported-sparse', 'simd');
    expect(sparse.artifact.manifest.sparse!.prune).toBeNull();
    const layers = sparse.artifact.manifest.sparse!.layers;
    expect(layers.map((l) => [l.name, l.pruned])).toEqual([['pw', false]]); // head and fc stay dense: no zeros
    expect(layers[0]!.sparsity).toBeGreaterThanOrEqual(0.5);
    const dense = await trainCheckpoint(spec, { ...base, prunedKernels: false }, 'imported-dense', 'simd');
    expect(dense.artifact.manifest.sparse).toBeUndefined();
    expect(Buffer.compare(sparse.ckpt, dense.ckpt)).toBe(0);
  }, 300_000);
});

describe('tinytrain compile --prune (CLI)', () => {
  const BIN = join(__dirname, '..', 'bin', 'tinytrain.js');
  const MODEL = join(__dirname, '..', 'examples', 'mnist-cnn.json');
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, TINYTRAIN_QUIET: '1' } });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const out = join(tmpdir(), `tinytrain-prune-cli-${process.pid}`);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it.each([
    [['--prune', '1.5'], 2, /--prune must be a number in \[0, 1\], got '1.5'/],
    [['--prune', 'most'], 2, /--prune must be a number in \[0, 1\], got 'most'/],
    [['--prune', '-0.1'], 2, /--prune must be a number in \[0, 1\]/],
    [['--prune', '0.8', '--prune-mode', 'layers'], 2, /--prune-mode must be layer or global, got 'layers'/],
    [['--prune', '0.8', '--prune-structure', '2:4'], 2, /--prune-structure must be unstructured or pairs, got '2:4'/],
    [['--prune-mode', 'global'], 1, /--prune-mode and --prune-structure need --prune/],
  ] as Array<[string[], number, RegExp]>)('%j is a clean usage error', (args, code, pattern) => {
    const r = run('compile', MODEL, '--target', 'stm32f746', '--out', out, ...args);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(existsSync(out)).toBe(false);
  });

  it('--prune 0.8 --prune-mode global --json reports the sparse layers and the Flash saved', () => {
    const r = run('compile', MODEL, '--target', 'stm32f746', '--out', out, '--scheme', 'bias-only', '--calibrate', 'random', '--prune', '0.8', '--prune-mode', 'global', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { sparse: { prune: { ratio: number; mode: string }; flashSavedBytes: number; layers: Array<{ name: string; sparsity: number }> } };
    expect(j.sparse.prune).toMatchObject({ ratio: 0.8, mode: 'global' });
    expect(j.sparse.layers.map((l) => l.name)).toEqual(['pw1', 'pw2', 'pw3', 'fc']);
    expect(j.sparse.flashSavedBytes).toBeGreaterThan(1000);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { sparse: unknown };
    expect(manifest.sparse).toEqual(j.sparse);
  }, 120_000);
});
