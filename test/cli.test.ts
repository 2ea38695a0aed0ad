/**
 * The CLI as a user meets it: real processes, real files. Checks the JSON contract,
 * determinism of `train`, clean errors (exit codes, no stack traces, nothing written).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SLOW, SYSTEM_TOOLS, caseChoice } from './tiers.js';
import type { Manifest } from '../compiler/manifest.js';

const BIN = join(__dirname, '..', 'bin', 'tinytrain.js');
const work = mkdtempSync(join(tmpdir(), 'tinytrain-cli-'));

function run(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, TINYTRAIN_QUIET: '' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function expectCleanError(r: { code: number; stderr: string }, code: number, pattern: RegExp): void {
  expect(r.code).toBe(code);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
}

const EXAMPLE = join(__dirname, '..', 'examples', 'mnist-cnn.json');
// The model these tests compile and train (test/tiers.ts): mnist-cnn pretrained here on
// digits 0-4, or (the fast tier) the example itself calibrated on random inputs.
const pretrained = caseChoice('cli.model', 'pretrained') === 'pretrained';
const model = pretrained ? join(work, 'pretrained.json') : EXAMPLE;
const art = join(work, 'art');

beforeAll(() => {
  if (pretrained) {
    const pre = run('pretrain', EXAMPLE, '--data', 'mnist', '--classes', '0-4', '--steps', '300', '--out', model, '--json');
    expect(pre.code, pre.stderr).toBe(0);
  }
  const c = run('compile', model, '--target', 'stm32f746', ...(pretrained ? [] : ['--calibrate', 'random']), '--out', art, '--json');
  expect(c.code, c.stderr).toBe(0);
});

describe('tinytrain CLI', () => {
  it('targets --json lists the required targets with SRAM and Flash', () => {
    const r = run('targets', '--json');
    expect(r.code).toBe(0);
    const t = JSON.parse(r.stdout) as { targets: Array<{ name: string; sramBytes: number; flashBytes: number }> };
    const byName = new Map(t.targets.map((x) => [x.name, x]));
    expect(byName.get('stm32f746')).toMatchObject({ sramBytes: 320 * 1024, flashBytes: 1024 * 1024 });
    expect(byName.get('nrf52840')).toMatchObject({ sramBytes: 256 * 1024, flashBytes: 1024 * 1024 });
    expect(byName.has('arm64-linux')).toBe(true);
    expect(byName.has('desktop')).toBe(true);
  });

  it('compile writes a manifest with the fields the design names', () => {
    const m = JSON.parse(readFileSync(join(art, 'manifest.json'), 'utf8'));
    expect(m.target).toBe('stm32f746');
    expect(m.scheme.name).toBe('full');
    expect(m.inputs[0]).toMatchObject({ name: 'input', shape: [28, 28, 1], dtype: 'int8' });
    expect(m.outputs[0].shape).toEqual([10]);
    expect(m.memory.sramPeakBytes).toBeGreaterThan(0);
    expect(m.memory.flashBytes).toBeGreaterThan(0);
    for (const k of ['savedActivationsBytes', 'trainedParamsBytes', 'optimizerStateBytes', 'arenaBytes', 'runtimeReserveBytes']) {
      expect(typeof m.memory.breakdown[k]).toBe('number');
    }
    for (const f of Object.values(m.files) as string[]) expect(existsSync(join(art, f))).toBe(true);
  });

  it('two train runs with the same seed print identical JSON and write identical checkpoints', () => {
    // The SIMD module (stm32f746's own is the scalar one, which the eval run below uses):
    // its closing evaluation over the test split takes a tenth of the scalar module's seconds.
    const args = (save: string): string[] => [
      'train',
      art,
      '--data',
      'mnist',
      '--classes',
      '5-9',
      '--limit',
      '200',
      '--steps',
      '150',
      '--seed',
      '3',
      '--variant',
      'simd',
      '--save',
      save,
      '--json',
    ];
    const a = run(...args(join(work, 'a.ck')));
    // The second run skips the closing evaluation: the eval run below measures a's
    // checkpoint, and the training fields must agree.
    const b = run(...args(join(work, 'b.ck')), '--no-eval');
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const ja = JSON.parse(a.stdout);
    const jb = JSON.parse(b.stdout);
    for (const k of ['steps', 'loss', 'accuracy']) expect(ja).toHaveProperty(k);
    expect(ja.steps).toBe(150);
    const accuracy = ja.accuracy as number;
    expect(accuracy).toBeGreaterThan(0);
    expect(jb.accuracy).toBeNull();
    for (const j of [ja, jb]) {
      delete j.checkpoint; // differs: the file name
      delete j.accuracy; // differs: measured by a only
    }
    expect(jb).toEqual(ja);
    expect(Buffer.compare(readFileSync(join(work, 'a.ck')), readFileSync(join(work, 'b.ck')))).toBe(0);
    // and the checkpoint is what eval then measures (with the scalar module: SIMD == scalar)
    const e = run('eval', art, '--data', 'mnist', '--classes', '5-9', '--load', join(work, 'a.ck'), '--json');
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).accuracy).toBe(accuracy);
    // eval --limit measures the first N samples of the test split (it once measured them all).
    const few = run('eval', art, '--data', 'mnist', '--classes', '5-9', '--limit', '100', '--load', join(work, 'a.ck'), '--json');
    expect(few.code, few.stderr).toBe(0);
    expect(JSON.parse(few.stdout).samples).toBe(100);
    expect(JSON.parse(e.stdout).samples).toBeGreaterThan(4000);
  });

  it('train --engine wasmtime / arm64 / cortex-m behaves like the embedded engine: same JSON, same checkpoint', { tags: [SYSTEM_TOOLS] }, () => {
    const args = (engine: string, save: string): string[] => [
      'train',
      art,
      '--data',
      'mnist',
      '--classes',
      '5-9',
      '--limit',
      '100',
      '--steps',
      '40',
      '--seed',
      '5',
      '--engine',
      engine,
      '--save',
      save,
      '--json',
    ];
    const outputs = ['node', 'wasmtime', 'arm64', 'cortex-m'].map((engine) => {
      const r = run(...args(engine, join(work, `${engine}.ck`)));
      expect(r.code, `${engine}: ${r.stderr}`).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.engine).toBe(engine);
      delete j.engine;
      delete j.checkpoint;
      return { j, ck: readFileSync(join(work, `${engine}.ck`)) };
    });
    for (const o of outputs.slice(1)) {
      expect(o.j).toEqual(outputs[0]!.j);
      expect(Buffer.compare(o.ck, outputs[0]!.ck)).toBe(0);
    }
    expectCleanError(run('train', art, '--data', 'mnist', '--engine', 'jvm'), 1, /unknown engine 'jvm'/);
  });

  it('every shipped example compiles for stm32f746 with no flags but --target and --out, saying how it was calibrated and what trains', { tags: [SLOW] }, () => {
    const examples = readdirSync(join(__dirname, '..', 'examples')).filter((f) => f.endsWith('.json'));
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const f of examples) {
      const out = join(work, `example-${f}`);
      const r = run('compile', join(__dirname, '..', 'examples', f), '--target', 'stm32f746', '--out', out, '--json');
      expect(r.code, `${f}: ${r.stderr}`).toBe(0);
      expect(r.stderr, f).toMatch(/has no trained weights and no calibration ranges: it starts from its seeded random weights, calibrated on random inputs/);
      const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { scheme: { name: string }; memory: { sramPeakBytes: number } };
      // A model file that carries a scheme trains with it (MobileNetV2: the reference's 99 KB scheme); the others train fully.
      const own = (JSON.parse(readFileSync(join(__dirname, '..', 'examples', f), 'utf8')) as { scheme?: { name?: string } }).scheme;
      expect(m.scheme.name, f).toBe(own ? own.name : 'full');
      expect(m.memory.sramPeakBytes, f).toBeLessThanOrEqual(320 * 1024);
    }
  });

  it('bad flags exit 2 with a message', () => {
    expectCleanError(run('train', art, '--data', 'mnist', '--steps', 'many'), 2, /--steps must be an integer/);
    expectCleanError(run('compile', model, '--target', 'stm32f746'), 2, /--out/);
    expectCleanError(run('frobnicate'), 2, /unknown command/);
  });

  it('user errors exit 1 with a hint and leave nothing behind', () => {
    const out = join(work, 'never');
    expectCleanError(run('compile', model, '--target', 'esp32', '--out', out), 1, /unknown target "esp32"/);
    const broken = join(work, 'broken.json');
    writeFileSync(broken, '{"format": "tinytrain-model@1", "name": "x", "input": [28, 28');
    expectCleanError(run('compile', broken, '--target', 'stm32f746', '--out', out), 1, /not valid JSON/);
    const badOp = join(work, 'badop.json');
    writeFileSync(badOp, JSON.stringify({ format: 'tinytrain-model@1', name: 'x', input: [4, 4, 1], layers: [{ op: 'lstm', name: 'l1' }] }));
    expectCleanError(run('compile', badOp, '--target', 'stm32f746', '--out', out), 1, /layers\[0\]\.op \(layer "l1"\): expected op to be one of .*got "lstm"/);
    expectCleanError(run('train', art, '--data', '/nonexistent/dir'), 1, /error:/);
    expectCleanError(run('train', join(work, 'no-such-artifact'), '--data', 'mnist'), 1, /not a tinytrain artifact/);
    expect(existsSync(out)).toBe(false);
  });

  it('an infeasible budget fails, says by how much and where the bytes go, and writes nothing', () => {
    const out = join(work, 'tight');
    const r = run('compile', model, '--target', 'stm32f746', '--budget', '20KB', '--out', out);
    expectCleanError(r, 1, /B over/);
    expect(r.stderr).toMatch(/largest buffers/);
    expect(r.stderr).toMatch(/(act|grad):\w+/);
    expect(existsSync(out)).toBe(false);
  });

  it("firmware builds an ELF for the artifact's MCU and reports sizes against the target", { tags: [SYSTEM_TOOLS] }, () => {
    const elf = join(work, 'fw.elf');
    const r = run('firmware', art, '--out', elf, '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(existsSync(elf)).toBe(true);
    expect(j.target).toBe('stm32f746');
    expect(j.sramUsedBytes).toBeLessThanOrEqual(j.limits.sramBytes);
    expect(j.flashUsedBytes).toBeLessThanOrEqual(j.limits.flashBytes);
    expect(j.sizes.text).toBeGreaterThan(0);
    // The stack it links comes from the call graph, and the SRAM figure counts exactly that.
    expect(j.stack.source).toBe('static-analysis');
    expect(j.sramUsedBytes).toBe(j.sizes.data + j.sizes.bss + j.stack.bytes);
    expectCleanError(run('firmware', art, '--out', elf, '--target', 'desktop'), 1, /error:/);
  });

  // SLOW: the search itself is covered in the fast tier by scheme-auto.test.ts.
  it('compile --scheme auto picks a scheme that fits the budget and saves it for reuse', { tags: [SLOW] }, () => {
    const out = join(work, 'auto');
    const r = run('compile', model, '--target', 'nrf52840', '--scheme', 'auto', '--budget', '48KB', '--calibrate', 'mnist', '--calibration-samples', '16', '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(m.memory.sramPeakBytes).toBeLessThanOrEqual(48 * 1024);
    expect(m.scheme.layers.some((l: { bias: boolean; channels: number }) => l.bias || l.channels > 0)).toBe(true);
    // The chosen scheme is written in our JSON form and compiles to the same plan.
    const again = run('compile', model, '--target', 'nrf52840', '--scheme', join(out, 'scheme.json'), '--budget', '48KB', '--out', join(work, 'auto2'), '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(work, 'auto2', 'manifest.json'), 'utf8')).memory.sramPeakBytes).toBe(m.memory.sramPeakBytes);
    expectCleanError(run('compile', model, '--target', 'nrf52840', '--scheme', 'auto', '--budget', '8KB', '--calibrate', 'mnist', '--out', join(work, 'auto3')), 1, /too small/);
  });

  it('a damaged checkpoint is refused', () => {
    const ck = readFileSync(join(work, 'a.ck'));
    ck[ck.length - 1] ^= 0xff;
    writeFileSync(join(work, 'bad.ck'), ck);
    expectCleanError(run('eval', art, '--data', 'mnist', '--load', join(work, 'bad.ck')), 1, /checksum/);
  });

  it('report prints the breakdown and writes a self-contained HTML page', () => {
    const html = join(work, 'report.html');
    const r = run('report', art, '--html', html);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SRAM peak/);
    expect(r.stdout).toMatch(/weightUpdate stem/);
    const m = JSON.parse(readFileSync(join(art, 'manifest.json'), 'utf8')) as Manifest;
    expect(r.stdout).toMatch(new RegExp(`all-inclusive \\(= SRAM peak\\) +${m.memory.sramPeakBytes} B`));
    expect(r.stdout).toMatch(new RegExp(`the reference's accounting +${m.arena.bytes} B`));
    const page = readFileSync(html, 'utf8');
    expect(page).toContain("the reference's accounting (arena + kernel scratch)");
    expect(page).toMatch(/<svg/);
    expect(page).not.toMatch(/<script|src=|href=|https?:\/\//); // nothing external
  });

  it('every command has --help', () => {
    for (const c of ['compile', 'train', 'eval', 'report', 'targets', 'demo', 'pretrain']) {
      const r = run(c, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: tinytrain/);
    }
  });
});
