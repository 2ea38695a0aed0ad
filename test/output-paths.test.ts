/**
 * "Outputs never destroy what is not ours": the rules of host/io/output-paths.ts, the
 * atomic writers' temp entries and leftovers (host/io/atomic.ts, temp-names.ts), the
 * per-run temp folder (host/io/run-temp.ts), and the CLI's exit codes for user mistakes.
 * Command-level rules run the real CLI (bin/tinytrain.js, so build first) with a private
 * TMPDIR, which must be empty again after every run, failed or killed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TinytrainError } from '../compiler/errors.js';
import { checkOutputFile, checkOutputFolder } from '../host/io/output-paths.js';
import { writeDirAtomic, writeFileAtomic } from '../host/io/atomic.js';
import { removeDeadRunDirs } from '../host/io/run-temp.js';
import { FIRMWARE_MARKER } from '../host/io/provenance.js';
import { SYSTEM_TOOLS } from './tiers.js';
import { BUILD_CACHE_ENV } from '../compiler/codegen/build-cache.js';

const BIN = join(__dirname, '..', 'bin', 'tinytrain.js');
const MODEL = join(__dirname, '..', 'examples', 'mnist-cnn.json');
const root = mkdtempSync(join(tmpdir(), 'tinytrain-outputs-'));
/** The spawned CLI's temp folder: nothing may remain in it after any run. */
const privateTmp = join(root, 'tmp');
const work = join(root, 'work');
mkdirSync(privateTmp);
mkdirSync(work);
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(...args: string[]): Run {
  const t0 = Date.now();
  // A timeout turns "the check came after the work" into a failure rather than a hang.
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, cwd: work, env: { ...process.env, TMPDIR: privateTmp, TINYTRAIN_QUIET: '' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** A user mistake: exit 1, one clean message (no stack), matching `pattern`, and no temp left. */
function expectUserError(r: Run, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(/^error: /m);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at .+:\d+:\d+/);
  expect(readdirSync(privateTmp)).toEqual([]);
}

/** Every entry under `dir` with its type and content hash: equal snapshots = nothing changed. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out.push(`${rel}${name}/`);
        walk(p, `${rel}${name}/`);
      } else out.push(`${rel}${name} ${st.size} ${st.mode.toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir, '');
  return out;
}

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

const userFolder = (name: string): string => {
  const d = join(work, name);
  mkdirSync(join(d, 'photos'), { recursive: true });
  writeFileSync(join(d, 'thesis.tex'), 'my thesis, six months of it\n');
  writeFileSync(join(d, 'photos', 'cat.jpg'), Buffer.from([0xff, 0xd8, 1, 2, 3]));
  return d;
};

// ---------------------------------------------------------------------------------------

const art = join(work, 'art');
const ckpt = join(work, 'trained.ckpt');
const pretrained = join(work, 'pretrained.json');

/** A folder of the user's: every test that refuses to write over it compares it before and after. */
const home = join(work, 'home');

beforeAll(() => {
  userFolder('home');
  const c = run('compile', MODEL, '--target', 'stm32f746', '--calibrate', 'random', '--out', art, '--json');
  expect(c.code, c.stderr).toBe(0);
  const t = run('train', art, '--data', 'mnist', '--classes', '5-9', '--limit', '50', '--steps', '20', '--no-eval', '--save', ckpt);
  expect(t.code, t.stderr).toBe(0);
  const p = run('pretrain', MODEL, '--data', 'mnist', '--classes', '0-4', '--steps', '20', '--out', pretrained);
  expect(p.code, p.stderr).toBe(0);
});

describe('compile --out', () => {
  it("never deletes or changes a folder holding a user's files", () => {
    const before = snapshot(work);
    const r = run('compile', MODEL, '--target', 'stm32f746', '--calibrate', 'random', '--out', home);
    expectUserError(r, /--out .*home: a folder holding 2 entries \(photos\/, thesis\.tex\) that is not a tinytrain artifact/);
    expect(snapshot(work)).toEqual(before);
  });

  it("refuses an artifact folder with a user's file inside, naming it, and leaves it untouched", () => {
    writeFileSync(join(art, 'my-notes.txt'), 'results of last week\n');
    try {
      const before = snapshot(work);
      const r = run('compile', MODEL, '--target', 'stm32f746', '--calibrate', 'random', '--out', art);
      expectUserError(r, /an artifact folder that also holds an entry tinytrain did not write \(my-notes\.txt\)/);
      expect(snapshot(work)).toEqual(before);
    } finally {
      rmSync(join(art, 'my-notes.txt'));
    }
  });

  it("replaces a previous artifact (with its firmware cache), and cleans a dead run's leftovers beside it", () => {
    // The full-scheme artifact, as compiled above, for the tests below (a copy: compiling it again is seconds of CPU).
    const fullScheme = join(root, 'art-full-scheme');
    cpSync(art, fullScheme, { recursive: true });
    writeFileSync(join(art, 'firmware-stm32f746.elf.key'), 'a'.repeat(64) + '\n');
    const dead = `.art.tmp-${deadPid()}-0badc0de`;
    const live = `.art.tmp-${process.pid}-0badc0de`;
    mkdirSync(join(work, dead));
    mkdirSync(join(work, live));
    const before = JSON.parse(readFileSync(join(art, 'manifest.json'), 'utf8')) as { scheme: { name: string } };
    expect(before.scheme.name).toBe('full');
    // Another artifact: kernels-prune's CLI compile (one build per run for both).
    const r = run('compile', MODEL, '--target', 'stm32f746', '--scheme', 'bias-only', '--calibrate', 'random', '--prune', '0.8', '--prune-mode', 'global', '--out', art);
    expect(r.code, r.stderr).toBe(0);
    const after = JSON.parse(readFileSync(join(art, 'manifest.json'), 'utf8')) as { scheme: { name: string } };
    expect(after.scheme.name).toBe('bias-only');
    expect(existsSync(join(art, 'firmware-stm32f746.elf.key'))).toBe(false);
    const beside = readdirSync(work);
    expect(beside).not.toContain(dead);
    expect(beside).toContain(live); // a live process's temp is never touched
    expect(beside.filter((e) => e.startsWith('.art.') && e !== live)).toEqual([]);
    expect(readdirSync(privateTmp)).toEqual([]);
    rmSync(join(work, live), { recursive: true });
    // Back to the full scheme, for the tests below.
    rmSync(art, { recursive: true });
    cpSync(fullScheme, art, { recursive: true });
  });

  it('creates missing parent folders; refuses a file in the way, a symlink, and a path through a file', () => {
    const nested = join(work, 'new', 'deeper', 'art');
    const before = snapshot(work);
    expectUserError(run('compile', MODEL, '--target', 'stm32f746', '--out', join(home, 'thesis.tex')), /a file is there, and this output is a folder/);
    expectUserError(run('compile', MODEL, '--target', 'stm32f746', '--out', join(home, 'thesis.tex', 'x')), /a part of this path is a file/);
    symlinkSync(art, join(work, 'link-to-art'));
    expectUserError(run('compile', MODEL, '--target', 'stm32f746', '--out', join(work, 'link-to-art')), /a symbolic link/);
    rmSync(join(work, 'link-to-art'));
    expect(snapshot(work)).toEqual(before);
    const r = run('compile', MODEL, '--target', 'desktop', '--calibrate', 'random', '--out', nested);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(nested, 'manifest.json'))).toBe(true);
    rmSync(join(work, 'new'), { recursive: true });
  });
});

describe('train --save is checked before step 1', () => {
  // 10^8 steps would take hours: only a check made before training can answer in seconds.
  const huge = ['--data', 'mnist', '--steps', '100000000'];
  const cases: Array<[string, () => string, RegExp]> = [
    ['a missing folder', () => join(work, 'no-such-folder', 'ckpt'), /its folder .*no-such-folder does not exist/],
    ['a folder', () => home, /a folder is there, and this output is a file/],
    ["a user's file", () => join(home, 'thesis.tex'), /a file that is not a tinytrain checkpoint/],
  ];
  for (const [what, path, pattern] of cases) {
    it(`refuses ${what} at once, without training and without touching it`, () => {
      const before = snapshot(work);
      const r = run('train', art, ...huge, '--save', path());
      expectUserError(r, pattern);
      expect(r.stderr).not.toMatch(/train: done|training on/); // nothing was trained
      expect(r.ms).toBeLessThan(30_000);
      expect(snapshot(work)).toEqual(before);
    });
  }

  it('replaces its own checkpoint (here the one it loads)', () => {
    const old = readFileSync(ckpt);
    const r = run('train', art, '--data', 'mnist', '--classes', '5-9', '--limit', '50', '--steps', '10', '--no-eval', '--load', ckpt, '--save', ckpt);
    expect(r.code, r.stderr).toBe(0);
    const now = readFileSync(ckpt);
    expect(now.subarray(0, 4).toString('latin1')).toBe('TTCK');
    expect(now.equals(old)).toBe(false);
    expect(readdirSync(work).filter((e) => e.includes('.tmp-'))).toEqual([]);
  });
});

describe('report --html, firmware --out, pretrain --out', () => {
  it("report --html refuses a user's file and replaces its own report", () => {
    const before = snapshot(work);
    expectUserError(run('report', art, '--html', join(home, 'thesis.tex')), /--html .*thesis\.tex: a file that is not an HTML report written by tinytrain/);
    expect(snapshot(work)).toEqual(before);
    const page = join(work, 'report.html');
    expect(run('report', art, '--html', page).code).toBe(0);
    const r = run('report', art, '--html', page);
    expect(r.code, r.stderr).toBe(0);
    expect(() => checkOutputFile(page, 'html-report', '--html')).not.toThrow();
  });

  it("firmware --out refuses a user's file and a folder before any toolchain runs", () => {
    const before = snapshot(work);
    // An empty PATH: were wasm2c or gcc asked for, the error would be the missing toolchain.
    const noTools = (args: string[]): Run => {
      const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: work, env: { ...process.env, PATH: '', TMPDIR: privateTmp } });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: 0 };
    };
    expectUserError(noTools(['firmware', art, '--out', join(home, 'thesis.tex')]), /a file that is not a firmware ELF built by tinytrain/);
    expectUserError(noTools(['firmware', art, '--out', home]), /a folder is there/);
    expect(snapshot(work)).toEqual(before);
  });

  // Builds firmware (wasm2c, arm-none-eabi-gcc): a system tool, so the full tier only.
  it('firmware --out replaces the ELF it built before (recognised by its marker)', { tags: [SYSTEM_TOOLS] }, () => {
    const elf = join(work, 'fw.elf');
    for (let i = 0; i < 2; i++) {
      const r = run('firmware', art, '--out', elf);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(readFileSync(elf).includes(FIRMWARE_MARKER)).toBe(true);
    expect(readdirSync(work).filter((e) => e.startsWith('.fw.elf'))).toEqual([]);
    expect(readdirSync(privateTmp)).toEqual([]);
  });

  it("demo --out refuses a user's folder before pretraining", () => {
    const before = snapshot(work);
    const r = run('demo', '--pretrain-steps', '100000000', '--out', home);
    expectUserError(r, /--out .*home: a folder holding 2 entries/);
    expect(r.ms).toBeLessThan(30_000);
    expect(snapshot(work)).toEqual(before);
  });

  it('pretrain --out refuses to overwrite a hand-written model (its own input), and replaces its own output', () => {
    const mine = join(work, 'hand-written.json');
    writeFileSync(mine, readFileSync(MODEL));
    const before = snapshot(work);
    expectUserError(run('pretrain', mine, '--data', 'mnist', '--steps', '100000000', '--out', mine), /a file that is not a model file written by tinytrain pretrain/);
    expect(snapshot(work)).toEqual(before);
    const first = readFileSync(pretrained, 'utf8');
    const r = run('pretrain', MODEL, '--data', 'mnist', '--classes', '0-4', '--steps', '30', '--out', pretrained);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(pretrained, 'utf8')).not.toBe(first);
    expect((JSON.parse(readFileSync(pretrained, 'utf8')) as { generator?: string }).generator).toBe('tinytrain pretrain');
  });
});

describe('user mistakes exit 1, bad flags 2', () => {
  it('a missing or unreadable --load, a missing --data: exit 1 with the path', () => {
    expectUserError(run('train', art, '--data', 'mnist', '--steps', '5', '--load', join(work, 'nope.ckpt')), /--load .*nope\.ckpt: no such file/);
    expectUserError(run('eval', art, '--data', 'mnist', '--load', home), /--load .*home: a folder, not a checkpoint/);
    expectUserError(run('eval', art, '--data', 'mnist', '--load', '/dev/zero'), /--load \/dev\/zero: not a regular file/);
    expectUserError(run('train', art, '--data', join(work, 'no-data'), '--steps', '5'), /no-data/);
    expectUserError(run('eval', art, '--data', 'mnist', '--load', join(home, 'thesis.tex')), /not a tinytrain checkpoint/);
    // A device as the model would otherwise be read forever.
    expectUserError(run('compile', '/dev/zero', '--target', 'stm32f746', '--out', join(work, 'never')), /model file \/dev\/zero is not a regular file/);
  });

  it('an output under a read-only folder: exit 1 before any work, naming the folder', () => {
    // Root may write anywhere, so as root the CLI runs as nobody (everything it reads is world-readable).
    chmodSync(root, 0o755);
    chmodSync(work, 0o755);
    const ro = join(work, 'read-only');
    mkdirSync(ro, { mode: 0o555 });
    chmodSync(ro, 0o555);
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const runRo = (...args: string[]): Run => {
      const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: work, ...asUser, env: { ...process.env, TMPDIR: privateTmp } });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: 0 };
    };
    expectUserError(runRo('compile', MODEL, '--target', 'stm32f746', '--out', join(ro, 'art')), /cannot create it: .*read-only is not writable/);
    expectUserError(runRo('train', art, '--data', 'mnist', '--steps', '100000000', '--save', join(ro, 'x.ckpt')), /its folder .*read-only is not writable/);
    expect(readdirSync(ro)).toEqual([]);
  });

  it('bad flags: exit 2', () => {
    for (const args of [
      ['compile', MODEL, '--target', 'stm32f746'],
      ['train', art, '--data', 'mnist', '--steps', 'many'],
      ['report', art, '--no-such-flag'],
    ]) {
      const r = run(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(readdirSync(privateTmp)).toEqual([]);
    }
  });
});

describe('no temp entries outlive a run', () => {
  /** Starts a compile, waits until its temp build folder exists, then sends `signal`. */
  async function killMidCompile(signal: NodeJS.Signals): Promise<void> {
    const child = spawn(process.execPath, [BIN, 'compile', MODEL, '--target', 'stm32f746', '--calibrate', 'random', '--out', join(work, `killed-${signal}`)], {
      cwd: work,
      // No build cache: a hit would skip the asc build folder this test kills the compile in.
      env: { ...process.env, TMPDIR: privateTmp, [BUILD_CACHE_ENV]: '' },
      stdio: 'ignore',
    });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const deadline = Date.now() + 60_000;
    const busy = (): boolean => readdirSync(privateTmp).some((d) => d.startsWith('tinytrain-run-') && readdirSync(join(privateTmp, d)).length > 0);
    while (!busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(busy()).toBe(true); // the asc build folder exists: there is something to leak
    child.kill(signal);
    await exited;
    // The watcher notices within about a second.
    const until = Date.now() + 5_000;
    while (readdirSync(privateTmp).length && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(privateTmp)).toEqual([]);
    expect(existsSync(join(work, `killed-${signal}`))).toBe(false);
  }

  it('SIGTERM mid-compile leaves nothing in the temp folder', () => killMidCompile('SIGTERM'));
  it('SIGKILL mid-compile leaves nothing in the temp folder', () => killMidCompile('SIGKILL'));

  it('a run removes run folders of dead processes, and nothing else', () => {
    const dead = join(privateTmp, `tinytrain-run-${deadPid()}-0badc0de`);
    const live = join(privateTmp, `tinytrain-run-${process.pid}-0badc0de`);
    const other = join(privateTmp, 'tinytrain-job-abc123');
    for (const d of [dead, live, other]) {
      mkdirSync(d);
      writeFileSync(join(d, 'f'), 'x');
    }
    expect(run('targets').code).toBe(0);
    expect(readdirSync(privateTmp).sort()).toEqual([`tinytrain-job-abc123`, `tinytrain-run-${process.pid}-0badc0de`]);
    rmSync(live, { recursive: true });
    rmSync(other, { recursive: true });
    expect(removeDeadRunDirs(privateTmp)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// The module directly: the fine-grained rules.

describe('checkOutputFolder', () => {
  const dir = join(root, 'unit-folders');
  mkdirSync(dir);
  const refused = (p: string, pattern: RegExp): void => {
    let err: unknown;
    try {
      checkOutputFolder(p, '--out');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TinytrainError);
    expect((err as Error).message).toMatch(pattern);
  };
  const artifact = (name: string, extra: string[] = []): string => {
    const d = join(dir, name);
    mkdirSync(d);
    const files = { wasm: 'runtime-simd.wasm', wasmSimd: 'runtime-simd.wasm', wasmScalar: 'runtime-scalar.wasm', wasmWasi: 'runtime-wasi.wasm', image: 'image.bin' };
    writeFileSync(join(d, 'manifest.json'), JSON.stringify({ format: 'tinytrain-artifact@1', files }));
    for (const f of [...Object.values(files), 'runtime.ts', ...extra]) writeFileSync(join(d, f), 'x');
    return d;
  };

  it('accepts an absent path (parents to be created), an empty folder, an artifact with its caches', () => {
    checkOutputFolder(join(dir, 'a', 'b', 'c'));
    mkdirSync(join(dir, 'empty'));
    checkOutputFolder(join(dir, 'empty'));
    checkOutputFolder(artifact('full', ['scheme.json', 'firmware-nrf52840.elf', 'firmware-nrf52840.elf.key', `.firmware-nrf52840.elf.tmp-${deadPid()}-0badc0de`]));
  });

  it('refuses foreign entries in an artifact, a non-artifact manifest, links, files', () => {
    refused(artifact('foreign', ['notes.txt']), /tinytrain did not write \(notes\.txt\)/);
    const sub = artifact('subfolder');
    mkdirSync(join(sub, 'data'));
    refused(sub, /\(data\/\)/);
    // A listed name is ours only as a regular file: a folder or link by that name is not.
    const linked = artifact('linked');
    rmSync(join(linked, 'image.bin'));
    symlinkSync(join(dir, 'full', 'image.bin'), join(linked, 'image.bin'));
    refused(linked, /\(image\.bin\)/);
    // A manifest cannot adopt a user's file by listing it: only runtime and image names count.
    const adopted = artifact('adopted', ['thesis.tex']);
    const m = JSON.parse(readFileSync(join(adopted, 'manifest.json'), 'utf8')) as { files: Record<string, string> };
    writeFileSync(join(adopted, 'manifest.json'), JSON.stringify({ ...m, files: { ...m.files, notes: 'thesis.tex' } }));
    refused(adopted, /\(thesis\.tex\)/);
    const many = join(dir, 'many');
    mkdirSync(many);
    for (let i = 0; i < 8; i++) writeFileSync(join(many, `f${i}`), 'x');
    refused(many, /8 entries \(f0, f1, f2, f3, f4, and 3 more\)/);
    const other = join(dir, 'other-manifest');
    mkdirSync(other);
    writeFileSync(join(other, 'manifest.json'), JSON.stringify({ format: 'someone-elses@2' }));
    refused(other, /not a tinytrain artifact \(manifest\.json has no "format"/);
    const broken = join(dir, 'broken-manifest');
    mkdirSync(broken);
    writeFileSync(join(broken, 'manifest.json'), '{"format": "tinytrain-artifact@1"');
    refused(broken, /manifest\.json is not JSON/);
    symlinkSync(join(dir, 'empty'), join(dir, 'link'));
    refused(join(dir, 'link'), /symbolic link/);
    writeFileSync(join(dir, 'plain'), 'x');
    refused(join(dir, 'plain'), /a file is there/);
  });
});

describe('checkOutputFile', () => {
  const dir = join(root, 'unit-files');
  mkdirSync(dir);
  const refused = (p: string, kind: Parameters<typeof checkOutputFile>[1], pattern: RegExp): void => {
    let err: unknown;
    try {
      checkOutputFile(p, kind, '--x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TinytrainError);
    expect((err as Error).message).toMatch(pattern);
  };

  it('an absent file needs an existing folder', () => {
    checkOutputFile(join(dir, 'new.ckpt'), 'checkpoint', '--save');
    refused(join(dir, 'missing', 'new.ckpt'), 'checkpoint', /its folder .*missing does not exist/);
  });

  it('recognises each kind by its mark, and only that kind', () => {
    checkOutputFile(ckpt, 'checkpoint', '--save');
    refused(ckpt, 'html-report', /not an HTML report/);
    refused(ckpt, 'firmware-elf', /not a firmware ELF/);
    refused(ckpt, 'model-json', /not a model file written by tinytrain pretrain/);
    checkOutputFile(pretrained, 'model-json', '--out');
    refused(MODEL, 'model-json', /not a model file written by tinytrain pretrain/);

    const elf = (name: string, body: string): string => {
      const p = join(dir, name);
      writeFileSync(p, Buffer.concat([Buffer.from('\x7fELF\x01\x01\x01', 'latin1'), Buffer.alloc(200), Buffer.from(body, 'latin1')]));
      return p;
    };
    checkOutputFile(elf('ours.elf', `junk${FIRMWARE_MARKER}cannot open job file`), 'firmware-elf', '--out');
    refused(elf('theirs.elf', 'zephyr'), 'firmware-elf', /not a firmware ELF built by tinytrain/);
    const cached = elf('firmware-stm32f746.elf', 'an old build');
    writeFileSync(`${cached}.key`, 'f'.repeat(64) + '\n');
    checkOutputFile(cached, 'firmware-elf', '--out');
    writeFileSync(join(dir, 'fake.elf'), `not an elf ${FIRMWARE_MARKER}`);
    refused(join(dir, 'fake.elf'), 'firmware-elf', /not a firmware ELF/);
  });

  it('refuses links (even to our own file), folders and devices', () => {
    symlinkSync(ckpt, join(dir, 'link.ckpt'));
    refused(join(dir, 'link.ckpt'), 'checkpoint', /symbolic link/);
    refused(dir, 'checkpoint', /a folder is there/);
    refused('/dev/null', 'checkpoint', /not a regular file/);
  });
});

describe('atomic writers: re-check before the rename, pid-named temps, leftovers', () => {
  const dir = join(root, 'unit-atomic');
  mkdirSync(dir);

  it("writeDirAtomic refuses when a user's file appears at the output during fill", async () => {
    const out = join(dir, 'late');
    await expect(
      writeDirAtomic(out, (tmp) => {
        expect(tmp).toMatch(new RegExp(`/\\.late\\.tmp-${process.pid}-[0-9a-f]{8}$`));
        writeFileSync(join(tmp, 'manifest.json'), '{}');
        mkdirSync(out);
        writeFileSync(join(out, 'diary.txt'), 'mine');
      }),
    ).rejects.toThrow(/not a tinytrain artifact/);
    expect(readdirSync(out)).toEqual(['diary.txt']);
    expect(readdirSync(dir)).toEqual(['late']);
  });

  it('writeFileAtomic runs beforeRename last and keeps the old file when it refuses', () => {
    const p = join(dir, 'f.bin');
    writeFileSync(p, 'old');
    expect(() =>
      writeFileAtomic(p, 'new', {
        beforeRename: () => {
          throw new TinytrainError('changed meanwhile');
        },
      }),
    ).toThrow('changed meanwhile');
    expect(readFileSync(p, 'utf8')).toBe('old');
    expect(readdirSync(dir).sort()).toEqual(['f.bin', 'late']);
  });

  it('removes leftovers of dead pids for this name only; live pids and foreign names stay', () => {
    const p = join(dir, 'g.bin');
    const dead = deadPid();
    const names = {
      deadTmp: `.g.bin.tmp-${dead}-00c0ffee`,
      deadOld: `.g.bin.old-${dead}-00c0ffee`,
      live: `.g.bin.tmp-${process.pid}-00c0ffee`,
      otherName: `.h.bin.tmp-${dead}-00c0ffee`,
      notHex: `.g.bin.tmp-${dead}-notahex!`,
      userDot: '.g.bin.tmp-mine',
    };
    for (const n of Object.values(names)) writeFileSync(join(dir, n), 'left');
    symlinkSync('/etc/hostname', join(dir, `.g.bin.tmp-${dead}-11c0ffee`));
    writeFileAtomic(p, 'data');
    const left = readdirSync(dir);
    expect(left).not.toContain(names.deadTmp);
    expect(left).not.toContain(names.deadOld);
    for (const n of [names.live, names.otherName, names.notHex, names.userDot, `.g.bin.tmp-${dead}-11c0ffee`]) expect(left).toContain(n);
  });
});
