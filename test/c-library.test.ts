/**
 * The exported C library (tinytrain export c, host/clib/, targets/clib/): built with the
 * host's gcc under -std=c99 -Wall -Wextra -Werror and driven only through tinytrain.h
 * (test/fixtures/c/lib-driver.c), it must train to the same losses and checkpoint bytes
 * as the Node reference, resume from its own checkpoint like Node resumes from the same
 * payload, keep the previous checkpoint when power is lost during a save, and compile
 * warning-free for a Cortex-M4F. Full tier: gcc, wasm2c and arm-none-eabi-gcc
 * (scripts/setup-firmware.sh).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedArtifact } from '../host/artifact.js';
import { exportCLibrary } from '../host/clib/export.js';
import { C_LIBRARY_CFLAGS } from '../host/clib/build-files.js';
import { imageAt, takeFirst, type Dataset } from '../host/data/dataset.js';
import { erasedFlash, newestSlot, readSlots } from '../host/firmware/flash-slots.js';
import { Runtime } from '../host/runtime.js';
import { getTarget } from '../targets/index.js';
import { ArtifactCache, mnist, mnistCnn, sharedMnistCalibration } from './support/models.js';

const DRIVER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'c', 'lib-driver.c');
const STEPS = 40;
const MORE = 20;
const SEED = 7;
const LR = 0.01;

const cache = new ArtifactCache();
const work = mkdtempSync(join(tmpdir(), 'tinytrain-clib-test-'));
afterAll(() => {
  cache.dispose();
  rmSync(work, { recursive: true, force: true });
});

let art: LoadedArtifact;
let lib: string;
let driver: string;
let data: Dataset;
/** The sample of each step. */
let order: Uint32Array;
const files = { flash: '', samples: '', labels: '', order: '' };

/** The float32 bits of lr, as the driver takes it. */
const f32Bits = (v: number): string => Buffer.from(Float32Array.of(v).buffer).readUInt32LE(0).toString(16);

beforeAll(async () => {
  art = (await cache.get('clib', mnistCnn(), { target: getTarget('stm32f746'), calibration: sharedMnistCalibration() })).loaded;
  lib = join(work, 'lib');
  await exportCLibrary(art, lib);
  driver = join(work, 'driver');
  const sources = readdirSync(lib)
    .filter((f) => f.endsWith('.c'))
    .map((f) => join(lib, f));
  execFileSync('gcc', [...C_LIBRARY_CFLAGS, '-Wall', '-Wextra', '-Werror', '-I', lib, ...sources, DRIVER, '-o', driver, '-lm']);

  data = takeFirst(mnist('train'), 64);
  const n = data.count;
  files.samples = join(work, 'samples.bin');
  files.labels = join(work, 'labels.bin');
  files.order = join(work, 'order.bin');
  files.flash = join(work, 'flash.bin');
  writeFileSync(files.samples, Buffer.concat(Array.from({ length: n }, (_, i) => imageAt(data, i))));
  writeFileSync(files.labels, data.labels.subarray(0, n));
  order = Uint32Array.from({ length: STEPS + MORE + 8 }, (_, s) => (s * 7) % n);
  writeFileSync(files.order, Buffer.from(order.buffer));
  writeFileSync(files.flash, erasedFlash(art.manifest));
}, 300_000);

/** Runs the driver: `steps` steps from order.bin's start (resume: from index `from`). */
function runDriver(steps: number, mode: 'fresh' | 'resume' | `cut:${number}`, from = 0): { losses: string[]; counters: string } {
  const order = join(work, `order-${from}.bin`);
  writeFileSync(order, readFileSync(files.order).subarray(from * 4));
  const out = execFileSync(driver, [files.flash, files.samples, files.labels, order, String(steps), String(SEED), f32Bits(LR), mode], { encoding: 'utf8' });
  const lines = out.trim().split('\n');
  return { losses: lines.slice(0, -1), counters: lines[lines.length - 1]! };
}

/** Node: the same steps on the same samples (from index `from`), optionally from a payload. */
async function nodeRun(steps: number, from = 0, payload?: Uint8Array): Promise<{ losses: string[]; payload: Uint8Array }> {
  const rt = await Runtime.load(art);
  rt.reset(SEED);
  const c = art.manifest.checkpoint;
  if (payload) rt.bytes().set(payload, c.offset);
  const losses: string[] = [];
  for (let s = from; s < from + steps; s++) {
    const i = order[s]!;
    rt.setInputPixels(imageAt(data, i));
    losses.push(f32Bits(rt.trainStep(data.labels[i]!, Math.fround(LR))).padStart(8, '0'));
  }
  return { losses, payload: rt.bytes().slice(c.offset, c.offset + c.bytes) };
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

describe('the exported C library, built with the host gcc (-std=c99 -Wall -Wextra -Werror)', () => {
  it(`trains ${STEPS} steps to Node's losses and checkpoint bytes, saved through the flash callbacks`, async () => {
    const c = runDriver(STEPS, 'fresh');
    const ref = await nodeRun(STEPS);
    expect(c.losses).toEqual(ref.losses);
    expect(c.counters).toMatch(new RegExp(`^steps ${STEPS} skipped 0 nonfinite \\d+ saved 0 predict \\d$`));
    const slot = newestSlot(art.manifest, readFileSync(files.flash));
    expect(slot?.seq).toBe(1);
    expect(same(slot!.payload, ref.payload), "the library's checkpoint differs from Node's").toBe(true);
  });

  it(`resumes from that checkpoint: ${MORE} more steps equal Node's from the same payload`, async () => {
    const before = newestSlot(art.manifest, readFileSync(files.flash))!;
    const c = runDriver(MORE, 'resume', STEPS);
    const ref = await nodeRun(MORE, STEPS, before.payload);
    expect(c.losses).toEqual(ref.losses);
    expect(c.counters).toContain(`steps ${STEPS + MORE} `);
    const slot = newestSlot(art.manifest, readFileSync(files.flash))!;
    expect(slot.seq).toBe(2);
    expect(slot.slot).not.toBe(before.slot);
    expect(same(slot.payload, ref.payload)).toBe(true);
  });

  it('keeps the previous checkpoint when power is lost at any point of a save (payload, then header)', () => {
    const base = readFileSync(files.flash);
    const before = newestSlot(art.manifest, base)!;
    const ck = art.manifest.checkpoint.bytes;
    // Cut after N programmed bytes: the payload goes first (ck bytes), the 32-byte header last.
    for (const cut of [0, 1, Math.floor(ck / 3), ck - 1, ck, ck + 1, ck + 16, ck + 31]) {
      writeFileSync(files.flash, base);
      const c = runDriver(1, `cut:${cut}`);
      expect(c.counters, `cut after ${cut} bytes`).toContain('saved 2'); // TT_FLASH_ERROR: the program callback failed
      const flash = readFileSync(files.flash);
      const after = newestSlot(art.manifest, flash)!;
      expect(after.seq, `cut after ${cut} bytes`).toBe(before.seq);
      expect(same(after.payload, before.payload)).toBe(true);
      expect(readSlots(art.manifest, flash)[1 - before.slot]!.state, `cut after ${cut} bytes: the torn slot`).not.toBe('valid');
    }
    // With power to spare the same save lands, in the other slot.
    writeFileSync(files.flash, base);
    expect(runDriver(1, `cut:${ck + 32}`).counters).toContain('saved 0');
    expect(newestSlot(art.manifest, readFileSync(files.flash))!.seq).toBe(before.seq + 1);
    // And after a torn save the library resumes from the surviving checkpoint.
    writeFileSync(files.flash, base);
    runDriver(1, `cut:${ck}`);
    expect(runDriver(1, 'resume', STEPS + MORE).counters).toContain(`steps ${STEPS + MORE + 1} `);
  });
});

describe('the exported C library, cross-compiled', () => {
  it('compiles warning-free for a Cortex-M4F with arm-none-eabi-gcc (-std=c99 -Wall -Wextra -Werror), calling no libc but memcpy/memmove/memset and libm floorf', () => {
    const build = join(work, 'arm');
    cpSync(lib, build, { recursive: true });
    execFileSync(
      'make',
      ['-C', build, 'CC=arm-none-eabi-gcc', 'AR=arm-none-eabi-ar', 'TARGET_CFLAGS=-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16', 'CFLAGS=-Werror'],
      {
        encoding: 'utf8',
        stdio: 'pipe',
      },
    );
    const nm = execFileSync('arm-none-eabi-nm', ['-u', join(build, 'libtinytrain.a')], { encoding: 'utf8' });
    const defined = new Set(
      execFileSync('arm-none-eabi-nm', ['--defined-only', join(build, 'libtinytrain.a')], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[2])
        .filter(Boolean),
    );
    const external = [...new Set(nm.split('\n').map((l) => l.trim().split(/\s+/).pop()!))].filter((s) => s && !s.includes(':') && !defined.has(s) && !s.startsWith('__aeabi_'));
    expect(external.sort()).toEqual(['floorf', 'memcpy', 'memmove', 'memset']);
  });
});

describe('tinytrain export c: the output folder', () => {
  it('replaces a library it exported, and refuses a folder holding a file of the user', async () => {
    await exportCLibrary(art, lib); // over its own export: fine
    const mine = join(work, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'main.c'), 'int main(void) { return 0; }\n');
    await expect(exportCLibrary(art, mine)).rejects.toThrow(/not a C library tinytrain exported/);
    expect(readFileSync(join(mine, 'main.c'), 'utf8')).toContain('int main');
    writeFileSync(join(lib, 'notes.txt'), 'mine');
    await expect(exportCLibrary(art, lib)).rejects.toThrow(/did not write \(.*notes\.txt/);
    expect(existsSync(join(lib, 'notes.txt'))).toBe(true);
  });
});
