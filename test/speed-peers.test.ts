/**
 * The step-time bench's peers (bench/peers/) build the network they are given and train
 * what the scheme says, and the bench's bookkeeping (rounds, percentiles, same-network
 * check) is right. Timings are never asserted. The PyTorch peer needs the 3 GB torch venv
 * (scripts/setup-onnx.sh --torch), which the test setup does not install; the bench itself
 * reports it as not measured when it is missing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGraph } from '../compiler/ir/graph.js';
import { resolveTraining, summarise, type PeerJob, type PeerResult } from '../bench/peers/job.js';
import { checkSameNetwork, mergeRounds } from '../bench/speed.js';
import { ArtifactCache, mnistCnn, mnistPartialOptions, partialSchemeFor } from './support/models.js';

const cache = new ArtifactCache();
const work = mkdtempSync(join(tmpdir(), 'tinytrain-peers-'));
afterAll(() => {
  cache.dispose();
  rmSync(work, { recursive: true, force: true });
});

const DIST = join(__dirname, '..', 'dist', 'bench', 'peers');
const spec = mnistCnn();
const graph = buildGraph(spec);
const scheme = partialSchemeFor('mnist-cnn');
const job: PeerJob = { graph, train: resolveTraining(graph, scheme), lr: 0.01, warmup: 1, steps: 3, minSteps: 1, maxSeconds: 30, samples: 2, seed: 1 };
const jobPath = join(work, 'job.json');
writeFileSync(jobPath, JSON.stringify(job));

function peer(script: string, ...args: string[]): PeerResult {
  const r = spawnSync(process.execPath, [join(DIST, script), ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PeerResult;
}

describe('speed bench bookkeeping', () => {
  it('resolves the scheme into per-layer trained channels', () => {
    // partialSchemeFor('mnist-cnn'): biases of pw3, head, fc; head's weights on half its input channels.
    expect(job.train).toEqual({
      pw3: { bias: true, channels: 0, splitChannels: 32 },
      head: { bias: true, channels: 16, splitChannels: 32 },
      fc: { bias: true, channels: 0, splitChannels: 256 }, // dense: its flattened 2x2x64 input
    });
  });

  it('summarises and merges rounds', () => {
    const s = summarise([5, 1, 4, 2, 3]);
    expect([s.medianMs, s.p10Ms, s.p90Ms, s.steps]).toEqual([3, 1, 5, 5]);
    const m = mergeRounds([
      { peer: 'p', measured: true, timesMs: [1, 2], peakRssBytes: 10, baseRssBytes: 4 },
      { peer: 'p', measured: false, note: 'crashed' },
      { peer: 'p', measured: true, timesMs: [3, 4], peakRssBytes: 30, baseRssBytes: 3 },
    ]);
    expect([m.medianMs, m.steps, m.rounds, m.peakRssBytes, m.baseRssBytes]).toEqual([2.5, 4, 2, 30, 3]);
    expect(m.note).toMatch(/1 of 3 rounds failed: crashed/);
  });

  it('flags a peer that built another network', () => {
    const ok = checkSameNetwork({ peer: 'x', measured: true, info: { params: 0, trainedTensors: 4 } }, graph, job);
    expect(ok.note).toMatch(/NOT THE SAME NETWORK: 0 parameters/);
  });
});

describe('step-time peers', () => {
  it("TF.js (CPU) builds the same network and trains the scheme's tensors", () => {
    const r = checkSameNetwork(peer('tfjs-step.js', 'cpu', jobPath), graph, job);
    expect(r.measured, r.note).toBe(true);
    expect(r.note ?? '').not.toMatch(/NOT THE SAME/);
    expect(r.note).toMatch(/head/); // its partial ratio is trained whole and masked, and says so
    expect(r.info?.trainedTensors).toBe(4);
    expect(Number.isFinite(Number(r.info?.lastLoss))).toBe(true);
    expect(r.timesMs).toHaveLength(3);
    expect(r.peakRssBytes).toBeGreaterThan(r.baseRssBytes!);
  });

  it('TF.js (WASM) names the kernels it lacks instead of failing', () => {
    const r = peer('tfjs-step.js', 'wasm', jobPath);
    if (r.measured) {
      // A later tfjs with the kernels: then it must be timed like any other peer.
      expect(r.medianMs).toBeGreaterThan(0);
      expect(r.timesMs!.length).toBeGreaterThan(0);
    } else {
      expect(r.note).toMatch(/kernels missing on wasm: \w+/);
      expect(Number(r.info?.forwardOnlyMedianMs)).toBeGreaterThan(0);
    }
  });

  it('ours reports its arena and trains without skipping steps', async () => {
    const a = await cache.get('mnist-partial', spec, mnistPartialOptions());
    for (const v of ['simd', 'scalar']) {
      const r = peer('ours-step.js', a.dir, v, jobPath);
      expect(r.measured).toBe(true);
      expect(r.info?.arenaBytes).toBe(a.artifact.manifest.arena.bytes);
      expect(r.info?.skippedSteps).toBe(0);
      expect(r.timesMs).toHaveLength(3);
    }
  });
});
