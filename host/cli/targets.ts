import type { Command } from 'commander';
import { TARGETS } from '../../targets/index.js';
import { emit, kb } from './common.js';

export function registerTargets(program: Command): void {
  program
    .command('targets')
    .description('list device targets with their SRAM and Flash')
    .option('--json', 'print one JSON object on stdout')
    .action((o: { json?: boolean }) => {
      emit(
        !!o.json,
        { targets: TARGETS.map((t) => ({ name: t.name, kind: t.kind, cpu: t.cpu, sramBytes: t.sramBytes, flashBytes: t.flashBytes, description: t.description })) },
        () =>
          TARGETS.map((t) => `${t.name.padEnd(12)} ${t.kind.padEnd(8)} SRAM ${kb(t.sramBytes).padStart(10)}  Flash ${kb(t.flashBytes).padStart(11)}  ${t.description}`).join('\n'),
      );
    });
}
