/**
 * `npm run bench`: the speed benchmarks of issue 6, one after another, each in its own
 * process (so one's JIT state, heap and RSS never leak into the next), each printing its
 * table and writing its JSON under bench/results/:
 *
 *   kernels         roofline MAC/s of this machine and every main kernel against it
 *   sparse-kernels  pruned kernels against our unpruned kernel at 50/70/90% sparsity
 *   speed           training step time and memory: ours beside PyTorch and TensorFlow.js
 *
 *   npm run bench [-- --only speed,kernels] [-- --quick]
 *
 * Memory and accuracy have their own commands (bench:memory, bench:rounding,
 * bench:firmware, study): they measure other things and take longer.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BENCHES = ['kernels', 'sparse-kernels', 'speed'] as const;

function main(): number {
  const { values } = parseArgs({ options: { only: { type: 'string' }, quick: { type: 'boolean' } } });
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only?.filter((n) => !(BENCHES as readonly string[]).includes(n)) ?? [];
  if (unknown.length) {
    process.stderr.write(`npm run bench: unknown benchmark ${unknown.join(', ')}; choose from ${BENCHES.join(', ')}\n`);
    return 2;
  }
  const here = dirname(fileURLToPath(import.meta.url));
  let failed = 0;
  for (const name of BENCHES.filter((n) => !only || only.includes(n))) {
    process.stdout.write(`\n=== ${name} ===\n`);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [join(here, `${name}.js`), ...(values.quick ? ['--quick'] : [])], { stdio: 'inherit' });
    process.stdout.write(`=== ${name}: ${r.status === 0 ? 'done' : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s ===\n`);
    if (r.status !== 0) failed++;
  }
  return failed ? 1 : 0;
}

process.exitCode = main();
