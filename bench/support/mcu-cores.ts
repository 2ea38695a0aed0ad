/**
 * The Cortex-M cores bench:mcu measures, each on its QEMU board, and how a SysTick tick
 * becomes an instruction count there. Under `-icount shift=0` one guest instruction is
 * one nanosecond of virtual time, and SysTick (CORECLK source, targets/firmware/cycles.c)
 * runs at the board's system clock in that virtual time: instructions = ticks x 1e9 / Hz.
 *
 * The clocks were checked here without -icount (virtual time then follows wall time):
 * SysTick advanced about 24,300-24,600 ticks per wall ms on mps2-an386/an500 (25 MHz)
 * and about 19,600 on mps2-an505 (20 MHz), on runs of 100 mnist-cnn steps.
 */
import type { Target } from '../../targets/index.js';

export interface McuCore {
  core: 'cortex-m4' | 'cortex-m7' | 'cortex-m33';
  /** qemu-system-arm -M. */
  machine: string;
  sysTickHz: number;
}

export const MCU_CORES: readonly McuCore[] = [
  { core: 'cortex-m4', machine: 'mps2-an386', sysTickHz: 25_000_000 },
  { core: 'cortex-m7', machine: 'mps2-an500', sysTickHz: 25_000_000 },
  { core: 'cortex-m33', machine: 'mps2-an505', sysTickHz: 20_000_000 },
];

/** Instructions per SysTick tick under -icount shift=0. */
export function instructionsPerTick(c: McuCore): number {
  return 1e9 / c.sysTickHz;
}

/**
 * `base` (the part the artifact was compiled for, whose SRAM/Flash the firmware is linked
 * and checked against) with another core and board: the same firmware, compiled for that
 * core, so the counts compare instruction sets and nothing else.
 */
export function onCore(base: Target, c: McuCore): Target {
  return { ...base, name: `${base.name}-on-${c.core}`, description: `${base.description}, built for ${c.core} on QEMU ${c.machine}`, cpu: c.core, qemuMachine: c.machine };
}
