import { describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { TARGETS, getTarget, parseByteSize } from '../targets/index.js';

describe('targets', () => {
  it('knows the devices with their budgets', () => {
    expect(TARGETS.map((t) => t.name)).toEqual(['stm32f746', 'nrf52840', 'stm32f405', 'nrf5340', 'esp32c3', 'arm64-linux', 'desktop']);
    const stm = getTarget('stm32f746');
    expect(stm).toMatchObject({ kind: 'mcu', fpu: true, wasmSimd: false, sramBytes: 327680, flashBytes: 1048576, stackReserveBytes: 16384, qemuMachine: 'mps2-an500' });
    expect(getTarget('nrf52840')).toMatchObject({ kind: 'mcu', sramBytes: 262144, flashBytes: 1048576, stackReserveBytes: 16384, qemuMachine: 'mps2-an386' });
    // The C library's example boards (test/c-boards.test.ts): datasheet sizes.
    expect(getTarget('stm32f405')).toMatchObject({ kind: 'mcu', cpu: 'cortex-m4', sramBytes: 128 * 1024, flashBytes: 1048576 });
    expect(getTarget('nrf5340')).toMatchObject({ kind: 'mcu', cpu: 'cortex-m33', sramBytes: 512 * 1024, flashBytes: 1048576, qemuMachine: 'mps2-an505' });
    expect(getTarget('esp32c3')).toMatchObject({ kind: 'mcu', cpu: 'rv32imc', fpu: false, sramBytes: 400 * 1024, flashBytes: 4 * 1048576, qemuMachine: 'virt' });
    expect(getTarget('arm64-linux')).toMatchObject({ kind: 'mobile', sramBytes: 8 * 1024 * 1024, flashBytes: 64 * 1024 * 1024 });
    expect(getTarget('desktop')).toMatchObject({ kind: 'desktop', wasmSimd: true, sramBytes: 256 * 1024 * 1024, flashBytes: 1024 ** 3 });
    expect(getTarget(' STM32F746 ')).toBe(stm);
    for (const t of TARGETS) expect(t.stackReserveBytes).toBeLessThan(t.sramBytes);
  });

  it('lists every known name for an unknown target', () => {
    let caught: unknown;
    try {
      getTarget('esp32');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TinytrainError);
    const message = (caught as TinytrainError).message;
    expect(message).toContain('esp32');
    for (const t of TARGETS) expect(message).toContain(t.name);
  });
});

describe('parseByteSize', () => {
  it.each([
    ['4096', 4096],
    ['256K', 262144],
    ['256KB', 262144],
    ['256kb', 262144],
    ['320KiB', 327680],
    ['320 KiB', 327680],
    ['1MB', 1048576],
    ['1.5MiB', 1572864],
    ['2G', 2 * 1024 ** 3],
    ['12B', 12],
    ['0', 0],
  ])('%s -> %d', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it.each(['', 'KB', '256XB', '-1K', '1.2.3', '0.3K', '1.5', '1e3', '256 K B', '9999999999999999G'])('rejects %j', (text) => {
    expect(() => parseByteSize(text)).toThrow(TinytrainError);
  });
});
