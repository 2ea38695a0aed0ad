/**
 * Runs the AssemblyScript compiler in a worker thread. asc keeps module-level state
 * between calls (e.g. the library files a --config adds, like the WASI shim's), so two
 * builds in one module instance can contaminate each other; a worker gives every build a
 * fresh instance, and lets the SIMD, scalar and WASI builds run in parallel.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ASC_URL = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('assemblyscript/package.json')), 'dist', 'asc.js')).href;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const asc = (await import(workerData.ascUrl)).default;
  const log = [];
  const sink = { write: (s) => { log.push(String(s)); return true; } };
  const { error } = await asc.main(workerData.args, { stdout: sink, stderr: sink });
  parentPort.postMessage({ error: error ? String(error.message || error) : null, log: log.join('') });
})().catch((e) => parentPort.postMessage({ error: String((e && e.stack) || e), log: '' }));
`;

/** asc with these command-line arguments; throws with asc's diagnostics on failure. */
export function runAsc(args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { args, ascUrl: ASC_URL } });
    worker.once('message', (m: { error: string | null; log: string }) => {
      void worker.terminate();
      if (m.error) reject(new Error(`asc (${what}) failed: ${m.error}\n${m.log}`));
      else resolve();
    });
    worker.once('error', (e) => reject(new Error(`asc (${what}) worker failed: ${e.message}`)));
  });
}
