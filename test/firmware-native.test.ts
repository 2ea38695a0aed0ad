/**
 * The firmware's native kernels (host/firmware/native-kernels.ts, targets/firmware/native-*.c):
 *
 *  - the default firmware really uses them: its symbol table defines each native kernel
 *    the model calls, and the module wasm2c compiled imports it (so no wasm2c copy of it
 *    runs); TINYTRAIN_FIRMWARE_NATIVE=0 gives a firmware with none;
 *  - they give the same bytes: the native and the wasm2c-only firmware train a model that
 *    calls every native kernel (odd channel counts for the SMLAD tails, a trained weight
 *    slice beside its frozen rest, strided and depthwise convs, a streamed chain) to the
 *    same checkpoint, which is also Node's;
 *  - the source rewrite replaces exactly the kernels a runtime imports.
 *
 * A missing toolchain FAILS these tests with the install command (bash scripts/setup-firmware.sh).
 */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { takeFirst } from '../host/data/dataset.js';
import { ensureFirmware } from '../host/firmware/qemu.js';
import { firmwareModule, NATIVE_ENV, NATIVE_KERNELS, NATIVE_MODULE, withNativeKernels } from '../host/firmware/native-kernels.js';
import { trainOnEngine, type EngineResult, type JobOptions } from '../host/engines/index.js';
import { getTarget } from '../targets/index.js';
import { ArtifactCache, calibrationInputs, mnist, sparseScheme } from './support/models.js';
import { SYSTEM_TOOLS } from './tiers.js';

const STM32 = getTarget('stm32f746');
const JOB: JobOptions = { steps: 24, lr: 0.02, seed: 11 };

/**
 * Every native kernel's paths: odd channel counts (7, 13, 11, 9: dot tails of 1-3 lanes),
 * 1x1 convs on 8 and 16 channels (the pointwise path for few input channels, one with 40
 * outputs: two prepared blocks), 1x1 convs two pixels at a time at even and odd widths, a
 * stem whose whole window fits one patch, depthwise 3x3 on 7 and 11 channels (a group of
 * four plus a tail),
 * stride-2 padded dense convs with per-axis geometry (a 3x1 stem, a 3x4 conv whose top and
 * left pads differ), depthwise stride 1 and 2 (the stride-2 one padded 0 above, 1 left; one stride-1 input gradient
 * in place), a residual add, 1x1, frozen convs in front (a streamed chain), a trained
 * slice (ratio < 1) beside its frozen rest, a 1x1 head before the pool.
 */
function coverModel(): ModelSpec {
  return {
    format: 'tinytrain-model@1',
    name: 'native-cover',
    input: [28, 28, 1],
    inputRange: [0, 1],
    seed: 5,
    layers: [
      { op: 'conv2d', name: 'stem', filters: 7, kernel: [3, 1], stride: 2, padding: [1, 0, 1, 0], activation: 'relu6' }, // 14x14x7
      { op: 'conv2d', name: 'dw1', filters: 7, kernel: 3, padding: 'same', groups: 'depthwise', activation: 'relu6' },
      // 1x1 convs with 8 and 16 input channels: the pointwise path that keeps one pixel's input in registers.
      { op: 'conv2d', name: 'pw8', filters: 8, kernel: 1, activation: 'relu6' }, // 14x14x8
      { op: 'conv2d', name: 'pw16', filters: 16, kernel: 1, activation: 'relu6' }, // 14x14x16
      { op: 'conv2d', name: 'pw1', filters: 13, kernel: 1, activation: 'relu' }, // 14x14x13
      { op: 'conv2d', name: 'conv', filters: 11, kernel: [3, 4], stride: 2, padding: [1, 2, 1, 1], activation: 'relu' }, // 7x7x11
      // 1x1 at an odd width (the two-pixel pass leaves one pixel), and the few-channel path with more output channels than one prepared block (16).
      { op: 'conv2d', name: 'pw7a', filters: 16, kernel: 1, activation: 'relu6' }, // 7x7x16
      { op: 'conv2d', name: 'pw40', filters: 40, kernel: 1, activation: 'relu6' }, // 7x7x40
      { op: 'conv2d', name: 'pw7b', filters: 11, kernel: 1, activation: 'relu' }, // 7x7x11
      { op: 'conv2d', name: 'dw2', filters: 11, kernel: 3, stride: [2, 2], padding: [0, 1, 2, 1], groups: 'depthwise', activation: 'relu6' }, // 4x4x11
      { op: 'conv2d', name: 'dw3', filters: 11, kernel: 3, padding: 'same', groups: 'depthwise', activation: 'relu6' },
      { op: 'add', name: 'res', inputs: ['dw2', 'dw3'] },
      { op: 'conv2d', name: 'dw4', filters: 11, kernel: 3, padding: 'same', groups: 'depthwise', activation: 'relu6' }, // input gradient in place
      { op: 'conv2d', name: 'pw2', filters: 9, kernel: 1 },
      { op: 'globalavgpool', name: 'gap' },
      { op: 'dense', name: 'fc', units: 10 },
    ],
  };
}

const cache = new ArtifactCache();
afterAll(() => cache.dispose());

function artifact() {
  return cache.get('native-cover', coverModel(), {
    target: STM32,
    scheme: sparseScheme(['conv', 'dw2', 'dw3', 'dw4', 'pw2', 'fc'], 'conv', 0.5),
    // Momentum: the update kernel's velocity path.
    momentum: 0.9,
    calibration: calibrationInputs(16),
  });
}

/** Runs `f` with $TINYTRAIN_FIRMWARE_NATIVE set to `v` (restored after). */
async function withNative<T>(v: '0' | '1', f: () => Promise<T>): Promise<T> {
  const was = process.env[NATIVE_ENV];
  process.env[NATIVE_ENV] = v;
  try {
    return await f();
  } catch (e) {
    if (e instanceof TinytrainError) throw new Error(e.describe());
    throw e;
  } finally {
    if (was === undefined) delete process.env[NATIVE_ENV];
    else process.env[NATIVE_ENV] = was;
  }
}

/** Defined text symbols of an ELF. */
function textSymbols(elf: string): Set<string> {
  const out = execFileSync('arm-none-eabi-nm', ['--defined-only', elf], { encoding: 'utf8' });
  return new Set(out.split('\n').flatMap((l) => (/^[0-9a-f]+ [Tt] (\S+)$/.exec(l.trim()) ?? []).slice(1)));
}

const nativeSymbol = (name: string): string => `Z_${NATIVE_MODULE}Z_${name}`;

describe('withNativeKernels', () => {
  const source = "// header\nimport {\n  conv2dForwardS8, argmaxS8, rngSeed,\n} from './kernels/index';\n\nexport function f(): void { conv2dForwardS8(16); }\n";

  it('declares the imported native kernels external and keeps the other imports', () => {
    const { source: out, replaced } = withNativeKernels(source, NATIVE_KERNELS);
    expect(replaced.map((k) => k.name)).toEqual(['conv2dForwardS8']);
    expect(out).toContain('@external("tt_native", "conv2dForwardS8")\ndeclare function conv2dForwardS8(record: usize): void;');
    expect(out).toContain("import {\n  argmaxS8, rngSeed,\n} from './kernels/index';");
    expect(out).toContain('export function f(): void { conv2dForwardS8(16); }');
  });

  it('leaves a runtime that calls no native kernel as it is, and refuses one without the import block', () => {
    const none = source.replace('conv2dForwardS8, ', '');
    expect(withNativeKernels(none, NATIVE_KERNELS)).toEqual({ source: none, replaced: [] });
    expect(() => withNativeKernels('export function f(): void {}\n', NATIVE_KERNELS)).toThrow(TinytrainError);
  });
});

describe('native kernels on the Cortex-M7 firmware', () => {
  it(
    'are linked in by default, and none with TINYTRAIN_FIRMWARE_NATIVE=0',
    { tags: [SYSTEM_TOOLS] },
    async () => {
      const a = await artifact();
      // The cover model calls every native kernel (else this test would not cover them all).
      const module = await firmwareModule(a.loaded, true);
      expect(module.native.map((k) => k.name).sort()).toEqual(NATIVE_KERNELS.map((k) => k.name).sort());
      expect(WebAssembly.Module.imports(new WebAssembly.Module(new Uint8Array(module.wasm))).filter((i) => i.module === NATIVE_MODULE).length).toBe(NATIVE_KERNELS.length + 2);

      const native = textSymbols(await withNative('1', () => ensureFirmware(a.loaded, STM32)));
      for (const k of NATIVE_KERNELS) expect(native.has(nativeSymbol(k.name)), k.name).toBe(true);
      const plain = textSymbols(await withNative('0', () => ensureFirmware(a.loaded, STM32)));
      for (const k of NATIVE_KERNELS) expect(plain.has(nativeSymbol(k.name)), k.name).toBe(false);
    },
    300_000,
  );

  it(
    'train to the bytes of the wasm2c-only firmware and of Node',
    { tags: [SYSTEM_TOOLS] },
    async () => {
      const a = await artifact();
      const ds = takeFirst(mnist('train'), 48);
      const run = (v: '0' | '1'): Promise<EngineResult> => withNative(v, () => trainOnEngine('cortex-m', a.dir, ds, JOB));
      const native = await run('1');
      const plain = await run('0');
      const node = await trainOnEngine('node', a.dir, ds, JOB);
      expect(Buffer.from(native.checkpoint).equals(Buffer.from(plain.checkpoint))).toBe(true);
      expect(Buffer.from(native.checkpoint).equals(Buffer.from(node.checkpoint))).toBe(true);
      // The job keeps moving the parameters (equal bytes of an idle checkpoint would prove little).
      expect(native.steps).toBe(JOB.steps);
      const early = await trainOnEngine('node', a.dir, ds, { ...JOB, steps: 1 });
      expect(Buffer.from(early.checkpoint).equals(Buffer.from(native.checkpoint))).toBe(false);
    },
    600_000,
  );
});
