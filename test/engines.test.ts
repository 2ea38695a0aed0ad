/**
 * Cross-engine determinism: one artifact, the same data, order and seed on every engine
 * (V8 via host/runtime.ts, the WASI build on node:wasi, on wasmtime, and on Debian's
 * arm64 Node under qemu-aarch64) must give byte-identical checkpoints, and a checkpoint
 * from one engine must resume on another exactly as it would on the reference.
 *
 * A missing engine FAILS these tests (with the install command): run
 * `bash scripts/setup-engines.sh` once as root.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { buildGraph } from '../compiler/ir/graph.js';
import { fullScheme } from '../compiler/scheme/scheme.js';
import { decodeCheckpoint } from '../host/checkpoint.js';
import { imageAt, takeFirst, type Dataset } from '../host/data/dataset.js';
import { ENGINES, trainOnEngine, type Engine, type EngineResult, type JobOptions } from '../host/engines/index.js';
import { quantiseImages } from '../host/engines/input-lut.js';
import { jobHeader, JOB_FILES, withJobDir } from '../host/engines/job.js';
import { hostScript, runTool } from '../host/engines/tool.js';
import { wasiModuleFor } from '../host/engines/wasi-module.js';
import { wasmMemoryLimits } from '../host/engines/wasm-memory.js';
import { Runtime } from '../host/runtime.js';
import { getTarget } from '../targets/index.js';
import { ArtifactCache, calibrationInputs, mnist, mnistCnn, type CachedArtifact } from './support/models.js';

const STEPS = 40;
const LR = 0.02;
const SEED = 7;
const SAMPLES = 300;

const cache = new ArtifactCache();
afterAll(() => cache.dispose());

let art: CachedArtifact;
let ds: Dataset;
const timings: string[] = [];

beforeAll(async () => {
  const spec = mnistCnn();
  // Momentum so the checkpoint carries optimizer state that a resume must restore.
  art = await cache.get('mnist-cnn-engines', spec, {
    target: getTarget('stm32f746'),
    scheme: fullScheme(buildGraph(spec)),
    momentum: 0.9,
    calibration: calibrationInputs(50),
  });
  ds = takeFirst(mnist('train'), SAMPLES);
});

afterAll(() => {
  if (timings.length) console.log(`engine timings (${STEPS} steps):\n  ${timings.join('\n  ')}`);
});

/** Runs one engine; a TinytrainError (missing tool) fails with its install hint in the message. */
async function train(engine: Engine, o: JobOptions): Promise<EngineResult> {
  const t0 = performance.now();
  try {
    const r = await trainOnEngine(engine, art.dir, ds, o);
    timings.push(`${engine.padEnd(9)} ${(performance.now() - t0).toFixed(0).padStart(6)} ms  (${o.steps} steps${o.load ? ', resumed' : ''})`);
    return r;
  } catch (e) {
    if (e instanceof TinytrainError) throw new Error(e.describe());
    throw e;
  }
}

const payloadOf = (r: EngineResult): Uint8Array => decodeCheckpoint(art.loaded.manifest, r.checkpoint, 'test');

describe('WASI build', () => {
  it('has a fixed memory (initial = maximum) that holds the whole plan', async () => {
    const mod = await wasiModuleFor(art.loaded);
    const lim = wasmMemoryLimits(mod.wasm);
    expect(lim.maximumPages).toBe(lim.initialPages);
    const m = art.loaded.manifest;
    expect(mod.memoryBytes).toBeGreaterThanOrEqual(m.arena.offset + m.arena.bytes + 512);
    // Same fixed size as the plain build, so the manifest's number holds for every engine.
    expect(mod.memoryBytes).toBe(m.wasmMemoryBytes);
    // Only WASI imports: the module must run on a host that provides nothing else.
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(mod.wasm as Uint8Array<ArrayBuffer>));
    expect(imports.every((i) => i.module === 'wasi_snapshot_preview1')).toBe(true);
  });

  it('gets samples quantised exactly as Runtime.setInputPixels writes them', async () => {
    const rt = await Runtime.load(art.loaded);
    const m = art.loaded.manifest;
    const n = ds.shape[0] * ds.shape[1] * ds.shape[2];
    const q = quantiseImages(m, ds.images.subarray(0, 20 * n));
    for (let i = 0; i < 20; i++) {
      rt.setInputPixels(imageAt(ds, i));
      const written = new Int8Array(rt.bytes().buffer, m.inputs[0]!.offset, n);
      expect(Buffer.from(q.subarray(i * n, (i + 1) * n)).equals(Buffer.from(written))).toBe(true);
    }
  });
});

describe('WASI job runner', () => {
  /** Runs the WASI build on a job that `spoil` damages after it is written; returns exit code and stderr. */
  const runSpoiled = async (spoil: (dir: string) => void): Promise<{ code: number; stderr: string }> => {
    const mod = await wasiModuleFor(art.loaded);
    return withJobDir(art.loaded, ds, { steps: 3, lr: LR, seed: SEED }, async (dir) => {
      spoil(dir);
      writeFileSync(join(dir, 'runtime.wasm'), mod.wasm);
      return runTool('node-wasi', process.execPath, ['--no-warnings', hostScript('wasi_host.mjs'), join(dir, 'runtime.wasm'), dir, String(mod.memoryBytes)], 'node');
    });
  };

  it('refuses a sample index past the end of the dataset', async () => {
    const r = await runSpoiled((dir) => writeFileSync(join(dir, JOB_FILES.order), Uint32Array.of(0, 1, SAMPLES + 5)));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/order\.bin names a sample past the end of samples\.bin/);
  });

  it('refuses a header whose input region lies outside the compiled plan', async () => {
    const r = await runSpoiled((dir) => {
      const h = jobHeader(art.loaded.manifest, ds, { steps: 3, lr: LR, seed: SEED });
      new DataView(h.buffer).setUint32(7 * 4, art.loaded.manifest.wasmMemoryBytes, true); // slot 7: input offset
      writeFileSync(join(dir, JOB_FILES.header), h);
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/input region lies outside the compiled plan/);
  });

  it('refuses a labels file shorter than the dataset', async () => {
    const r = await runSpoiled((dir) => writeFileSync(join(dir, JOB_FILES.labels), new Uint8Array(0)));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/a sample or label lies past the end of its file/);
  });

  it('refuses a job with a missing file', async () => {
    const r = await runSpoiled((dir) => rmSync(join(dir, JOB_FILES.image)));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot open a job file \(wasi errno \d+\)/);
  });
});

describe('cross-engine training', () => {
  it(`gives byte-identical checkpoints on ${ENGINES.join(', ')}`, async () => {
    const o = { steps: STEPS, lr: LR, seed: SEED };
    const ref = await train('node', o);
    expect(ref.steps).toBe(STEPS);
    expect(Number.isFinite(ref.loss)).toBe(true);
    // Training changed the parameters, so equal checkpoints mean equal training.
    const initial = art.loaded.image.subarray(art.loaded.manifest.checkpoint.offset - art.loaded.manifest.image.offset);
    expect(Buffer.from(payloadOf(ref)).equals(Buffer.from(initial.subarray(0, art.loaded.manifest.checkpoint.bytes)))).toBe(false);
    for (const engine of ENGINES.filter((e) => e !== 'node')) {
      const r = await train(engine, o);
      expect(Buffer.from(r.checkpoint).equals(Buffer.from(ref.checkpoint)), `${engine} checkpoint differs from node's`).toBe(true);
      expect({ engine, steps: r.steps, loss: r.loss, accuracy: r.accuracy, skipped: r.skipped }).toEqual({
        engine,
        steps: ref.steps,
        loss: ref.loss,
        accuracy: ref.accuracy,
        skipped: ref.skipped,
      });
    }
  });

  it('resumes a checkpoint from one engine on another exactly as on the reference', async () => {
    const half = STEPS / 2;
    // A chain that crosses every engine boundary once: node -> wasmtime -> arm64 -> node-wasi.
    const chain: Engine[] = ['wasmtime', 'arm64', 'node-wasi'];
    let mixed = await train('node', { steps: half, lr: LR, seed: SEED });
    let ref = mixed;
    for (const [k, engine] of chain.entries()) {
      const o = { steps: half, lr: LR, seed: SEED + 1 + k };
      mixed = await train(engine, { ...o, load: mixed.checkpoint });
      ref = await train('node', { ...o, load: ref.checkpoint });
      expect(Buffer.from(mixed.checkpoint).equals(Buffer.from(ref.checkpoint)), `resume on ${engine} differs from node`).toBe(true);
      expect(mixed.loss).toBe(ref.loss);
    }
  });
});

describe('missing engine tools', () => {
  const withEnv = async (vars: Record<string, string>, fn: () => Promise<unknown>): Promise<unknown> => {
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    Object.assign(process.env, vars);
    try {
      return await fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
  const expectMissing = async (engine: Engine, vars: Record<string, string>, what: RegExp): Promise<void> => {
    const err = await withEnv(vars, () =>
      trainOnEngine(engine, art.dir, ds, { steps: 2, lr: LR, seed: SEED }).then(
        () => null,
        (e: unknown) => e,
      ),
    );
    expect(err).toBeInstanceOf(TinytrainError);
    const e = err as TinytrainError;
    expect(e.message).toMatch(what);
    expect(e.message).toContain('bash scripts/setup-engines.sh');
  };

  it('names a missing python for wasmtime', () => expectMissing('wasmtime', { TINYTRAIN_PYTHON: '/nonexistent/python3' }, /Python 3 \(\/nonexistent\/python3\) was not found/));
  it('names a missing qemu-aarch64 for arm64', () =>
    expectMissing('arm64', { TINYTRAIN_QEMU_AARCH64: '/nonexistent/qemu-aarch64' }, /qemu-aarch64 \(\/nonexistent\/qemu-aarch64\) was not found/));
  it('names a missing arm64 node sysroot', () =>
    expectMissing('arm64', { TINYTRAIN_ARM64_SYSROOT: '/nonexistent/sysroot' }, /arm64 node is not unpacked at \/nonexistent\/sysroot/));
});
