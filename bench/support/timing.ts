/**
 * Median-of-runs timing for micro-benchmarks: warm up (so V8's optimising tier has
 * compiled the code), size a batch of calls to take about `batchMs`, time `runs` batches
 * and return work per second at the median batch.
 */
import { performance } from 'node:perf_hooks';

export function medianRate(call: () => unknown, workPerCall: number, quick = false): number {
  const warmMs = quick ? 30 : 150;
  const batchMs = quick ? 10 : 25;
  const runs = quick ? 5 : 11;
  let calls = 0;
  const t0 = performance.now();
  while (calls < 3 || performance.now() - t0 < warmMs) { call(); calls++; }
  const perCall = (performance.now() - t0) / calls;
  const batch = Math.max(1, Math.round(batchMs / Math.max(perCall, 1e-6)));
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const s = performance.now();
    for (let i = 0; i < batch; i++) call();
    times.push((performance.now() - s) / batch);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  return workPerCall / (median / 1000);
}
