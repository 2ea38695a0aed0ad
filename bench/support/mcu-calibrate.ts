/**
 * Checks a board's instructions-per-tick figure (mcu-cores.ts) instead of trusting it: a
 * loop of a known number of instructions (mcu-tick-loop.c), built with the firmware's
 * startup, SysTick counter and linker script for the core's board, run under -icount.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';
import type { Target } from '../../targets/index.js';
import { cpuFlags } from '../../host/firmware/build.js';
import { linkerScript } from '../../host/firmware/generate.js';
import { firmwareSourceDir, runToolOk } from '../../host/firmware/tools.js';
import { instructionsPerTick, type McuCore } from './mcu-cores.js';

const ITERATIONS = 5_000_000;
const LOOP_INSTRUCTIONS = 2 * ITERATIONS;

export interface TickCheck {
  loopInstructions: number;
  ticks: number;
  /** loopInstructions / ticks: equals instructionsPerTick(core) to within the counter's own reads. */
  measuredInstructionsPerTick: number;
}

export async function checkTickRate(core: McuCore, target: Target, work: string): Promise<TickCheck> {
  const dir = join(work, `tick-${core.core}`);
  mkdirSync(dir, { recursive: true });
  const script = join(dir, 'link.ld');
  writeFileSync(script, linkerScript(target, { flash: target.flashBytes, sram: target.sramBytes }, 0, target.stackReserveBytes));
  const fw = firmwareSourceDir();
  const elf = join(dir, 'tick-loop.elf');
  const sources = [join(packageRoot(), 'bench', 'support', 'mcu-tick-loop.c'), ...['startup.c', 'cycles.c', 'semihost.c', 'out.c'].map((f) => join(fw, f))];
  await runToolOk(
    'arm-none-eabi-gcc',
    [
      ...cpuFlags(target),
      '-O2',
      `-DTT_LOOP_ITERATIONS=${ITERATIONS}u`,
      '-I',
      fw,
      '-nostartfiles',
      '--specs=nano.specs',
      '--specs=rdimon.specs',
      '-T',
      script,
      '-L',
      fw,
      ...sources,
      '-o',
      elf,
    ],
    'arm-none-eabi-gcc',
  );
  const args = ['-M', core.machine, '-nographic', '-monitor', 'none', '-serial', 'none', '-semihosting-config', 'enable=on,target=native', '-icount', 'shift=0', '-kernel', elf];
  const r = await runToolOk('qemu-system-arm', args, 'qemu-system-arm', { timeoutMs: 60_000 });
  const ticks = Number(/ticks (\d+)/.exec(r.stdout)?.[1]);
  const measured = LOOP_INSTRUCTIONS / ticks;
  // One tick of slack: the counter reads themselves are a few instructions.
  if (!(Math.abs(ticks * instructionsPerTick(core) - LOOP_INSTRUCTIONS) <= instructionsPerTick(core))) {
    throw new Error(
      `${core.machine}: ${LOOP_INSTRUCTIONS} instructions took ${ticks} SysTick ticks (${measured.toFixed(2)} per tick), not ${instructionsPerTick(core)} per tick as mcu-cores.ts says`,
    );
  }
  return { loopInstructions: LOOP_INSTRUCTIONS, ticks, measuredInstructionsPerTick: measured };
}
