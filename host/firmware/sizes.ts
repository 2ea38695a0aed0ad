/**
 * What a linked firmware takes of the target, measured with arm-none-eabi-size/nm, and
 * the error when it does not fit:
 *
 *   SRAM  = .data + .bss + the linked stack (no heap: nothing allocates)
 *   Flash = .text (code + .rodata, where the frozen weights are) + .data's initial
 *           values + the two checkpoint slots
 */
import { TinytrainError } from '../../compiler/errors.js';
import type { Target } from '../../targets/index.js';
import { runToolOk } from './tools.js';

/** arm-none-eabi-size's Berkeley columns. */
export interface SectionSizes {
  text: number;
  data: number;
  bss: number;
}

export interface FirmwareUsage {
  sizes: SectionSizes;
  sramUsedBytes: number;
  flashUsedBytes: number;
  stackBytes: number;
  slotsBytes: number;
  /** The largest symbols by size, with where they live. */
  largest: Array<{ name: string; bytes: number; memory: 'flash' | 'sram' }>;
}

const RAM_ORIGIN = 0x20000000;

/** `stackBytes`: the stack the ELF links (build.ts firmwareStack). */
export async function measure(elf: string, slotsBytes: number, stackBytes: number): Promise<FirmwareUsage> {
  const size = await runToolOk('arm-none-eabi-size', ['-B', '-d', elf], 'arm-none-eabi-size (Debian package binutils-arm-none-eabi)');
  const row = size.stdout.trim().split('\n')[1]?.trim().split(/\s+/).map(Number);
  if (!row || row.length < 3 || row.slice(0, 3).some((v) => !Number.isFinite(v))) throw new Error(`cannot read arm-none-eabi-size output:\n${size.stdout}`);
  const sizes = { text: row[0]!, data: row[1]!, bss: row[2]! };
  const nm = await runToolOk('arm-none-eabi-nm', ['-S', '-t', 'd', '--size-sort', '-r', elf], 'arm-none-eabi-nm (Debian package binutils-arm-none-eabi)');
  const largest = nm.stdout
    .trim()
    .split('\n')
    .slice(0, 6)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 4)
    .map((f) => ({ name: f[3]!, bytes: Number(f[1]), memory: Number(f[0]) >= RAM_ORIGIN ? ('sram' as const) : ('flash' as const) }));
  return {
    sizes,
    sramUsedBytes: sizes.data + sizes.bss + stackBytes,
    flashUsedBytes: sizes.text + sizes.data + slotsBytes,
    stackBytes,
    slotsBytes,
    largest,
  };
}

/** Throws when the firmware does not fit, naming the overflow and what dominates it. */
export interface LinearMemoryParts {
  ramLinearBytes: number;
  trainedRegionBytes: number;
  arenaBytes: number;
  frozenBytes: number;
}

export function checkFits(u: FirmwareUsage, t: Target, what: LinearMemoryParts): void {
  const problems: string[] = [];
  const kib = (n: number): string => `${n} B (${(n / 1024).toFixed(1)} KiB)`;
  const top = (mem: 'flash' | 'sram'): string =>
    u.largest
      .filter((s) => s.memory === mem)
      .slice(0, 3)
      .map((s) => `${s.name} ${s.bytes} B`)
      .join(', ');
  if (u.sramUsedBytes > t.sramBytes) {
    const parts = [
      ['.bss', u.sizes.bss],
      ['.data', u.sizes.data],
      ['stack', u.stackBytes],
    ] as const;
    const [name, bytes] = [...parts].sort((a, b) => b[1] - a[1])[0]!;
    problems.push(
      `needs ${kib(u.sramUsedBytes)} of SRAM but ${t.name} has ${kib(t.sramBytes)}: ${u.sramUsedBytes - t.sramBytes} B over; ` +
        `${name} dominates with ${bytes} B (.bss ${u.sizes.bss} B incl. the runtime's SRAM linear memory ${what.ramLinearBytes} B = trained region ${what.trainedRegionBytes} B + ` +
        `arena ${what.arenaBytes} B + static data ${what.ramLinearBytes - what.trainedRegionBytes - what.arenaBytes} B, ` +
        `.data ${u.sizes.data} B, stack ${u.stackBytes} B; largest symbols: ${top('sram')})`,
    );
  }
  if (u.flashUsedBytes > t.flashBytes) {
    const parts = [
      ['.text+.rodata', u.sizes.text],
      ['.data image', u.sizes.data],
      ['checkpoint slots', u.slotsBytes],
    ] as const;
    const [name, bytes] = [...parts].sort((a, b) => b[1] - a[1])[0]!;
    problems.push(
      `needs ${kib(u.flashUsedBytes)} of Flash but ${t.name} has ${kib(t.flashBytes)}: ${u.flashUsedBytes - t.flashBytes} B over; ` +
        `${name} dominates with ${bytes} B (.text+.rodata ${u.sizes.text} B incl. frozen weights ${what.frozenBytes} B, ` +
        `.data ${u.sizes.data} B, two checkpoint slots ${u.slotsBytes} B; largest symbols: ${top('flash')})`,
    );
  }
  if (problems.length) {
    throw new TinytrainError(
      `the firmware does not fit ${t.name}: it ${problems.join('; and it ')}`,
      'train fewer layers (a sparser --scheme), drop momentum, or choose a larger target',
    );
  }
}
