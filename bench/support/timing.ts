/**
 * Median-of-runs timing for micro-benchmarks: warm up (so V8's optimising tier has
 * compiled the code), size a batch of calls to take about `batchMs`, time `runs` batches
 * and return work per second at the median batch.
 *
 * Time is this process's CPU time (user + system), not wall time: on a shared machine
 * with more runnable threads than cores, wall-clock batches mostly measure how long the
 * process waited for a core. CPU time counts only the time it ran (other load still
 * costs some cache and frequency, so figures remain somewhat noisy).
 */
export const TIMING_CLOCK = 'process CPU time (user + system), median of runs';

const performance = {
  now: (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  },
};

export function medianRate(call: () => unknown, workPerCall: number, quick = false): number {
  const warmMs = quick ? 30 : 150;
  const batchMs = quick ? 10 : 25;
  const runs = quick ? 5 : 11;
  let calls = 0;
  const t0 = performance.now();
  while (calls < 3 || performance.now() - t0 < warmMs) {
    call();
    calls++;
  }
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

/**
 * Rates of `call` and of a reference `ref` timed in alternating batches, with the median
 * of the per-run ratio call/ref: on a shared, loaded machine both feel the same load at
 * the same moment, so the ratio is far steadier than either rate.
 */
export function pairedRates(call: () => unknown, work: number, ref: () => unknown, refWork: number, quick = false): { rate: number; refRate: number; ratio: number } {
  const warmMs = quick ? 30 : 150;
  const batchMs = quick ? 10 : 25;
  const runs = quick ? 5 : 11;
  const batchOf = (f: () => unknown): number => {
    let calls = 0;
    const t0 = performance.now();
    while (calls < 3 || performance.now() - t0 < warmMs) {
      f();
      calls++;
    }
    return Math.max(1, Math.round(batchMs / Math.max((performance.now() - t0) / calls, 1e-6)));
  };
  const time = (f: () => unknown, n: number): number => {
    const s = performance.now();
    for (let i = 0; i < n; i++) f();
    return (performance.now() - s) / n;
  };
  const nc = batchOf(call);
  const nr = batchOf(ref);
  const rates: number[] = [];
  const refs: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < runs; r++) {
    const tc = time(call, nc);
    const tr = time(ref, nr);
    rates.push(work / (tc / 1000));
    refs.push(refWork / (tr / 1000));
    ratios.push(work / tc / (refWork / tr));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { rate: median(rates), refRate: median(refs), ratio: median(ratios) };
}
