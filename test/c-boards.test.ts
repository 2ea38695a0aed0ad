/**
 * The exported C library on real-chip memory maps (issue 13): the one example main.c
 * (targets/clib/examples/main.c, tinytrain.h only, no semihosting) built for each board in
 * targets/clib/examples/ — STM32F405 on QEMU netduinoplus2, Cortex-M33 on mps2-an505
 * (nRF5340 layout), RV32IMAC soft-float on QEMU virt (ESP32-C3 layout), Linux x86-64 and
 * aarch64 as a shared library — trains the same steps on the same `const` samples and
 * prints on its UART (stdout on Linux) each loss, the counters, the stack peak and the
 * whole checkpoint Flash area. Every build's losses and checkpoint bytes must equal
 * Node's, every build's Flash area must be byte-identical, and the sizes (text, data, bss
 * from the ELF, stack peak painted at reset) must fit the chip the layout stands for.
 * The test ends each QEMU run by the guest's own exit (SYSRESETREQ under -no-reboot on
 * Cortex-M, the SiFive test device on virt), never by semihosting.
 * Full tier: wasm2c, gcc, arm-none-eabi-gcc, qemu-system-arm, riscv64-unknown-elf-gcc with
 * picolibc, qemu-system-riscv32, aarch64-linux-gnu-gcc and qemu-aarch64 (scripts/setup-firmware.sh).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedArtifact } from '../host/artifact.js';
import { exportCLibrary, type CLibraryExport } from '../host/clib/export.js';
import { imageAt, takeFirst, type Dataset } from '../host/data/dataset.js';
import { erasedFlash, newestSlot, readSlots, slotStride } from '../host/firmware/flash-slots.js';
import { Runtime } from '../host/runtime.js';
import { getTarget, type Target } from '../targets/index.js';
import { ArtifactCache, mnist, mnistCnn, sharedMnistCalibration } from './support/models.js';

const run = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));
const EXAMPLES = join(HERE, '..', 'targets', 'clib', 'examples');
const POWER_LOSS_MAIN = join(HERE, 'fixtures', 'c', 'power-loss-main.c');
/** Steps (one per sample); main.c's seed and learning rate. */
const STEPS = 8;
const SEED = 7;
const LR = 0.01;
/** The Flash erase unit the library is exported for: the STM32F405's 16 KiB sectors 0-3. */
const ERASE_BYTES = 16 * 1024;
/** The stack the linker scripts reserve (STACK_BYTES). */
const STACK_BYTES = 8 * 1024;

interface Board {
  name: string;
  /** The folder under targets/clib/examples/. */
  dir: string;
  /** The chip whose budget the layout stands for. */
  target: string;
  make?: string[];
  /** The program to run and its arguments; `elf` is the build's output. */
  cmd: (elf: string) => [string, string[]];
  /** Bare metal: an ELF with a painted stack; Linux: a shared library beside the program. */
  bare: boolean;
}

const qemuArm =
  (machine: string) =>
  (elf: string): [string, string[]] => ['qemu-system-arm', ['-M', machine, '-nographic', '-monitor', 'none', '-no-reboot', '-kernel', elf]];
const BOARDS: Board[] = [
  { name: 'STM32F405 (netduinoplus2)', dir: 'stm32f405', target: 'stm32f405', cmd: qemuArm('netduinoplus2'), bare: true },
  { name: 'Cortex-M33 (mps2-an505)', dir: 'mps2-an505', target: 'nrf5340', cmd: qemuArm('mps2-an505'), bare: true },
  {
    name: 'RV32IMAC (virt)',
    dir: 'riscv32-virt',
    target: 'esp32c3',
    cmd: (elf) => ['qemu-system-riscv32', ['-M', 'virt', '-nographic', '-monitor', 'none', '-bios', 'none', '-kernel', elf]],
    bare: true,
  },
  { name: 'Linux x86-64 (.so)', dir: 'linux', target: 'desktop', make: ['CC=gcc'], cmd: (exe) => [exe, []], bare: false },
  {
    name: 'Linux aarch64 (.so)',
    dir: 'linux',
    target: 'arm64-linux',
    make: ['CC=aarch64-linux-gnu-gcc'],
    cmd: (exe) => ['qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', exe]],
    bare: false,
  },
];

const cache = new ArtifactCache();
const work = mkdtempSync(join(tmpdir(), 'tinytrain-boards-test-'));
afterAll(() => {
  cache.dispose();
  rmSync(work, { recursive: true, force: true });
});

interface Result {
  losses: string[];
  counters: Record<string, number>;
  stack: number;
  flash: Buffer;
  sizes: { text: number; data: number; bss: number };
}

let art: LoadedArtifact;
let lib: CLibraryExport;
let data: Dataset;
const results = new Map<string, Result>();
/** Node's losses, and its checkpoint after all steps and after the first half. */
let node: { losses: string[]; payload: Uint8Array; halfPayload: Uint8Array };
/** The power-loss run's UART output, up to its first `end`. */
let powerLossOut: string;

const f32Bits = (v: number): string => Buffer.from(Float32Array.of(v).buffer).readUInt32LE(0).toString(16).padStart(8, '0');

/** samples.h/.c: the samples as `const` arrays (Flash), as a sensor driver would hand them over. */
function writeSamples(dir: string, ds: Dataset): void {
  mkdirSync(dir, { recursive: true });
  const n = ds.count;
  writeFileSync(
    join(dir, 'samples.h'),
    [
      '/* Generated by test/c-boards.test.ts: MNIST training images standing in for a sensor. */',
      '#include <stdint.h>',
      '#include "tt-model.h"',
      `#define SAMPLE_COUNT ${n}u`,
      'extern const uint8_t sample_pixels[SAMPLE_COUNT][TT_INPUT_SIZE];',
      'extern const uint8_t sample_labels[SAMPLE_COUNT];',
      '',
    ].join('\n'),
  );
  const rows = Array.from({ length: n }, (_, i) => `  {${Array.from(imageAt(ds, i)).join(',')}},`);
  const labels = Array.from(ds.labels.subarray(0, n)).join(',');
  writeFileSync(
    join(dir, 'samples.c'),
    `#include "samples.h"\nconst uint8_t sample_pixels[SAMPLE_COUNT][TT_INPUT_SIZE] = {\n${rows.join('\n')}\n};\nconst uint8_t sample_labels[SAMPLE_COUNT] = {${labels}};\n`,
  );
}

/** text (code + const + .data's load image), data, bss (arena and the rest, not the stack reserve) from the ELF's sections. */
async function elfSizes(sizeTool: string, file: string): Promise<Result['sizes']> {
  const { stdout } = await run(sizeTool, ['-A', file]);
  const sec = new Map(
    stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length === 3 && /^\d+$/.test(f[1]!))
      .map((f) => [f[0]!, Number(f[1])]),
  );
  const sum = (names: string[]) => names.reduce((s, n) => s + (sec.get(n) ?? 0), 0);
  const text = [...sec.keys()].filter((n) => /^\.(text|rodata|srodata|ARM\.exidx|eh_frame|plt|init|fini|dynsym|dynstr|rela\.dyn|rela\.plt|gnu\.hash|hash)/.test(n));
  return { text: sum(text), data: sum(['.data', '.sdata', '.data.rel.ro', '.got', '.got.plt', '.dynamic', '.init_array', '.fini_array']), bss: sum(['.bss', '.sbss']) };
}

/** The UART (stdout) lines of main.c and board_done(). */
function parseOutput(out: string): Omit<Result, 'sizes'> {
  const lines = out.replace(/\r/g, '').split('\n');
  expect(lines, 'the run did not reach board_done()').toContain('end');
  const value = (l: string) => parseInt(l.split(' ')[1]!, 16);
  const counters: Record<string, number> = {};
  for (const l of lines) {
    const name = l.split(' ')[0]!;
    if (['steps', 'skipped', 'saved', 'predict'].includes(name)) counters[name] = value(l);
  }
  return {
    losses: lines.filter((l) => l.startsWith('loss ')).map((l) => l.slice(5)),
    counters,
    stack: value(lines.find((l) => l.startsWith('stack '))!),
    flash: Buffer.from(
      lines
        .filter((l) => l.startsWith('flash '))
        .map((l) => l.slice(6))
        .join(''),
      'hex',
    ),
  };
}

async function buildAndRun(b: Board): Promise<Result> {
  const out = join(work, b.target);
  const samples = join(work, 'samples');
  await run('make', ['-s', '-C', join(EXAMPLES, b.dir), `LIB=${lib.dir}`, `SAMPLES=${samples}`, `OUT=${out}`, 'CFLAGS=-Werror', ...(b.make ?? [])], { maxBuffer: 1 << 24 });
  const program = join(out, b.bare ? 'example.elf' : 'example');
  const [cmd, args] = b.cmd(program);
  const { stdout } = await run(cmd, args, { timeout: 120_000, maxBuffer: 1 << 24 });
  const sizeTool = b.dir === 'riscv32-virt' ? 'riscv64-unknown-elf-size' : b.bare ? 'arm-none-eabi-size' : 'size';
  return { ...parseOutput(stdout), sizes: await elfSizes(sizeTool, b.bare ? program : join(out, 'libtinytrain.so')) };
}

/**
 * test/fixtures/c/power-loss-main.c on the STM32F405 board, whose emulated Flash survives
 * a reset: QEMU runs without -no-reboot so the power loss (SYSRESETREQ inside the program
 * callback) boots the firmware again; the test stops QEMU at the second boot's `end`
 * (its exit would reset into a third boot).
 */
async function powerLossRun(): Promise<string> {
  const out = join(work, 'power-loss');
  const samples = join(work, 'samples');
  await run('make', ['-s', '-C', join(EXAMPLES, 'stm32f405'), `LIB=${lib.dir}`, `SAMPLES=${samples}`, `OUT=${out}`, `MAIN=${POWER_LOSS_MAIN}`, 'CFLAGS=-Werror'], {
    maxBuffer: 1 << 24,
  });
  const qemu = spawn('qemu-system-arm', ['-M', 'netduinoplus2', '-nographic', '-monitor', 'none', '-kernel', join(out, 'example.elf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let text = '';
    let errors = '';
    qemu.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const timer = setTimeout(() => {
      qemu.kill();
      reject(new Error(`the power-loss run did not end within 120 s:\n${text.slice(-2000)}`));
    }, 120_000);
    qemu.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\nend\n');
      if (end >= 0) {
        clearTimeout(timer);
        qemu.kill();
        resolve(text.slice(0, end + 5));
      }
    });
    qemu.on('error', reject);
    qemu.on('exit', () => {
      clearTimeout(timer);
      if (!text.includes('\nend\n')) reject(new Error(`qemu exited before the power-loss run ended: ${errors}\n${text.slice(-2000)}`));
    });
  });
}

/**
 * The area holds two slots of TT_FLASH_SLOT_BYTES (whole 16 KiB sectors); the host's slot
 * reader takes them at its 4 KiB-page stride, so each slot's head is re-packed at that
 * stride (the rest of each slot must be erased).
 */
function hostFlashImage(area: Buffer): Uint8Array {
  const m = art.manifest;
  const slotBytes = area.length / 2;
  const stride = slotStride(m);
  const image = erasedFlash(m);
  for (const k of [0, 1]) {
    image.set(area.subarray(k * slotBytes, k * slotBytes + stride), k * stride);
    expect(area.subarray(k * slotBytes + stride, (k + 1) * slotBytes).every((v) => v === 0xff)).toBe(true);
  }
  return image;
}

beforeAll(async () => {
  // The artifact test/c-library.test.ts builds (one build-cache entry for both).
  art = (await cache.get('clib', mnistCnn(), { target: getTarget('stm32f746'), calibration: sharedMnistCalibration() })).loaded;
  lib = await exportCLibrary(art, join(work, 'lib'), { eraseBytes: ERASE_BYTES });
  data = takeFirst(mnist('train'), STEPS);
  writeSamples(join(work, 'samples'), data);

  const rt = await Runtime.load(art);
  rt.reset(SEED);
  const losses: string[] = [];
  const c = art.manifest.checkpoint;
  let halfPayload = new Uint8Array();
  for (let i = 0; i < STEPS; i++) {
    if (i === STEPS / 2) halfPayload = rt.bytes().slice(c.offset, c.offset + c.bytes);
    rt.setInputPixels(imageAt(data, i));
    losses.push(f32Bits(rt.trainStep(data.labels[i]!, Math.fround(LR))));
  }
  node = { losses, payload: rt.bytes().slice(c.offset, c.offset + c.bytes), halfPayload };

  // Two at a time: the builds are the test's time (wasm2c's runtime at -O2).
  const queue = [...BOARDS];
  const worker = async () => {
    for (let b = queue.shift(); b; b = queue.shift()) results.set(b.name, await buildAndRun(b));
  };
  await Promise.all([worker(), worker(), powerLossRun().then((out) => (powerLossOut = out))]);
  printTable();
}, 600_000);

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/** Flash: code, const and .data's image plus the checkpoint area; SRAM: data, bss and the stack peak. */
function usage(r: Result): { flash: number; sram: number } {
  return { flash: r.sizes.text + r.sizes.data + lib.flashAreaBytes, sram: r.sizes.data + r.sizes.bss + r.stack };
}

function printTable(): void {
  const rows = BOARDS.map((b) => {
    const r = results.get(b.name)!;
    const t: Target = getTarget(b.target);
    const u = usage(r);
    return `| ${b.name} | ${t.name} | ${r.sizes.text} | ${r.sizes.data} | ${r.sizes.bss} | ${b.bare ? r.stack : 'n/a'} | ${kib(u.flash)} of ${kib(t.flashBytes)} | ${kib(u.sram)} of ${kib(t.sramBytes)} |`;
  });
  console.log(
    [
      `mnist-cnn, ${STEPS} steps, library exported with --flash-erase 16KB (checkpoint area ${kib(lib.flashAreaBytes)})`,
      '| build | chip budget | text | data | bss | stack peak | Flash (with checkpoint area) | SRAM (with stack peak) |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
    ].join('\n'),
  );
}

describe('the example main.c on every board (one export, the same samples)', () => {
  for (const b of BOARDS) {
    describe(b.name, () => {
      it(`trains ${STEPS} steps to Node's losses; counters as expected`, () => {
        const r = results.get(b.name)!;
        expect(r.losses).toEqual(node.losses);
        expect(r.counters).toEqual({ steps: STEPS, skipped: 0, saved: 0, predict: r.counters.predict });
        expect(r.counters.predict).toBeLessThan(10);
      });

      it("saves Node's checkpoint bytes into the Flash area, in slot 0 with sequence 1 (the other slot erased)", () => {
        const r = results.get(b.name)!;
        expect(r.flash.length).toBe(lib.flashAreaBytes);
        const image = hostFlashImage(r.flash);
        const slot = newestSlot(art.manifest, image);
        expect(slot).toMatchObject({ slot: 0, seq: 1 });
        expect(Buffer.from(slot!.payload).equals(Buffer.from(node.payload)), "the board's checkpoint differs from Node's").toBe(true);
        expect(readSlots(art.manifest, image)[1].state).toBe('erased');
      });

      it("fits the chip's Flash and SRAM (text, data, bss, stack peak)", () => {
        const r = results.get(b.name)!;
        const t = getTarget(b.target);
        expect(r.sizes.text).toBeGreaterThan(lib.frozenBytes);
        expect(r.sizes.bss).toBeGreaterThanOrEqual(lib.sramBytes);
        if (b.bare) {
          expect(r.stack).toBeGreaterThan(64);
          expect(r.stack).toBeLessThan(STACK_BYTES);
        }
        const u = usage(r);
        expect(u.flash).toBeLessThanOrEqual(t.flashBytes);
        expect(u.sram).toBeLessThanOrEqual(t.sramBytes);
      });
    });
  }

  it('leaves the same Flash area bytes on every board', () => {
    const first = results.get(BOARDS[0]!.name)!.flash;
    for (const b of BOARDS) expect(results.get(b.name)!.flash.equals(first), b.name).toBe(true);
  });
});

describe('power loss during a save on the STM32F405 build (16 KiB sectors, emulated Flash that survives the reset)', () => {
  const boots = () => {
    const [one, two] = powerLossOut.replace(/\r/g, '').split('boot 00000002\n');
    return { one: one!.split('\n'), two: two!.split('\n') };
  };
  const flashDumps = (lines: string[]) => {
    const hex = lines.filter((l) => l.startsWith('flash ')).map((l) => l.slice(6));
    const per = lib.flashAreaBytes / 32;
    expect(hex.length).toBe(2 * per);
    return [Buffer.from(hex.slice(0, per).join(''), 'hex'), Buffer.from(hex.slice(per).join(''), 'hex')] as const;
  };

  it('boot 1 trains, saves, trains on and loses power halfway through the second save (the board resets)', () => {
    const { one } = boots();
    expect(one[0]).toBe('boot 00000001');
    expect(one.filter((l) => l.startsWith('loss ')).map((l) => l.slice(5))).toEqual(node.losses);
    expect(one).toContain('saved 00000000');
    expect(
      one.some((l) => l.startsWith('cut ')),
      'the cut save returned',
    ).toBe(false);
  });

  it('boot 2 finds the previous checkpoint intact beside the torn slot, and resumes from it', () => {
    const { two } = boots();
    expect(two[0]).toBe(`resumed ${(STEPS / 2).toString(16).padStart(8, '0')}`);
    const [torn] = flashDumps(two);
    const image = hostFlashImage(torn);
    const [slot0, slot1] = readSlots(art.manifest, image);
    expect(slot0).toMatchObject({ state: 'valid', seq: 1 });
    expect(Buffer.from(slot0.payload!).equals(Buffer.from(node.halfPayload)), "slot 0 is not Node's checkpoint after the first half").toBe(true);
    // The torn slot: erased (whole sectors), half its payload programmed, no header.
    expect(slot1.state).toBe('erased');
    const payloadStart = torn.length / 2 + 32;
    expect(torn.subarray(payloadStart, payloadStart + 64).some((v) => v !== 0xff)).toBe(true);
    expect(torn.subarray(payloadStart + art.manifest.checkpoint.bytes / 2, payloadStart + art.manifest.checkpoint.bytes).every((v) => v === 0xff)).toBe(true);
  });

  it("boot 2's second half trains to Node's losses and saves Node's checkpoint into the torn slot (seq 2)", () => {
    const { two } = boots();
    expect(two.filter((l) => l.startsWith('loss ')).map((l) => l.slice(5))).toEqual(node.losses.slice(STEPS / 2));
    expect(two).toContain('saved 00000000');
    expect(two).toContain(`steps ${STEPS.toString(16).padStart(8, '0')}`);
    const [, after] = flashDumps(two);
    const slot = newestSlot(art.manifest, hostFlashImage(after));
    expect(slot).toMatchObject({ slot: 1, seq: 2 });
    expect(Buffer.from(slot!.payload).equals(Buffer.from(node.payload))).toBe(true);
  });
});
