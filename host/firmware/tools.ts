/**
 * The external tools the Cortex-M firmware needs (wasm2c, arm-none-eabi-gcc/size/nm,
 * qemu-system-arm), run as child processes, and the one error a user sees when one is
 * missing: what is missing and the command that installs them all.
 *
 * $TINYTRAIN_WASM2C_INCLUDE overrides where wasm-rt.h is looked for.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TinytrainError } from '../../compiler/errors.js';
import { packageRoot } from '../../compiler/codegen/build.js';

export const FIRMWARE_SETUP_COMMAND = 'bash scripts/setup-firmware.sh';

/** Where the firmware's C sources, linker script and startup code live. */
export function firmwareSourceDir(): string {
  return join(packageRoot(), 'targets', 'firmware');
}

/** Debian's wabt ships the wasm2c runtime header here. */
export function wasm2cIncludeDir(): string {
  return process.env.TINYTRAIN_WASM2C_INCLUDE ?? '/usr/src/wasm2c';
}

export function missingFirmwareTool(what: string): TinytrainError {
  return new TinytrainError(
    `the Cortex-M firmware cannot be built or run: ${what}; install the toolchain with: ${FIRMWARE_SETUP_COMMAND}`,
    `run ${FIRMWARE_SETUP_COMMAND} in the tinytrain folder (${packageRoot()}) as root`,
  );
}

export interface ToolRun {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  cwd?: string;
  timeoutMs?: number;
}

/**
 * Runs `cmd args` to completion. A command that does not exist becomes
 * missingFirmwareTool; a timeout kills the child (by its pid) and sets timedOut.
 */
export function runTool(cmd: string, args: string[], what: string, o: RunOptions = {}): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      o.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, o.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(e.code === 'ENOENT' || e.code === 'EACCES' ? missingFirmwareTool(`${what} (${cmd}) was not found`) : e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? -1, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
  });
}

/** Like runTool, but a non-zero exit is an Error carrying the tool's output. */
export async function runToolOk(cmd: string, args: string[], what: string, o: RunOptions = {}): Promise<ToolRun> {
  const r = await runTool(cmd, args, what, o);
  if (r.code !== 0) {
    throw new Error(`${what} failed (exit ${r.code}): ${cmd} ${args.join(' ')}\n${(r.stderr || r.stdout).trim().slice(-4000)}`);
  }
  return r;
}

/** Fails early, with the install command, when wasm-rt.h is not where wasm2c's users expect it. */
export function checkWasm2cRuntimeHeaders(): void {
  if (!existsSync(join(wasm2cIncludeDir(), 'wasm-rt.h'))) {
    throw missingFirmwareTool(`wasm2c's runtime header ${join(wasm2cIncludeDir(), 'wasm-rt.h')} is missing (Debian package wabt)`);
  }
}
