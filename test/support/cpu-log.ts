/**
 * vitest setupFile: with TINYTRAIN_TEST_CPU_LOG=FILE, appends one JSON line per test file
 * with the CPU seconds it used: its worker's and every process the worker started (asc
 * children, CLI runs and their asc children; test/support/process-tree-cpu.ts says how).
 * How the tiers' costs are measured on a busy machine, where wall time says little
 * (test/tiers.ts); `tests` holds the tests that took half a second or more. Without the
 * variable it does nothing.
 */
import { afterAll, afterEach, beforeEach, expect } from 'vitest';
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ProcessTreeCpu } from './process-tree-cpu.js';

const LOG = process.env.TINYTRAIN_TEST_CPU_LOG;
const TEST_MIN_CPU = 0.5;

if (LOG) {
  // A worker may run several files (the fast tier's are not isolated), and runs this setup
  // file again before each: one tracker per worker (its warm asc children outlive a file),
  // and each line is what the tree used from then to the file's end.
  const g = globalThis as { tinytrainCpuTracker?: ProcessTreeCpu };
  const tracker = (g.tinytrainCpuTracker ??= new ProcessTreeCpu());
  const start = { cpu: tracker.total(), up: process.uptime() };
  // And the tests that took at least TEST_MIN_CPU seconds, by name (to a sample's precision).
  const tests: Record<string, number> = {};
  let testStart = 0;
  beforeEach(() => {
    testStart = tracker.latest();
  });
  afterEach((ctx) => {
    const cpu = tracker.latest() - testStart;
    if (cpu >= TEST_MIN_CPU) tests[ctx.task.name] = Math.round(cpu * 10) / 10;
  });
  afterAll(() => {
    const file = relative(process.cwd(), expect.getState().testPath ?? '?');
    const line = { file, cpu: tracker.total() - start.cpu, up: process.uptime() - start.up, pid: process.pid, tests };
    appendFileSync(LOG, JSON.stringify(line) + '\n');
  });
}
