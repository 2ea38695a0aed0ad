/**
 * Budgets at compile time: Flash is checked as well as SRAM, and a --budget above the
 * target's SRAM is refused unless asked for explicitly.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TinytrainError } from '../compiler/errors.js';
import { compile, type CompileOptions } from '../compiler/index.js';
import { getTarget, type Target } from '../targets/index.js';
import { mnistCnn, sharedMnistCalibration } from './support/models.js';

const stm32 = getTarget('stm32f746');
const withFlash = (flashBytes: number): Target => ({ ...stm32, name: 'tiny-flash', flashBytes });

async function compileError(opts: CompileOptions): Promise<{ err: unknown; stages: string[] }> {
  const stages: string[] = [];
  const err = await compile(mnistCnn(), { ...opts, onStage: (s) => stages.push(s) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, stages };
}

describe('Flash budget', () => {
  it('a weights image larger than the Flash is refused before any WASM build', async () => {
    const { err, stages } = await compileError({ target: withFlash(10_000), calibration: sharedMnistCalibration() });
    expect(err).toBeInstanceOf(TinytrainError);
    expect((err as Error).message).toMatch(/needs \d+ B of Flash but target tiny-flash has 10000 B/);
    expect(stages).not.toContain('built');
  });

  it('image + code over the Flash is refused after the build, with both figures', async () => {
    // mnist-cnn: a 26.8 KB image fits 30 000 B, image + ~6 KB of code does not.
    const { err, stages } = await compileError({ target: withFlash(30_000), calibration: sharedMnistCalibration() });
    expect(stages).toContain('built');
    expect((err as Error).message).toMatch(/needs \d+ B of Flash .*weights image \d+ B, code \d+ B/);
  });

  it('the same model within the Flash compiles, and its manifest states a Flash figure inside it', async () => {
    const a = await compile(mnistCnn(), { target: withFlash(40_000), calibration: sharedMnistCalibration() });
    expect(a.manifest.memory.flashBytes).toBeLessThanOrEqual(40_000);
    expect(a.manifest.memory.flashBytes).toBeGreaterThan(30_000);
  });
});

describe('--budget above the target', () => {
  it('is refused by compile() unless budgetOverTarget is set', async () => {
    const { err, stages } = await compileError({ target: stm32, budgetBytes: stm32.sramBytes + 1, calibration: sharedMnistCalibration() });
    expect((err as Error).message).toMatch(/budget 327681 B is larger than target stm32f746's SRAM \(327680 B\)/);
    expect(stages).toEqual([]);
    const a = await compile(mnistCnn(), { target: stm32, budgetBytes: 2 * stm32.sramBytes, budgetOverTarget: true, calibration: sharedMnistCalibration() });
    expect(a.manifest.memory.budgetBytes).toBe(2 * stm32.sramBytes);
  });

  it('is a user error (exit 1) on the CLI, naming the flag that accepts it; nothing is written', () => {
    const bin = join(__dirname, '..', 'bin', 'tinytrain.js');
    const model = join(__dirname, '..', 'examples', 'mnist-cnn.json');
    const out = join(tmpdir(), `tinytrain-budget-${process.pid}`);
    const run = (...extra: string[]): { status: number | null; stderr: string } =>
      spawnSync(process.execPath, [bin, 'compile', model, '--target', 'stm32f746', '--calibrate', 'random', '--out', out, '--budget', '1MB', ...extra, '--json'], {
        encoding: 'utf8',
      });
    const r = run();
    expect(r.status).toBe(1);
    expect(existsSync(out)).toBe(false);
    expect(r.stderr).toMatch(/larger than target stm32f746's SRAM[\s\S]*--budget-over-target/);
  });
});
