/**
 * Our peer of the step-time bench, run as its own process so its RSS is its own:
 *
 *   node dist/bench/peers/ours-step.js ARTIFACT_DIR simd|scalar JOB.json   -> one JSON line
 *
 * Times `trainStep` of the compiled runtime on Node's V8 after writing the sample into the
 * input buffer (untimed: the arena reuses the input buffer during backward, so every step
 * needs it rewritten, and the peers' inputs are ready-made tensors too).
 */
import { readFileSync } from 'node:fs';
import { readArtifact } from '../../host/artifact.js';
import { Runtime } from '../../host/runtime.js';
import { peakRss, rssNow, summarise, timeSteps, xorshift, type PeerJob, type PeerResult } from './job.js';

async function main(): Promise<void> {
  const [dir, variant, jobPath] = process.argv.slice(2);
  if (!dir || (variant !== 'simd' && variant !== 'scalar') || !jobPath) throw new Error('usage: ours-step.js ARTIFACT_DIR simd|scalar JOB.json');
  const job = JSON.parse(readFileSync(jobPath, 'utf8')) as PeerJob;
  const baseRss = rssNow();
  const art = readArtifact(dir);
  const rt = await Runtime.load(art, variant);
  const m = art.manifest;
  const n = m.inputs[0]!.shape.reduce((a, b) => a * b, 1);
  const rnd = xorshift(job.seed);
  const xs = Array.from({ length: job.samples }, () => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  const ys = xs.map(() => Math.floor(rnd() * m.classes));
  let loss = NaN;
  const ms = timeSteps(
    job,
    (i) => {
      loss = rt.trainStep(ys[i % ys.length]!, job.lr);
    },
    (i) => rt.setInputPixels(xs[i % xs.length]!),
  );
  const r: PeerResult = {
    peer: `tinytrain-${variant}`,
    measured: true,
    ...summarise(ms),
    peakRssBytes: peakRss(),
    baseRssBytes: baseRss,
    info: {
      arenaBytes: m.arena.bytes,
      sramPeakBytes: m.memory.sramPeakBytes,
      wasmMemoryBytes: m.wasmMemoryBytes,
      target: m.target,
      scheme: m.scheme.name,
      lastLoss: loss,
      skippedSteps: rt.stepsSkipped(),
    },
  };
  process.stdout.write(JSON.stringify(r) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
