import type { Command } from 'commander';
import { parseByteSize } from '../../targets/index.js';
import { readArtifact } from '../artifact.js';
import { exportCLibrary } from '../clib/export.js';
import { checkOutputFolder } from '../io/output-paths.js';
import { emit, kb, note } from './common.js';

export function registerExport(program: Command): void {
  const exp = program.command('export').description('export an artifact for another build system');
  exp
    .command('c')
    .description('a self-contained C99 library (tinytrain.h: init, set input, train step, predict, save/restore through Flash callbacks)')
    .argument('<dir>', 'artifact folder')
    .requiredOption('--out <dir>', 'library folder to write (atomically); replaces only a library tinytrain exported')
    .option('--flash-erase <size>', "your Flash's erase unit (page or sector), e.g. 4KB (default) or 128KB: each checkpoint slot is a whole number of them")
    .option('--json', 'print one JSON object on stdout')
    .action(async (dir: string, o: { out: string; flashErase?: string; json?: boolean }) => {
      // First of all: the refusal needs no toolchain, and no wasm2c run is wasted on it.
      checkOutputFolder(o.out, '--out', 'c-library');
      const art = readArtifact(dir);
      note(`exporting the C library of ${art.manifest.model}...`);
      const r = await exportCLibrary(art, o.out, { eraseBytes: o.flashErase === undefined ? undefined : parseByteSize(o.flashErase) });
      emit(!!o.json, r, () =>
        [
          `wrote ${r.dir} (${r.files.length} files; build: make, or add_subdirectory in CMake; API: tinytrain.h)`,
          `  SRAM   ${kb(r.sramBytes).padStart(9)}  the arena (.bss), plus your stack`,
          `  Flash  ${kb(r.frozenBytes).padStart(9)}  frozen weights (const), plus code and the ${kb(r.flashAreaBytes)} checkpoint area`,
        ].join('\n'),
      );
    });
}
