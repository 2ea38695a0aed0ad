/**
 * The losses (compiler/loss.ts): sigmoid binary cross-entropy (one output on the 0/1
 * label, multi-label on K targets) and mean squared error beside softmax cross-entropy.
 *
 *  - kernels (sigmoidBceS8, meanSquaredErrorS8) and the float reference against TF.js
 *    autodiff (tf.losses.sigmoidCrossEntropy / meanSquaredError, the mean over K as
 *    PyTorch's BCEWithLogitsLoss / MSELoss), and the shipped kernels bit-equal to their
 *    plain references, SIMD and scalar builds;
 *  - the loss choice, the manifest's record of it, and its schema;
 *  - a one-output sigmoid model (bce: the sigmoid dropped for training) and a two-output
 *    regression model (mse on K targets) pretrained in float, compiled, and trained
 *    further in the WASM runtime with the loss falling; node and node-wasi bit-identical
 *    (test/engines.test.ts-style; wasmtime, arm64 and cortex-m in the full tier);
 *  - bad labels and targets are TinytrainErrors; [N, K] IDX target files (u8, float32);
 *  - the CLI: compile --loss, report, train and eval on IDX targets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { setWasiPlaceholders } from '../compiler/codegen/build-cache.js';
import { TinytrainError } from '../compiler/errors.js';
import { meanSquaredError, sigmoidBce } from '../compiler/float/kernels.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { chooseLoss } from '../compiler/loss.js';
import { manifestLabelLimit, manifestLoss, type Manifest } from '../compiler/manifest.js';
import { manifestSchema } from '../compiler/manifest-schema.js';
import { loadDataset, takeFirst, type Dataset } from '../host/data/dataset.js';
import { parseIdx } from '../host/data/idx.js';
import { checkDatasetTargets, checkTargetValues } from '../host/data/targets.js';
import { trainOnEngine, type Engine } from '../host/engines/index.js';
import { pretrain } from '../host/pretrain.js';
import { Runtime } from '../host/runtime.js';
import { trainRuntime } from '../host/train.js';
import { getTarget } from '../targets/index.js';
import { ArtifactCache, type CachedArtifact } from './support/models.js';
import { Rng, U32, f32, loadKernels, type KernelModule } from './support/kernel-module.js';
import { SYSTEM_TOOLS } from './tiers.js';

// node-wasi runs the WASI build here, so this file's compiles build it in both tiers.
setWasiPlaceholders(false);

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------
// Kernels against TF.js

describe('loss kernels vs TF.js autodiff, and the shipped kernels vs their references', () => {
  const builds = new Map<boolean, KernelModule>();
  beforeAll(async () => {
    for (const simd of [false, true]) builds.set(simd, await loadKernels({ simd }));
  });

  type Kind = 'bce' | 'mse';
  /** A random case: int8 outputs over the full range, a scale that puts the logits in roughly [-6, 6] or [-0.5, 0.5]. */
  function randomCase(rng: Rng, kind: Kind, count: number): { lq: Int8Array; zp: number; scale: number; z: Float32Array; y: Float32Array } {
    const lq = rng.int8s(count);
    const zp = rng.int(-30, 30);
    const scale = f32(rng.pick([0.004, 0.02, 0.05]));
    const z = Float32Array.from(lq, (v) => (v - zp) * scale);
    const y = Float32Array.from({ length: count }, () => (kind === 'bce' ? rng.int(0, 1) : f32(rng.uniform(-3, 3))));
    return { lq, zp, scale, z, y };
  }

  function tfLoss(kind: Kind, z: Float32Array, y: Float32Array): { value: number; grad: Float32Array } {
    return tf.tidy(() => {
      const labels = tf.tensor(y);
      const f = (t: tf.Tensor): tf.Scalar => (kind === 'bce' ? tf.losses.sigmoidCrossEntropy(labels, t) : tf.losses.meanSquaredError(labels, t)) as tf.Scalar;
      const r = tf.valueAndGrads(f)([tf.tensor(z)]);
      return { value: r.value.dataSync()[0]!, grad: r.grads[0]!.dataSync() as Float32Array };
    });
  }

  /**
   * Tolerances, both sides float32 (u = 2^-24), K outputs, M = max |z| (the logits are
   * exact: (q - zp) * scale is one rounding on each side):
   *   bce  each term max(z, 0) - z y + log1p(exp(-|z|)) carries <= ~4u (1 + M) (exp and
   *        log1p to 1 ulp, three roundings), the sum over K adds gamma_K of the sum:
   *        |dL| <= 2 (K + 4) u (1 + M). Gradient (sigmoid(z) - y) / K: sigmoid to ~3u,
   *        the subtraction and the scaling one rounding each: |dg| <= 10u / K.
   *   mse  d = z - y one rounding, d^2 one more, the sum over K gamma_K:
   *        |dL| <= 2 (K + 3) u L; gradient 2 d / K: |dg| <= 6u |g|.
   */
  function check(m: KernelModule, kind: Kind, count: number, seed: number): void {
    const rng = new Rng(seed);
    const c = randomCase(rng, kind, count);
    const ref = tfLoss(kind, c.z, c.y);
    m.reset();
    const rec = { logits: m.i8(c.lq), count, scale: c.scale, zp: c.zp, grad: m.f32(new Float32Array(count).fill(NaN)), target: m.f32(c.y) };
    const loss = kind === 'bce' ? m.k.sigmoidBceS8(rec) : m.k.meanSquaredErrorS8(rec);
    const grad = m.readF32(rec.grad, count);
    // The plain reference leaves the same bytes and returns the same loss.
    const gradBefore = m.f32(new Float32Array(count).fill(NaN));
    const refRec = { ...rec, grad: gradBefore };
    const refLoss = kind === 'bce' ? m.ref.sigmoidBceS8(refRec) : m.ref.meanSquaredErrorS8(refRec);
    expect(Object.is(refLoss, loss), `${kind} K=${count}: reference loss`).toBe(true);
    expect(Buffer.from(m.readF32(gradBefore, count).buffer).equals(Buffer.from(grad.buffer)), `${kind} K=${count}: reference gradient bytes`).toBe(true);

    const M = Math.max(...c.z.map(Math.abs));
    const lossTol = kind === 'bce' ? 2 * (count + 4) * U32 * (1 + M) : 2 * (count + 3) * U32 * ref.value + 1e-30;
    expect(Math.abs(loss - ref.value), `${kind} K=${count} loss ${loss} vs TF ${ref.value}`).toBeLessThanOrEqual(lossTol);
    for (let i = 0; i < count; i++) {
      const tol = kind === 'bce' ? (10 * U32) / count : 6 * U32 * Math.abs(ref.grad[i]!) + 1e-30;
      expect(Math.abs(grad[i]! - ref.grad[i]!), `${kind} K=${count} dL/dz[${i}]`).toBeLessThanOrEqual(tol);
    }
    // The float reference (compiler/float: float64) within the same bounds.
    const fl = kind === 'bce' ? sigmoidBce(c.z, c.y) : meanSquaredError(c.z, c.y);
    expect(Math.abs(fl.loss - ref.value)).toBeLessThanOrEqual(lossTol);
    for (let i = 0; i < count; i++)
      expect(Math.abs(fl.grad[i]! - ref.grad[i]!)).toBeLessThanOrEqual(kind === 'bce' ? (10 * U32) / count : 6 * U32 * Math.abs(ref.grad[i]!) + 1e-30);
  }

  for (const kind of ['bce', 'mse'] as const) {
    it(`${kind}: loss and gradient for K = 1..12, 33 (scalar and SIMD builds)`, () => {
      for (const simd of [false, true]) for (const count of [1, 2, 3, 5, 8, 12, 33]) for (let s = 0; s < 4; s++) check(builds.get(simd)!, kind, count, 7100 + count * 17 + s);
    });
  }

  it('bce is stable for saturated logits (no overflow, the gradient stays in [-1/K, 1/K])', () => {
    const m = builds.get(false)!;
    m.reset();
    const lq = Int8Array.from([127, -128, 127, -128]);
    const y = Float32Array.from([0, 1, 1, 0]);
    const rec = { logits: m.i8(lq), count: 4, scale: 2, zp: 0, grad: m.f32(new Float32Array(4)), target: m.f32(y) };
    const loss = m.k.sigmoidBceS8(rec);
    // z = +-254 or 256: the wrong two cost |z| each, the right two ~0.
    expect(loss).toBeCloseTo((254 + 256) / 4, 4);
    expect([...m.readF32(rec.grad, 4)]).toEqual([0.25, -0.25, 0, 0]);
  });
});

// ---------------------------------------------------------------------------------------
// The choice of loss

const mlp = (units: number, tail: ModelSpec['layers'] = []): ModelSpec => ({
  format: 'tinytrain-model@1',
  name: `loss-mlp-${units}`,
  input: [28, 28, 1],
  inputRange: [0, 1],
  seed: 7,
  layers: [{ op: 'flatten', name: 'flat' }, { op: 'dense', name: 'fc1', units: 16, activation: 'relu' }, { op: 'dense', name: 'fc2', units }, ...tail],
});

describe('choosing the loss', () => {
  it('a final sigmoid means bce, dropped for training (and its calibration entry with it); one output means bce; more mean softmax-ce', () => {
    const sig = { ...mlp(1, [{ op: 'sigmoid', name: 'sig' }]), calibration: { sig: [0, 1] as [number, number], fc2: [-4, 4] as [number, number] } };
    const c = chooseLoss(sig, undefined);
    expect(c.kind).toBe('bce');
    expect(c.spec.layers.map((l) => l.op)).toEqual(['flatten', 'dense', 'dense']);
    expect(c.spec.outputActivation).toBe('sigmoid');
    expect(Object.keys(c.spec.calibration!)).toEqual(['fc2']);
    expect(c.notes.join('\n')).toMatch(/default .*sigmoid/);
    expect(chooseLoss(mlp(1), undefined).kind).toBe('bce');
    expect(chooseLoss(mlp(10), undefined).kind).toBe('softmax-ce');
    // mse keeps the sigmoid (a regression onto [0, 1]); an explicit choice prints no note.
    const mse = chooseLoss(sig, 'mse');
    expect(mse.spec.layers).toHaveLength(4);
    expect(mse.notes).toEqual([]);
  });

  it('refuses softmax-ce over one output and bce on a softmax model, with hints', () => {
    expect(() => chooseLoss(mlp(1), 'softmax-ce')).toThrow(TinytrainError);
    expect(() => chooseLoss(mlp(1), 'softmax-ce')).toThrow(/one output/);
    expect(() => chooseLoss({ ...mlp(3), outputActivation: 'softmax' }, 'bce')).toThrow(/softmax-ce/);
  });

  it('an old manifest without `loss` trains softmax-ce on its classes; the schema refuses an unknown loss', () => {
    expect(manifestLoss({})).toEqual({ kind: 'softmax-ce', targets: null });
    expect(manifestLabelLimit({ classes: 7 })).toBe(7);
    expect(manifestLabelLimit({ classes: 1, loss: { kind: 'bce', targets: null } })).toBe(2);
    expect(manifestLabelLimit({ classes: 3, loss: { kind: 'mse', targets: { offset: 64, count: 3 } } })).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------
// Training in the runtime

/** The first 300 MNIST training images with three tasks: digit 0 or not (bce), and two regression targets. */
function tasks(): { binary: Dataset; regression: Dataset } {
  const base = takeFirst(loadDataset('mnist', 'train'), 300);
  const binary = { ...base, labels: base.labels.map((l) => (l === 0 ? 1 : 0)), classes: 2 };
  const values = Float32Array.from([...base.labels].flatMap((l) => [l / 9, l % 2 ? 0.5 : -0.5]));
  return { binary, regression: { ...base, labels: new Uint8Array(base.count), classes: 1, targets: { width: 2, values } } };
}

const cache = new ArtifactCache();
afterAll(() => cache.dispose());
let data: ReturnType<typeof tasks>;
let bce: CachedArtifact;
let mse: CachedArtifact;
let bceSpec: ModelSpec;
let mseSpec: ModelSpec;
const target = getTarget('stm32f746');

beforeAll(async () => {
  data = tasks();
  // Float pretraining with the same losses gives trained weights and calibrated ranges.
  // (bce: briefly, so that training on the device has a way to go.)
  bceSpec = pretrain(mlp(1, [{ op: 'sigmoid', name: 'sig' }]), data.binary, { steps: 20, lr: 0.05, momentum: 0, seed: 3 }).spec;
  mseSpec = pretrain(mlp(2), data.regression, { steps: 200, lr: 0.05, momentum: 0, seed: 3, loss: 'mse' }).spec;
  // One after the other, not side by side: each compile's SIMD and scalar builds then run in
  // the worker's two warm asc children (compiler/codegen/asc.ts), where two compiles at once
  // started two more (about 1.3 s of CPU each to load asc and binaryen).
  // stm32f746 runs the scalar module: no test here runs bce's SIMD one. (mse's is built: the
  // CLI test's compile of the same model would build it otherwise, in a fresh asc child.)
  bce = await cache.get('loss-bce', bceSpec, { target }, { simd: 'unused' });
  mse = await cache.get('loss-mse', mseSpec, { target, loss: 'mse' });
}, 120_000);

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('bce and mse models in the runtime', () => {
  it('the manifest records the loss and where the targets go', () => {
    expect(bce.artifact.manifest.loss).toEqual({ kind: 'bce', targets: null });
    expect(bce.artifact.manifest.outputs[0]!.activation).toBe('sigmoid');
    const m = mse.artifact.manifest;
    expect(m.loss).toEqual({ kind: 'mse', targets: { offset: m.arena.offset + m.arena.bytes, count: 2 } });
    expect(manifestSchema.safeParse(m).success).toBe(true);
    expect(manifestSchema.safeParse({ ...m, loss: { kind: 'hinge', targets: null } }).success).toBe(false);
    // The target buffer is SRAM the device needs: 16 bytes above what the arena and the rest take.
    expect(m.memory.sramPeakBytes).toBe(m.arena.bytes + 16 + m.checkpoint.bytes + m.memory.breakdown.staticDataBytes + m.memory.breakdown.runtimeReserveBytes);
  });

  it('the one-output sigmoid model trains (bce falls) and predicts 0/1; inference applies the sigmoid', async () => {
    const rt = await Runtime.load(bce.loaded);
    const first = trainRuntime(rt, data.binary, { steps: 100, lr: 0.05, seed: 1 });
    const later = trainRuntime(rt, data.binary, { steps: 600, lr: 0.05, seed: 2 });
    expect(later.loss).toBeLessThan(0.8 * first.loss);
    expect(later.accuracy).toBeGreaterThan(0.9);
    expect(rt.predict()).toBeGreaterThanOrEqual(0);
    expect(rt.predict()).toBeLessThanOrEqual(1);
    const [p] = rt.outputs();
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1);
    expect(Number(rt.logits()[0]! > 0)).toBe(rt.predict());
  });

  it('the regression model trains on two float targets per sample (mse falls); it reports no accuracy', async () => {
    const rt = await Runtime.load(mse.loaded);
    const first = trainRuntime(rt, data.regression, { steps: 100, lr: 0.02, seed: 1 });
    const later = trainRuntime(rt, data.regression, { steps: 600, lr: 0.02, seed: 2 });
    expect(later.loss).toBeLessThan(first.loss);
    expect(later.accuracy).toBeNaN();
  });

  const engines = (list: Engine[], tags: string[] = []): void => {
    for (const [name, art, ds] of [
      ['bce', () => bce, () => data.binary],
      ['mse', () => mse, () => data.regression],
    ] as const) {
      it(`${name}: ${list.join(', ')} train to node's checkpoint bytes, loss and accuracy`, { tags }, async () => {
        const o = { steps: 60, lr: 0.05, seed: 5 };
        const ref = await trainOnEngine('node', art().dir, ds(), o);
        for (const engine of list) {
          const r = await trainOnEngine(engine, art().dir, ds(), o);
          expect(sha(r.checkpoint), `${engine} checkpoint`).toBe(sha(ref.checkpoint));
          expect({ loss: r.loss, accuracy: r.accuracy, skipped: r.skipped }).toEqual({ loss: ref.loss, accuracy: ref.accuracy, skipped: ref.skipped });
        }
      });
    }
  };
  engines(['node-wasi']);
  engines(['wasmtime', 'arm64', 'cortex-m'], [SYSTEM_TOOLS]);
});

describe('bad labels and targets', () => {
  it('the runtime refuses a bce label other than 0/1, targets of the wrong count, NaN, and targets for a label model', async () => {
    const rb = await Runtime.load(bce.loaded);
    expect(() => rb.trainStep(2, 0.01)).toThrow(/bce labels 0 and 1/);
    expect(() => rb.setTargets([1])).toThrow(TinytrainError);
    const rm = await Runtime.load(mse.loaded);
    expect(() => rm.setTargets([1])).toThrow(/1 target values, the artifact's loss takes 2/);
    expect(() => rm.setTargets([NaN, 0])).toThrow(/not a finite number/);
    expect(() => rm.setTargets([0, Infinity])).toThrow(TinytrainError);
  });

  it('datasets: labels for a target model, targets for a label model, the wrong width, bce targets other than 0/1', () => {
    const m = mse.artifact.manifest;
    expect(() => checkDatasetTargets(m, data.binary)).toThrow(/2 target values per sample/);
    expect(() => checkDatasetTargets(bce.artifact.manifest, data.regression)).toThrow(/trains on one label per sample/);
    const narrow = { ...data.regression, targets: { width: 1, values: new Float32Array(data.regression.count) } };
    expect(() => checkDatasetTargets(m, narrow)).toThrow(/1 targets per sample, the model has 2 outputs/);
    const multi = { ...m, loss: { kind: 'bce' as const, targets: { offset: 64, count: 2 } } } satisfies Manifest;
    expect(() => checkTargetValues(multi, [1, 0.5], 'sample 3')).toThrow(/sample 3: target 1 is 0.5; bce targets are 0 or 1/);
    expect(() => checkTargetValues(multi, [1, 0], 'sample 3')).not.toThrow();
    expect(() => checkDatasetTargets(bce.artifact.manifest, { ...data.binary, labels: Uint8Array.from(data.binary.labels, (l, i) => (i === 7 ? 2 : l)) })).toThrow(
      /label 2 of sample 7/,
    );
  });

  it('IDX targets: [N, K] of u8 or float32 (big-endian); float32 only as targets', () => {
    const f = idxFloat32([2, 2], [0.5, -1, 3, NaN]);
    const a = parseIdx(f, 'targets', { float32: true });
    expect(a.dims).toEqual([2, 2]);
    expect([...a.floats!]).toEqual([0.5, -1, 3, NaN]);
    expect(() => parseIdx(f, 'images')).toThrow(/float32\) is not supported/);
  });
});

// ---------------------------------------------------------------------------------------
// CLI

function idxFloat32(dims: number[], values: number[]): Uint8Array {
  const out = new DataView(new ArrayBuffer(4 + 4 * dims.length + 4 * values.length));
  out.setUint8(2, 0x0d);
  out.setUint8(3, dims.length);
  dims.forEach((d, i) => out.setUint32(4 + 4 * i, d, false));
  values.forEach((v, i) => out.setFloat32(4 + 4 * dims.length + 4 * i, v, false));
  return new Uint8Array(out.buffer);
}

function idxImages(ds: Dataset): Uint8Array {
  const head = new DataView(new ArrayBuffer(16));
  head.setUint8(2, 0x08);
  head.setUint8(3, 3);
  [ds.count, ds.shape[0], ds.shape[1]].forEach((d, i) => head.setUint32(4 + 4 * i, d, false));
  return Buffer.concat([new Uint8Array(head.buffer), ds.images.subarray(0, ds.count * 784)]);
}

describe('CLI --loss', () => {
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-loss-cli-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const run = (...args: string[]): { code: number; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'tinytrain.js'), ...args], { encoding: 'utf8', env: { ...process.env, TINYTRAIN_QUIET: '' } });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

  it('compile --loss mse, report, and train on an IDX file of [N, 2] float32 targets; a NaN target is a clean error', () => {
    const model = join(work, 'mse.json');
    writeFileSync(model, JSON.stringify(mseSpec));
    const out = join(work, 'art');
    const c = run('compile', model, '--target', 'stm32f746', '--loss', 'mse', '--out', out, '--json');
    expect(c.code, c.stderr).toBe(0);
    expect((JSON.parse(c.stdout) as { loss: unknown }).loss).toEqual(mse.artifact.manifest.loss);
    expect(run('report', out).stdout).toMatch(/loss mse, on 2 float32 targets per sample/);
    const ds = data.regression;
    writeFileSync(join(work, 'images'), idxImages(ds));
    writeFileSync(join(work, 'targets'), idxFloat32([ds.count, 2], [...ds.targets!.values]));
    const t = run('train', out, '--data', `${join(work, 'images')},${join(work, 'targets')}`, '--steps', '50', '--lr', '0.02', '--json');
    expect(t.code, t.stderr).toBe(0);
    const r = JSON.parse(t.stdout) as { loss: number; trainAccuracy: number | null };
    expect(r.loss).toBeGreaterThan(0);
    expect(r.trainAccuracy).toBeNull(); // NaN in JSON
    // eval reports the mean loss of the compiled outputs (no accuracy).
    const e = run('eval', out, '--data', `${join(work, 'images')},${join(work, 'targets')}`, '--json');
    expect(e.code, e.stderr).toBe(0);
    const ev = JSON.parse(e.stdout) as { loss: number; accuracy: null };
    expect(ev.accuracy).toBeNull();
    expect(ev.loss).toBeGreaterThan(0);
    expect(ev.loss).toBeLessThan(1);
    const bad = [...ds.targets!.values];
    bad[5] = NaN;
    writeFileSync(join(work, 'bad'), idxFloat32([ds.count, 2], bad));
    const b = run('train', out, '--data', `${join(work, 'images')},${join(work, 'bad')}`, '--steps', '5');
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/sample 2: target 1 is NaN, not a finite number/);
    expect(run('compile', model, '--target', 'stm32f746', '--loss', 'hinge', '--out', join(work, 'x')).stderr).toMatch(/--loss must be softmax-ce or bce or mse/);
  }, 120_000);
});
