/**
 * What every WASI engine shares: write the job folder and the module into a temp dir,
 * launch the engine's host program on it, and read the result back. An engine only
 * says how to launch.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TinytrainError } from '../../compiler/errors.js';
import type { LoadedArtifact } from '../artifact.js';
import { RECOMPILE_HINT } from '../artifact-verify.js';
import type { Dataset } from '../data/dataset.js';
import { readJobResult, withJobDir, type EngineResult, type JobOptions } from './job.js';
import { toolFailed, type ToolRun } from './tool.js';
import { wasiModuleFor } from './wasi-module.js';

/** assembly/wasi/main.ts's exit status when the module and the job's manifest belong to different artifacts. */
const EXIT_WRONG_ARTIFACT = 5;

/** Starts the engine on `wasmPath` with `jobDir` preopened and memory capped at `memoryBytes`. */
export type Launch = (wasmPath: string, jobDir: string, memoryBytes: number) => Promise<ToolRun>;

export async function runWasiJob(engine: string, a: LoadedArtifact, ds: Dataset, o: JobOptions, launch: Launch): Promise<EngineResult> {
  const mod = await wasiModuleFor(a);
  return withJobDir(a, ds, o, async (dir) => {
    const wasmPath = join(dir, 'runtime.wasm');
    writeFileSync(wasmPath, mod.wasm);
    const r = await launch(wasmPath, dir, mod.memoryBytes);
    if (r.code === EXIT_WRONG_ARTIFACT) {
      throw new TinytrainError(`${join(a.dir, a.manifest.files.wasmWasi)} on ${engine}: ${r.stderr.trim().replace(/^tinytrain-wasi: /, '')}`, RECOMPILE_HINT);
    }
    if (r.code !== 0) throw toolFailed(engine, r);
    return readJobResult(a.manifest, dir, r.stdout, engine);
  });
}
