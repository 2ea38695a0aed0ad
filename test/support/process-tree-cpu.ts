/**
 * CPU seconds used by this process and every process it started, directly or not, read
 * from /proc (Linux only; elsewhere just this process). For test/support/cpu-log.ts.
 *
 * Why not this process's own count plus /proc/self/stat's cutime: most of a test's CPU is
 * in processes that count in neither. asc builds run in warm children (compiler/codegen/asc.ts)
 * that live on after the file that started them and are never waited for while the
 * worker lives; and a CLI run's own warm asc children outlive the CLI process, are
 * re-parented (to init) when it exits and are reaped there, so their CPU never reaches the
 * worker's cutime. Measured at commit da82457: the old count saw 173 s of the fast tier's
 * 255 s (a child subreaper's count of the whole run).
 *
 * So a thread samples the process tree every SAMPLE_MS: a live descendant counts with
 * everything it has used (its own and its reaped children's CPU); a descendant gone since
 * counts with its last sample only when its parent went first (an orphan, reaped outside
 * the tree), since one reaped by a parent in the tree is in that parent's cutime already.
 * A thread, not a timer: the tests run the CLI with spawnSync, which blocks this process's
 * event loop for the whole run. What an orphan uses after its last sample, and an orphan
 * that lives less than one sample, are missed: a few tenths of a second per CLI run at most.
 */
import { Worker } from 'node:worker_threads';

const SAMPLE_MS = 100;

// The thread: samples, then publishes the total (Float64 at byte 8) and bumps a sequence
// number (Int32 at byte 0) that total() waits on.
const THREAD_SOURCE = `
const { readdirSync, readFileSync } = require('node:fs');
const { workerData } = require('node:worker_threads');
const { shared, sampleMs, root } = workerData;
const seq = new Int32Array(shared, 0, 1);
const total = new Float64Array(shared, 8, 1);
const TICKS_PER_SECOND = 100; // USER_HZ, the unit of /proc's times
function stat(pid) {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const f = readFileSync('/proc/' + pid + '/stat', 'utf8').split(') ')[1].split(' ');
    return { ppid: Number(f[1]), start: f[19], cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND };
  } catch { return undefined; }
}
const seen = new Map(); // "pid:start" -> { stat, gone, orphan }
function sample() {
  const stats = new Map();
  let pids = [];
  try { pids = readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)); } catch {}
  for (const p of pids) { const s = stat(p); if (s) stats.set(Number(p), s); }
  const children = new Map();
  for (const [pid, s] of stats) { if (!children.has(s.ppid)) children.set(s.ppid, []); children.get(s.ppid).push(pid); }
  const live = new Set();
  const queue = [...(children.get(root) || [])];
  while (queue.length) {
    const pid = queue.shift();
    const s = stats.get(pid);
    const key = pid + ':' + s.start;
    live.add(key);
    seen.set(key, { stat: s, gone: false, orphan: false });
    queue.push(...(children.get(pid) || []));
  }
  for (const [key, e] of seen) {
    if (e.gone || live.has(key)) continue;
    e.gone = true;
    // Reaped inside the tree when its parent is still here (this process or a live descendant).
    const parent = stats.get(e.stat.ppid);
    e.orphan = !(e.stat.ppid === root || (parent && live.has(e.stat.ppid + ':' + parent.start)));
  }
  let sum = stat(root)?.cpu ?? 0;
  for (const e of seen.values()) if (!e.gone || e.orphan) sum += e.stat.cpu;
  total[0] = sum;
  Atomics.add(seq, 0, 1);
  Atomics.notify(seq, 0);
}
sample();
setInterval(sample, sampleMs);
`;

export class ProcessTreeCpu {
  private readonly seq: Int32Array;
  private readonly sum: Float64Array;
  private readonly thread: Worker;

  constructor() {
    const shared = new SharedArrayBuffer(16);
    this.seq = new Int32Array(shared, 0, 1);
    this.sum = new Float64Array(shared, 8, 1);
    this.thread = new Worker(THREAD_SOURCE, { eval: true, workerData: { shared, sampleMs: SAMPLE_MS, root: process.pid } });
    this.thread.unref();
  }

  /** CPU seconds of this process and its descendants so far (as the top of this file says), at most one sample old. */
  total(): number {
    // Wait for the next sample (the first one too), so the count includes everything up to now.
    // (A thread that has not sampled yet may still be starting on a busy machine: longer.)
    const now = Atomics.load(this.seq, 0);
    Atomics.wait(this.seq, 0, now, now === 0 ? 100 * SAMPLE_MS : 10 * SAMPLE_MS);
    return this.sum[0]!;
  }

  /** The last sample's total, without waiting (up to SAMPLE_MS old): for the per-test counts. */
  latest(): number {
    return this.sum[0]!;
  }
}
