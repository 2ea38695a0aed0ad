/**
 * Engine 'wasmtime': the WASI build on wasmtime through its Python embedding
 * (host/engines/wasmtime_host.py, PyPI package `wasmtime`).
 *
 * Python: $TINYTRAIN_PYTHON, else the venv scripts/setup-engines.sh creates
 * (.cache/wasmtime-venv), else python3 on PATH.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';
import type { LoadedArtifact } from '../artifact.js';
import type { Dataset } from '../data/dataset.js';
import type { EngineResult, JobOptions } from './job.js';
import { runWasiJob } from './run-wasi.js';
import { hostScript, missingTool, runTool } from './tool.js';

/** wasmtime_host.py's exit status when `import wasmtime` fails. */
const MISSING_PACKAGE = 3;

export function wasmtimePython(): string {
  if (process.env.TINYTRAIN_PYTHON) return process.env.TINYTRAIN_PYTHON;
  const venv = join(packageRoot(), '.cache', 'wasmtime-venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

export function trainOnWasmtime(a: LoadedArtifact, ds: Dataset, o: JobOptions): Promise<EngineResult> {
  const python = wasmtimePython();
  return runWasiJob('wasmtime', a, ds, o, async (wasm, dir, memoryBytes) => {
    const r = await runTool('wasmtime', python, [hostScript('wasmtime_host.py'), wasm, dir, String(memoryBytes)], 'Python 3');
    if (r.code === MISSING_PACKAGE) throw missingTool('wasmtime', `the Python package wasmtime is not importable by ${python}`);
    return r;
  });
}
