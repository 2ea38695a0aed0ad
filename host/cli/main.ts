/**
 * The `tinytrain` command line. Every user-facing failure is a TinytrainError printed as
 * one message plus a hint (exit 1); bad flags exit 2; anything else is a bug and says so.
 */
import { Command, CommanderError } from 'commander';
import { TinytrainError } from '../../compiler/errors.js';
import { registerCompile } from './compile.js';
import { registerTrain } from './train.js';
import { registerEval } from './eval.js';
import { registerReport } from './report.js';
import { registerTargets } from './targets.js';
import { registerDemo } from './demo.js';
import { registerPretrain } from './pretrain.js';
import { registerFirmware } from './firmware.js';
import { registerExport } from './export.js';
import { useRunTempDir } from '../io/run-temp.js';

export function buildProgram(): Command {
  const program = new Command('tinytrain')
    .description('compile small int8 networks into WebAssembly on-device training runtimes')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of [registerCompile, registerTrain, registerEval, registerReport, registerTargets, registerDemo, registerPretrain, registerFirmware, registerExport]) {
    register(program);
  }
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  useRunTempDir(); // no temp file outlives this run (host/io/run-temp.ts)
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof TinytrainError) {
      process.stderr.write(`error: ${e.describe()}\n`);
      return 1;
    }
    const err = e as Error;
    process.stderr.write(`internal error (a tinytrain bug, please report it): ${err?.message ?? String(e)}\n`);
    if (process.env.TINYTRAIN_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    return 70;
  }
}
