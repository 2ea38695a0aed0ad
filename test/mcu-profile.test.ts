/**
 * The profiling firmware behind `npm run bench:mcu` (host/firmware/profile-build.ts,
 * targets/firmware/profile-marks.c) and the Cortex-M33 build it measures on:
 *
 *  - its console protocol is parsed strictly (fast tier: no tool needed);
 *  - on mnist-cnn in QEMU (full tier: wasm2c, arm-none-eabi-gcc, qemu-system-arm): one
 *    count per program step for every training step, all > 0, adding up to the step;
 *    the same checkpoint as the shipped firmware (the marks change no result) and about
 *    the same instructions per step; and the shipped firmware built for Cortex-M33 runs
 *    on mps2-an505 to the same checkpoint as on the Cortex-M7.
 * Not a timed test: -icount makes the counts deterministic, the bounds are generous.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { takeFirst } from '../host/data/dataset.js';
import { erasedFlash } from '../host/firmware/flash-slots.js';
import { linkerScript } from '../host/firmware/generate.js';
import { buildProfilingFirmware, parseFirmwareProfile } from '../host/firmware/profile-build.js';
import { firmwareReport, runFirmwareJob } from '../host/firmware/qemu.js';
import { getTarget, type Target } from '../targets/index.js';
import { SYSTEM_TOOLS } from './tiers.js';
import { ArtifactCache, calibrationInputs, mnist, mnistCnn } from './support/models.js';

const STM32 = getTarget('stm32f746');
const M33: Target = { ...STM32, name: 'stm32f746-on-cortex-m33', cpu: 'cortex-m33', qemuMachine: 'mps2-an505' };
const STEPS = 3;

const cache = new ArtifactCache();
const work = mkdtempSync(join(tmpdir(), 'tinytrain-mcu-profile-test-'));
afterAll(() => {
  cache.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('profiling firmware output', () => {
  const head = (o: Partial<Record<string, number>> = {}) => `tt-profile ${JSON.stringify({ programSteps: 3, calls: 2, rows: 2, marksBeyond: 0, ...o })}`;
  const row = (call: number, ticks: number[]) => `tt-profile-row ${JSON.stringify({ call, total: 100, ticks })}`;
  const report = '{"steps":2}';

  it('reads the rows after the JSON report', () => {
    const p = parseFirmwareProfile([report, head(), row(0, [1, 2, 3]), row(1, [4, 5, 6]), ''].join('\n'), 3);
    expect(p).toEqual({
      calls: 2,
      rows: [
        { total: 100, ticks: [1, 2, 3] },
        { total: 100, ticks: [4, 5, 6] },
      ],
    });
  });

  it('refuses output that is not a whole profile of this program', () => {
    expect(() => parseFirmwareProfile(report, 3)).toThrow(TinytrainError);
    expect(() => parseFirmwareProfile([head(), row(0, [1, 2, 3]), row(1, [4, 5, 6])].join('\n'), 4)).toThrow(/counts 3 program steps, the artifact has 4/);
    expect(() => parseFirmwareProfile([head({ marksBeyond: 1 }), row(0, [1, 2, 3]), row(1, [4, 5, 6])].join('\n'), 3)).toThrow(/marks past/);
    expect(() => parseFirmwareProfile([head(), row(0, [1, 2, 3])].join('\n'), 3)).toThrow(/announced 2 rows and printed 1/);
    expect(() => parseFirmwareProfile([head(), row(0, [1, 2]), row(1, [4, 5, 6])].join('\n'), 3)).toThrow(/malformed/);
  });

  it("links the Cortex-M33 board's Secure aliases, every other board at 0x0 / 0x20000000", () => {
    expect(linkerScript(M33, { flash: 1024, sram: 2048 }, 0, 4096)).toMatch(
      /FLASH \(rx\) : ORIGIN = 0x10000000, LENGTH = 1024\n {2}RAM \(rwx\) {2}: ORIGIN = 0x38000000, LENGTH = 2048/,
    );
    expect(linkerScript(STM32, { flash: 1024, sram: 2048 }, 0, 4096)).toMatch(
      /FLASH \(rx\) : ORIGIN = 0x00000000, LENGTH = 1024\n {2}RAM \(rwx\) {2}: ORIGIN = 0x20000000, LENGTH = 2048/,
    );
  });
});

describe('mnist-cnn in QEMU', () => {
  it(`profiling firmware: one count per program step, all > 0, same checkpoint and instructions as the shipped firmware (${STEPS} steps)`, { tags: [SYSTEM_TOOLS] }, async () => {
    const { loaded: a } = await cache.get('mnist-cnn-full-stm32', mnistCnn(), { target: STM32, calibration: calibrationInputs(16) });
    const ds = takeFirst(mnist('train'), 16);
    const job = { steps: STEPS, lr: 0.01, seed: 3, resume: false, flash: erasedFlash(a.manifest), icount: true };
    const shipped = await runFirmwareJob(a, STM32, ds, job);
    const shippedCycles = firmwareReport(shipped).cycles;

    const elf = join(work, 'profiling.elf');
    await buildProfilingFirmware(a, STM32, elf);
    const run = await runFirmwareJob(a, STM32, ds, { ...job, elf });
    firmwareReport(run); // the usual JSON line is still there, and the run succeeded
    const p = parseFirmwareProfile(run.stdout, a.manifest.program.length);
    expect(p.calls).toBe(STEPS);
    expect(p.rows).toHaveLength(STEPS);
    for (const r of p.rows) {
      expect(r.ticks.every((t) => t > 0)).toBe(true);
      const sum = r.ticks.reduce((x, y) => x + y, 0);
      expect(sum).toBeLessThanOrEqual(r.total);
      expect(sum).toBeGreaterThan(0.99 * r.total);
    }
    expect(Buffer.from(run.flash).equals(Buffer.from(shipped.flash)), "the profiling firmware's checkpoint differs from the shipped firmware's").toBe(true);
    // The shipped count also holds the loop's sample reads: the two agree to well within 1%.
    const profiledCycles = p.rows.reduce((s, r) => s + r.total, 0);
    expect(Math.abs(profiledCycles / shippedCycles - 1)).toBeLessThan(0.01);
  });

  it('the shipped firmware built for Cortex-M33 trains on mps2-an505 to the Cortex-M7 checkpoint', { tags: [SYSTEM_TOOLS] }, async () => {
    const { loaded: a } = await cache.get('mnist-cnn-full-stm32', mnistCnn(), { target: STM32, calibration: calibrationInputs(16) });
    const ds = takeFirst(mnist('train'), 16);
    const job = { steps: STEPS, lr: 0.01, seed: 3, resume: false, flash: erasedFlash(a.manifest) };
    const m7 = await runFirmwareJob(a, STM32, ds, job);
    const m33 = await runFirmwareJob(a, M33, ds, job);
    expect(firmwareReport(m33).losses).toEqual(firmwareReport(m7).losses);
    expect(Buffer.from(m33.flash).equals(Buffer.from(m7.flash)), 'the Cortex-M33 checkpoint differs from the Cortex-M7 one').toBe(true);
  });
});
