import type { Command } from 'commander';
import { getTarget } from '../../targets/index.js';
import { readArtifact } from '../artifact.js';
import { buildFirmware } from '../firmware/build.js';
import { checkOutputFile } from '../io/output-paths.js';
import { emit, kb, note } from './common.js';

export function registerFirmware(program: Command): void {
  program
    .command('firmware')
    .description('build Cortex-M firmware (wasm2c + arm-none-eabi-gcc) from an artifact; frozen weights stay in Flash')
    .argument('<dir>', 'artifact folder compiled for an MCU target')
    .requiredOption('--out <file>', 'ELF file to write (atomically); replaces only a firmware tinytrain built')
    .option('--target <name>', "MCU target (default: the artifact's)")
    .option('--json', 'print one JSON object on stdout')
    .action(async (dir: string, o: { out: string; target?: string; json?: boolean }) => {
      // First of all: the refusal needs no toolchain, and no build is wasted on it.
      checkOutputFile(o.out, 'firmware-elf', '--out');
      const art = readArtifact(dir);
      const target = getTarget(o.target ?? art.manifest.target);
      note(`building firmware for ${target.name} (${target.cpu})...`);
      const b = await buildFirmware(art, target, o.out);
      const m = art.manifest.memory;
      emit(
        !!o.json,
        {
          ...b,
          target: target.name,
          manifest: { sramPeakBytes: m.sramPeakBytes, flashBytes: m.flashBytes },
          limits: { sramBytes: target.sramBytes, flashBytes: target.flashBytes },
        },
        () =>
          [
            `wrote ${b.elf}`,
            `  arm-none-eabi-size   text ${b.sizes.text}  data ${b.sizes.data}  bss ${b.sizes.bss}`,
            `  SRAM used            ${kb(b.sramUsedBytes).padStart(9)} of ${kb(target.sramBytes)}  (.data + .bss + stack; manifest says ${kb(m.sramPeakBytes)})`,
            b.stack.source === 'static-analysis'
              ? `  stack                ${String(b.stack.bytes).padStart(6)} B  (worst case from gcc's call graph: ${b.stack.chain.map((f) => f.fn).join(' -> ')}; the manifest counts the ${kb(target.stackReserveBytes)} reserve)`
              : `  stack                ${String(b.stack.bytes).padStart(6)} B  (the target's reserve: the call graph gave no bound, ${b.stack.reason})`,
            `  Flash used           ${kb(b.flashUsedBytes).padStart(9)} of ${kb(target.flashBytes)}  (incl. two checkpoint slots; frozen weights ${kb(b.frozenBytes)} in .rodata)`,
          ].join('\n'),
      );
    });
}
