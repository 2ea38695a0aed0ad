/**
 * Training on a chosen engine. Every engine runs the same artifact on the same data in
 * the same sample order, and must produce the same checkpoint bytes:
 *
 *   node       host/runtime.ts on this Node's V8 (the reference; plain WASM build)
 *   node-wasi  the WASI build, node:wasi, this Node
 *   wasmtime   the WASI build, wasmtime (PyPI package) via wasmtime_host.py
 *   arm64      the WASI build, Debian's arm64 Node 18 under qemu-aarch64
 *   cortex-m   the scalar build through wasm2c as firmware for the artifact's MCU target,
 *              in qemu-system-arm (host/firmware/)
 */
import { TinytrainError } from '../../compiler/errors.js';
import { asLoaded, type LoadedArtifact } from '../artifact.js';
import type { Dataset } from '../data/dataset.js';
import { trainOnArm64 } from './arm64.js';
import type { EngineResult, JobOptions } from './job.js';
import { trainOnNode } from './node.js';
import { trainOnNodeWasi } from './node-wasi.js';
import { trainOnWasmtime } from './wasmtime.js';
import { trainOnCortexM } from '../firmware/qemu.js';
import { getTarget } from '../../targets/index.js';

export type { EngineResult, JobOptions } from './job.js';
export { SETUP_COMMAND } from './tool.js';

export const ENGINES = ['node', 'node-wasi', 'wasmtime', 'arm64', 'cortex-m'] as const;
export type Engine = (typeof ENGINES)[number];

/** `artifact`: a verified artifact, or its folder (then read and verified here). */
export async function trainOnEngine(engine: Engine, artifact: LoadedArtifact | string, ds: Dataset, o: JobOptions): Promise<EngineResult> {
  const a = asLoaded(artifact);
  switch (engine) {
    case 'node':
      return trainOnNode(a, ds, o);
    case 'node-wasi':
      return trainOnNodeWasi(a, ds, o);
    case 'wasmtime':
      return trainOnWasmtime(a, ds, o);
    case 'arm64':
      return trainOnArm64(a, ds, o);
    case 'cortex-m':
      return trainOnCortexM(a, getTarget(a.manifest.target), ds, o);
  }
  // Reachable from untyped callers (CLI strings).
  throw new TinytrainError(`unknown engine '${String(engine)}'`, `choose one of: ${ENGINES.join(', ')}`);
}
