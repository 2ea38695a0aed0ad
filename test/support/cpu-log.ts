/**
 * vitest setupFile: with TINYTRAIN_TEST_CPU_LOG=FILE, appends one JSON line per test file
 * with the CPU seconds its worker used (all its threads, asc's among them) and the CPU of
 * the processes it started and waited for (CLI runs), read from /proc at the end of the
 * file. How the tiers' costs are measured on a busy machine, where wall time says little
 * (test/tiers.ts). Without the variable it does nothing.
 */
import { afterAll, expect } from 'vitest';
import { appendFileSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

const LOG = process.env.TINYTRAIN_TEST_CPU_LOG;
/** USER_HZ: the unit of /proc's times, 100 on every Linux build that matters here. */
const TICKS_PER_SECOND = 100;

/** CPU seconds of the processes this one has waited for (/proc/self/stat cutime + cstime); 0 off Linux. */
function childrenCpu(): number {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

if (LOG) {
  // A worker may run several files (the fast tier's are not isolated), and runs this setup
  // file again before each: each line is what the worker used from then to the file's end.
  const start = { self: process.cpuUsage(), children: childrenCpu(), up: process.uptime() };
  afterAll(() => {
    const self = process.cpuUsage(start.self);
    const file = relative(process.cwd(), expect.getState().testPath ?? '?');
    const line = { file, cpu: (self.user + self.system) / 1e6, children: childrenCpu() - start.children, up: process.uptime() - start.up, pid: process.pid };
    appendFileSync(LOG, JSON.stringify(line) + '\n');
  });
}
