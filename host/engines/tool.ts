/**
 * Running an engine's external tool (python, qemu-aarch64, node) as a child process,
 * and the one error a user sees when a tool is missing: what is missing, and the
 * command that installs every engine.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { TinytrainError } from '../../compiler/errors.js';
import { packageRoot } from '../../compiler/codegen/build.js';

export const SETUP_COMMAND = 'bash scripts/setup-engines.sh';

export function missingTool(engine: string, what: string): TinytrainError {
  return new TinytrainError(`engine '${engine}' cannot run: ${what}; install it with: ${SETUP_COMMAND}`, `run ${SETUP_COMMAND} in the tinytrain folder (${packageRoot()}) as root`);
}

/** Files shipped beside this module (host scripts run by other interpreters). */
export function hostScript(name: string): string {
  return join(packageRoot(), 'host', 'engines', name);
}

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args`; a command that does not exist becomes missingTool(engine, what). */
export function runTool(engine: string, cmd: string, args: string[], what: string): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT' || e.code === 'EACCES' ? missingTool(engine, `${what} (${cmd}) was not found`) : e);
    });
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

/** A tool that ran but failed: a bug or a broken job, not a missing install. */
export function toolFailed(engine: string, r: ToolRun): Error {
  return new Error(`engine '${engine}' failed with exit code ${r.code}:\n${r.stderr.trim() || r.stdout.trim()}`);
}
