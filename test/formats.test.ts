/**
 * The binary formats (compiler/formats/): the committed generated files are what the
 * descriptions render now, the descriptions keep the byte layouts every engine and every
 * saved checkpoint already uses, and the readers on the device use every field by name.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_FILE } from '../compiler/formats/checkpoint-file.js';
import { CONV_FORWARD, CONV_INPUT_GRAD } from '../compiler/formats/kernel-records.js';
import { FIRMWARE_JOB } from '../compiler/formats/firmware-job.js';
import { FLASH_SLOT } from '../compiler/formats/flash-slot.js';
import { defineFormat, fourCC, fourCCText, screaming, writeRecord, type Format } from '../compiler/formats/format.js';
import { GENERATED_FILES } from '../compiler/formats/generated.js';
import { JOB_HEADER } from '../compiler/formats/job.js';
import { RUNTIME_STATE } from '../compiler/formats/runtime-state.js';
import { STATE_BYTES } from '../compiler/memory/layout.js';
import type { Manifest } from '../compiler/manifest.js';
import { CHECKPOINT_MAGIC } from '../host/checkpoint.js';
import type { Dataset } from '../host/data/dataset.js';
import { jobHeader } from '../host/engines/job.js';
import { SYSTEM_TOOLS } from './tiers.js';
import { emitRuntime } from '../compiler/codegen/emit.js';
import { layoutIdOf, planModel, quantizeSpec } from '../compiler/index.js';
import { calibrationInputs, mnistCnn } from './support/models.js';

const root = join(import.meta.dirname, '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

/** [name, offset] of every field, to compare against the layouts as they were written by hand. */
const layout = (f: Format): Array<[string, number]> => f.fields.map((x) => [x.name, x.offset]);

describe('binary formats', () => {
  it.each(GENERATED_FILES.map((f) => [f.path, f]))('%s is what compiler/formats renders now (run `npm run formats`)', (_path, f) => {
    expect(read(f.path)).toBe(f.text());
  });

  it('keep the byte layouts the engines and saved checkpoints use', () => {
    const words = (names: string[]): Array<[string, number]> => names.map((n, i) => [n, 4 * i]);
    expect(layout(JOB_HEADER)).toEqual(
      words([
        'magic', 'version', 'steps', 'lr', 'seed', 'sampleBytes', 'sampleCount', 'inputOffset', 'imageOffset',
        'imageBytes', 'ckOffset', 'ckBytes', 'flags', 'statsFrom', 'classes', 'layoutIdLow',
      ]), // prettier-ignore
    );
    expect(JOB_HEADER.bytes).toBe(64);
    expect(JOB_HEADER.value).toEqual({ MAGIC: 0x424a5454, VERSION: 1, FLAG_LOAD: 1 });
    expect(layout(FIRMWARE_JOB)).toEqual(words(['magic', 'version', 'flags', 'lossEvery']));
    expect(FIRMWARE_JOB.value).toEqual({ MAGIC: 0x57465454, VERSION: 1, FLAG_POWER_LOSS: 1, FLAG_PROBE_FROZEN_STORE: 2 });
    expect(layout(CHECKPOINT_FILE)).toEqual([
      ['magic', 0],
      ['version', 4],
      ['layoutId', 8],
      ['payloadBytes', 24],
      ['crc32', 28],
    ]);
    expect([CHECKPOINT_FILE.bytes, CHECKPOINT_MAGIC]).toEqual([32, 'TTCK']);
    expect(layout(FLASH_SLOT)).toEqual([
      ['magic', 0],
      ['seq', 4],
      ['length', 8],
      ['crc', 12],
      ['layoutId', 16],
    ]);
    expect([FLASH_SLOT.bytes, fourCCText(FLASH_SLOT.value.MAGIC)]).toEqual([32, 'TTSL']);
    expect(STATE_BYTES).toBe(20);
  });

  it('host/engines/job.ts writes every job field where the description puts it', () => {
    const m = {
      inputs: [{ shape: [1, 2, 3], offset: 4096 }],
      classes: 10,
      image: { offset: 16, bytes: 5000 },
      checkpoint: { offset: 2048, bytes: 1234 },
      layoutId: '0123456789abcdef',
    } as unknown as Manifest;
    const ds = { name: 'tiny', shape: [1, 2, 3], count: 3, labels: Uint8Array.from([0, 9, 4]) } as unknown as Dataset;
    const h = new DataView(jobHeader(m, ds, { steps: 40, lr: 0.125, seed: -1, load: new Uint8Array(0) }).buffer);
    const at = JOB_HEADER.offset;
    const u = (k: keyof typeof at): number => h.getUint32(at[k], true);
    expect(h.byteLength).toBe(JOB_HEADER.bytes);
    expect([u('magic'), u('version'), u('steps'), h.getFloat32(at.lr, true), u('seed')]).toEqual([0x424a5454, 1, 40, 0.125, 0xffffffff]);
    expect([u('sampleBytes'), u('sampleCount'), u('inputOffset'), u('imageOffset'), u('imageBytes')]).toEqual([6, 3, 4096, 16, 5000]);
    expect([u('ckOffset'), u('ckBytes'), u('flags'), u('classes'), u('layoutIdLow')]).toEqual([2048, 1234, JOB_HEADER.value.FLAG_LOAD, 10, 0x89abcdef]);
    expect(u('statsFrom')).toBeLessThan(40);
  });

  it('writeRecord puts every field at its offset, little-endian, and refuses a missing, extra or out-of-range value', () => {
    const f = defineFormat('T', 'a test record', [
      { name: 'p', type: 'ptr', doc: 'an address' },
      { name: 'n', type: 'i32', doc: 'a signed word' },
      { name: 's', type: 'f32', doc: 'a float' },
      { name: 'b', type: 'bool', doc: 'a flag' },
      { name: 'u', type: 'u32', doc: 'an unsigned word' },
    ]);
    const v = new DataView(writeRecord(f, { p: 0xfffffff0, n: -5, s: 0.1, b: true, u: 7 }).buffer);
    expect([v.byteLength, v.getUint32(0, true), v.getInt32(4, true), v.getFloat32(8, true), v.getUint32(12, true), v.getUint32(16, true)]).toEqual([
      20,
      0xfffffff0,
      -5,
      Math.fround(0.1),
      1,
      7,
    ]);
    expect(new DataView(writeRecord(f, { p: 0, n: 0, s: 0, b: 0, u: 0 }).buffer).getUint32(12, true)).toBe(0);
    expect(() => writeRecord(f, { p: 0, n: 0, s: 0, b: false })).toThrow(/field u is missing/);
    expect(() => writeRecord(f, { p: 0, n: 0, s: 0, b: false, u: 0, q: 1 })).toThrow(/has no field q/);
    expect(() => writeRecord(f, { p: -1, n: 0, s: 0, b: false, u: 0 })).toThrow(/field p \(ptr\) is out of range/);
    expect(() => writeRecord(f, { p: 0, n: 2 ** 31, s: 0, b: false, u: 0 })).toThrow(/field n \(i32\) is out of range/);
    expect(() => writeRecord(f, { p: 0.5, n: 0, s: 0, b: false, u: 0 })).toThrow(/must be an integer/);
    expect(() => writeRecord(f, { p: 0, n: 0, s: Infinity, b: false, u: 0 })).toThrow(/finite float32/);
    expect(() => writeRecord(f, { p: 0, n: 0, s: 0, b: 2, u: 0 })).toThrow(/must be a boolean/);
  });

  it('fourCC reads a tag as its little-endian bytes', () => {
    expect(fourCC('TTJB')).toBe(new DataView(new Uint8Array([0x54, 0x54, 0x4a, 0x42]).buffer).getUint32(0, true));
    expect(fourCCText(fourCC('TTCK'))).toBe('TTCK');
    expect(() => fourCC('TTC')).toThrow(/four ASCII/);
  });

  it('describes the state record at the offsets the generated runtime uses', () => {
    // The template (compiler/codegen/state.ts) takes its offsets from RUNTIME_STATE; the
    // emitted source of a real model must use exactly the fields (rng at +0 through rngSeed(STATE)).
    const spec = mnistCnn();
    const { quant } = quantizeSpec(spec, calibrationInputs(4));
    const plan = planModel(quant, {});
    const source = emitRuntime(quant, plan.program, plan.arena, plan.layout, {
      arenaBase: plan.layout.trainEnd,
      momentum: 0,
      qas: true,
      rounding: 'stochastic',
      layoutId: layoutIdOf(plan),
    });
    const used = new Set([...source.matchAll(/STATE \+ (\d+)/g)].map((m) => Number(m[1])));
    const offsets = RUNTIME_STATE.fields.map((f) => f.offset);
    expect(used.size).toBeGreaterThan(0);
    expect([...used].every((n) => offsets.includes(n))).toBe(true);
    expect(offsets.filter((n) => n !== RUNTIME_STATE.offset.rng)).toEqual([...used].sort((a, b) => a - b));
  });

  it('the WASI runner and the firmware read every job field by its generated name', () => {
    const main = read('assembly/wasi/main.ts');
    const firmware = read('targets/firmware/main.c');
    for (const f of JOB_HEADER.fields) {
      expect(main, f.name).toContain(`JOB_AT_${screaming(f.name)}`);
      expect(firmware, f.name).toContain(`TT_JOB_W_${screaming(f.name)}`);
    }
    for (const f of FIRMWARE_JOB.fields) expect(firmware, f.name).toContain(`TT_FWJOB_W_${screaming(f.name)}`);
    // No reader keeps a hand-written copy of a magic number.
    for (const magic of [JOB_HEADER.value.MAGIC, FIRMWARE_JOB.value.MAGIC, FLASH_SLOT.value.MAGIC]) {
      const hex = new RegExp(`0x${magic.toString(16)}`, 'i');
      for (const path of ['assembly/wasi/main.ts', 'targets/firmware/main.c', 'targets/firmware/ckpt-slots.c']) expect(read(path)).not.toMatch(hex);
    }
  });

  it('the C headers compile and their struct offsets hold (static asserts)', { tags: [SYSTEM_TOOLS] }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinytrain-formats-'));
    try {
      const c = join(dir, 'check.c');
      const records = `sizeof(tt_conv_forward_t) == ${CONV_FORWARD.bytes} && offsetof(tt_conv_input_grad_t, CO) == ${CONV_INPUT_GRAD.offset.CO}`;
      writeFileSync(c, `#include "tt-formats.h"\n#include "tt-kernel-records.h"\nint main(void) { return TT_JOB_WORDS == 16 && TT_FWJOB_WORDS == 4 && ${records} ? 0 : 1; }\n`);
      const r = spawnSync('cc', ['-std=c11', '-Wall', '-Werror', '-I', join(root, 'targets/firmware'), c, '-o', join(dir, 'check')], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(spawnSync(join(dir, 'check')).status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
