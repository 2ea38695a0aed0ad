/** Engine 'node-wasi': the WASI build under this machine's Node (node:wasi), in a child process. */
import type { LoadedArtifact } from '../artifact.js';
import type { Dataset } from '../data/dataset.js';
import type { EngineResult, JobOptions } from './job.js';
import { runWasiJob } from './run-wasi.js';
import { hostScript, runTool } from './tool.js';

export function trainOnNodeWasi(a: LoadedArtifact, ds: Dataset, o: JobOptions): Promise<EngineResult> {
  return runWasiJob('node-wasi', a, ds, o, (wasm, dir, memoryBytes) =>
    // --no-warnings: node:wasi's ExperimentalWarning would otherwise clutter error reports.
    runTool('node-wasi', process.execPath, ['--no-warnings', hostScript('wasi_host.mjs'), wasm, dir, String(memoryBytes)], 'node'),
  );
}
