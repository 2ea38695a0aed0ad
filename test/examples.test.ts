/**
 * The shipped example models, compiled as a user would: the memory the runtime really
 * touches (a high-water mark measured with canary bytes while it trains) is the arena the
 * manifest states, and MobileNetV2-w0.35 with the anchor's sparse scheme fits an MCU.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import type { Manifest } from '../compiler/manifest.js';
import { schemeFromJson } from '../compiler/scheme/parse.js';
import { Runtime } from '../host/runtime.js';
import { getTarget } from '../targets/index.js';
import { ArtifactCache, sharedMnistCalibration } from './support/models.js';

const cache = new ArtifactCache();
afterAll(() => cache.dispose());
const example = (name: string): ModelSpec => JSON.parse(readFileSync(join(__dirname, '..', 'examples', name), 'utf8')) as ModelSpec;
const ANCHOR_99KB = { n_bias_update: 25, manual_weight_idx: [27, 30, 33, 36, 39, 42, 45, 48], weight_update_ratio: [1, 1, 1, 1, 1, 0.125, 0.5, 1] };

/**
 * Highest arena byte the runtime writes during `steps` training steps, measured by
 * filling the arena with a canary and looking for changed bytes; two canaries, so a
 * write that happens to store the canary value is still seen.
 */
async function highWaterMark(rt: Runtime, m: Manifest, steps: number, pixels: () => Uint8Array): Promise<{ highest: number; outside: number }> {
  const start = m.arena.offset,
    end = m.arena.offset + m.arena.bytes;
  const written = new Uint8Array(rt.memoryBytes - start);
  let outside = 0;
  for (const canary of [0xa5, 0x5a]) {
    rt.reset(1);
    const mem = rt.bytes();
    mem.fill(canary, start, end);
    const above = mem.slice(end);
    for (let s = 0; s < steps; s++) {
      rt.setInputPixels(pixels());
      rt.trainStep(s % m.classes, 0.01);
    }
    const after = rt.bytes();
    for (let i = start; i < end; i++) if (after[i] !== canary) written[i - start] = 1;
    for (let i = end; i < after.length; i++) if (after[i] !== above[i - end]) outside++;
  }
  let highest = -1;
  for (let i = written.length - 1; i >= 0; i--)
    if (written[i]) {
      highest = start + i;
      break;
    }
  return { highest, outside };
}

describe('example models', () => {
  it('mnist-cnn (full update): the runtime touches exactly the arena the manifest states', async () => {
    const spec = example('mnist-cnn.json');
    const { loaded } = await cache.get('mnist-cnn', spec, { target: getTarget('stm32f746'), calibration: sharedMnistCalibration() });
    const m = loaded.manifest;
    const rt = await Runtime.load(loaded);
    let k = 0;
    const { highest, outside } = await highWaterMark(rt, m, 3, () => Uint8Array.from({ length: 784 }, () => (k = (k * 1103515245 + 12345) >>> 0) >>> 24));
    expect(outside, 'bytes changed above the arena').toBe(0);
    // The top buffer ends at the arena end, rounded up to the 16-byte alignment.
    expect(highest).toBeLessThan(m.arena.offset + m.arena.bytes);
    expect(highest).toBeGreaterThanOrEqual(m.arena.offset + m.arena.bytes - 16);
    expect(rt.memoryBytes).toBe(m.wasmMemoryBytes);
  });

  it("mbv2-w0.35-128 with the anchor's 99kb scheme fits stm32f746 and touches exactly its arena", async () => {
    const spec = example('mbv2-w0.35-128.json');
    const graph = buildGraph(spec);
    const scheme = schemeFromJson(graph, ANCHOR_99KB, '99kb');
    const x = Float32Array.from({ length: 128 * 128 * 3 }, (_, i) => Math.sin(i * 0.37));
    const target = getTarget('stm32f746');
    const { loaded } = await cache.get('mbv2', spec, { target, scheme, calibration: [x] });
    const m = loaded.manifest;
    expect(m.memory.sramPeakBytes).toBeLessThan(256 * 1024);
    expect(m.memory.flashBytes).toBeLessThan(target.flashBytes);
    // What the scheme says reaches the artifact: 8 weight-trained layers, 25 bias-trained.
    expect(m.scheme.layers.filter((l) => l.channels > 0).map((l) => l.name)).toEqual([9, 10, 11, 12, 13, 14, 15, 16].map((b) => `b${b}_expand`));
    expect(m.scheme.layers.filter((l) => l.bias)).toHaveLength(25);
    const rt = await Runtime.load(loaded);
    let k = 7;
    const { highest, outside } = await highWaterMark(rt, m, 1, () => Uint8Array.from({ length: 128 * 128 * 3 }, () => (k = (k * 1103515245 + 12345) >>> 0) >>> 24));
    expect(outside, 'bytes changed above the arena').toBe(0);
    expect(highest).toBeLessThan(m.arena.offset + m.arena.bytes);
    expect(highest).toBeGreaterThanOrEqual(m.arena.offset + m.arena.bytes - 16);
  });
});
