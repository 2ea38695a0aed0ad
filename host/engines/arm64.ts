/**
 * Engine 'arm64': the WASI build under Debian's arm64 Node 18, emulated by qemu-aarch64
 * (the "mobile" engine). Node comes from a sysroot of unpacked arm64 .debs that
 * scripts/setup-engines.sh builds; no dpkg architecture is added to the machine.
 *
 * $TINYTRAIN_QEMU_AARCH64 overrides the qemu binary, $TINYTRAIN_ARM64_SYSROOT the sysroot
 * (default .cache/arm64-node/sysroot).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';
import type { LoadedArtifact } from '../artifact.js';
import type { Dataset } from '../data/dataset.js';
import type { EngineResult, JobOptions } from './job.js';
import { runWasiJob } from './run-wasi.js';
import { hostScript, missingTool, runTool } from './tool.js';

export function arm64Tools(): { qemu: string; sysroot: string; node: string } {
  const sysroot = process.env.TINYTRAIN_ARM64_SYSROOT ?? join(packageRoot(), '.cache', 'arm64-node', 'sysroot');
  return { qemu: process.env.TINYTRAIN_QEMU_AARCH64 ?? 'qemu-aarch64', sysroot, node: join(sysroot, 'usr', 'bin', 'node') };
}

export function trainOnArm64(a: LoadedArtifact, ds: Dataset, o: JobOptions): Promise<EngineResult> {
  const t = arm64Tools();
  if (!existsSync(t.node)) return Promise.reject(missingTool('arm64', `Debian's arm64 node is not unpacked at ${t.node}`));
  return runWasiJob('arm64', a, ds, o, (wasm, dir, memoryBytes) =>
    runTool('arm64', t.qemu, ['-L', t.sysroot, t.node, '--no-warnings', hostScript('wasi_host.mjs'), wasm, dir, String(memoryBytes)], 'the user-mode emulator qemu-aarch64'),
  );
}
