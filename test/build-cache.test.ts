/**
 * The test runs' build layer (compiler/codegen/build-cache.ts). The cache: off without its
 * folder, a hit only for the same module kind, memory base and source, never a broken
 * entry (a stand-in build function counts the builds). The fast tier's WASI placeholders:
 * on in its workers only, with exactly the planned memory; its SIMD placeholders: only
 * inside compileWithoutSimd, for MCU targets, leaving the manifest's figures as they are
 * (one tiny model compiled: asc runs here for that only).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_CACHE_ENV, cachedBuild, setWasiPlaceholders, simdPlaceholdersOn, toolchainId, wasiPlaceholders } from '../compiler/codegen/build-cache.js';
import type { BuildResult } from '../compiler/codegen/build.js';
import { buildWasiRuntime } from '../compiler/codegen/wasi.js';
import type { Manifest } from '../compiler/manifest.js';
import { TinytrainError } from '../compiler/errors.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { readArtifact, writeArtifact } from '../host/artifact.js';
import { verifyModuleMemory } from '../host/artifact-verify.js';
import { Runtime } from '../host/runtime.js';
import { getTarget } from '../targets/index.js';
import { compileWithoutSimd } from './support/models.js';
import { tier } from './tiers.js';

const root = mkdtempSync(join(tmpdir(), 'tinytrain-build-cache-test-'));
const runValue = process.env[BUILD_CACHE_ENV];
afterEach(() => {
  if (runValue === undefined) delete process.env[BUILD_CACHE_ENV];
  else process.env[BUILD_CACHE_ENV] = runValue;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A build that makes a distinct (valid-looking) module each time it runs, and counts its runs. */
function counter(): { build: () => Promise<BuildResult>; runs: () => number } {
  let n = 0;
  return {
    build: async () => ({ wasm: Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ++n), pages: 3 }),
    runs: () => n,
  };
}

function freshCache(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  return dir;
}

describe('build cache', () => {
  it('is off without the variable, and with a folder that does not exist', async () => {
    for (const value of [undefined, '', join(root, 'gone')]) {
      if (value === undefined) delete process.env[BUILD_CACHE_ENV];
      else process.env[BUILD_CACHE_ENV] = value;
      const c = counter();
      await cachedBuild('simd', 'src', 1024, c.build);
      await cachedBuild('simd', 'src', 1024, c.build);
      expect(c.runs()).toBe(2);
    }
    expect(readdirSync(root).includes('gone')).toBe(false);
  });

  it('gives the stored module for the same kind, memory base and source, and builds anything else', async () => {
    process.env[BUILD_CACHE_ENV] = freshCache('hits');
    const c = counter();
    const first = await cachedBuild('simd', 'src', 1024, c.build);
    const again = await cachedBuild('simd', 'src', 1024, c.build);
    expect(c.runs()).toBe(1);
    expect(again).toEqual(first);
    expect(again.wasm).not.toBe(first.wasm); // a copy: a caller that edits its bytes edits no one else's
    await cachedBuild('scalar', 'src', 1024, c.build);
    await cachedBuild('wasi', 'src', 1024, c.build);
    await cachedBuild('simd', 'src', 1040, c.build);
    await cachedBuild('simd', 'src ', 1024, c.build);
    expect(c.runs()).toBe(5);
  });

  it('keys the build code by its sources: the CLI (dist/) shares entries with the tests, unless dist/ is older', () => {
    const code = ['asc', 'build', 'build-cache', 'wasi'];
    const codegen = join(__dirname, '..', 'compiler', 'codegen');
    const compiled = join(__dirname, '..', 'dist', 'compiler', 'codegen');
    const fresh = code.every((n) => statSync(join(compiled, `${n}.js`)).mtimeMs >= statSync(join(codegen, `${n}.ts`)).mtimeMs);
    const script = `import(${JSON.stringify(join(compiled, 'build-cache.js'))}).then((m) => process.stdout.write(m.toolchainId()))`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{64}$/);
    expect(r.stdout === toolchainId(), fresh ? 'dist/ is up to date' : 'dist/ is older than compiler/codegen').toBe(fresh);
  });

  it('does not store a failed build', async () => {
    const dir = freshCache('fails');
    process.env[BUILD_CACHE_ENV] = dir;
    await expect(cachedBuild('simd', 'bad', 0, () => Promise.reject(new Error('asc failed')))).rejects.toThrow('asc failed');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('builds a module once when several builds of it start at the same time, and leaves no lock', async () => {
    const dir = freshCache('concurrent');
    process.env[BUILD_CACHE_ENV] = dir;
    const c = counter();
    const slow = async (): Promise<BuildResult> => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return c.build();
    };
    const results = await Promise.all([1, 2, 3].map(() => cachedBuild('simd', 'src', 0, slow)));
    expect(c.runs()).toBe(1);
    for (const r of results) expect(r.wasm).toEqual(results[0]!.wasm);
    expect(readdirSync(dir).filter((e) => e.endsWith('.lock'))).toEqual([]);
  });

  it('takes over the lock of a build whose process died, at once', async () => {
    const dir = freshCache('dead-holder');
    process.env[BUILD_CACHE_ENV] = dir;
    const c = counter();
    await cachedBuild('simd', 'src', 0, c.build);
    const [entry] = readdirSync(dir);
    rmSync(join(dir, entry!));
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(join(dir, `${entry}.lock`), String(dead));
    const t0 = Date.now();
    await cachedBuild('simd', 'src', 0, c.build);
    expect(c.runs()).toBe(2);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(readdirSync(dir)).toEqual([entry]);
  });

  it('treats an entry that is not a module as a miss', async () => {
    const dir = freshCache('broken');
    process.env[BUILD_CACHE_ENV] = dir;
    const c = counter();
    await cachedBuild('simd', 'src', 0, c.build);
    const [entry] = readdirSync(dir);
    writeFileSync(join(dir, entry!), 'not a module');
    const rebuilt = await cachedBuild('simd', 'src', 0, c.build);
    expect(c.runs()).toBe(2);
    expect(rebuilt.wasm.at(-1)).toBe(2);
  });
});

describe("the fast tier's WASI placeholders", () => {
  it('are on in the fast tier only', () => {
    expect(wasiPlaceholders()).toBe(tier === 'fast');
  });

  it('stand in for the WASI build with exactly the planned memory, and pass the artifact reader', async () => {
    const before = wasiPlaceholders();
    setWasiPlaceholders(true);
    try {
      // Not even a source: nothing is built. 70000 bytes + the static room round up to 2 pages.
      const { wasm, pages } = await buildWasiRuntime('no source', 70_000, null);
      expect(pages).toBe(2);
      const mod = new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
      expect(WebAssembly.Module.imports(mod)).toEqual([]);
      expect(WebAssembly.Module.customSections(mod, 'tinytrain-placeholder')).toHaveLength(1);
      const memory = new WebAssembly.Instance(mod).exports.memory as WebAssembly.Memory;
      expect(memory.buffer.byteLength).toBe(2 * 65536);
      expect(() => memory.grow(1)).toThrow(RangeError);
      expect(() => verifyModuleMemory(wasm, { wasmMemoryBytes: 2 * 65536 } as Manifest, 'runtime-wasi.wasm')).not.toThrow();
      expect(() => verifyModuleMemory(wasm, { wasmMemoryBytes: 3 * 65536 } as Manifest, 'runtime-wasi.wasm')).toThrow(/2 pages/);
    } finally {
      setWasiPlaceholders(before);
    }
  });
});

describe("the fast tier's SIMD placeholders (test/support/models.ts compileWithoutSimd)", () => {
  /** 2 pixels -> dense(3): the smallest model with a trained layer (its builds take a fraction of a second). */
  const tiny = (): ModelSpec => ({
    format: 'tinytrain-model@1',
    name: 'tiny',
    input: [1, 1, 2],
    inputRange: [0, 1],
    seed: 1,
    layers: [{ op: 'dense', name: 'fc', units: 3 }],
    calibration: { fc: [-2, 2] },
  });
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const written = async (a: Awaited<ReturnType<typeof compileWithoutSimd>>) => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tinytrain-simd-placeholder-')), 'art');
    dirs.push(dir);
    await writeArtifact(dir, a);
    return readArtifact(dir);
  };

  it('are off but inside compileWithoutSimd, which turns them off again, failed compile or not', async () => {
    expect(simdPlaceholdersOn()).toBe(false);
    const p = compileWithoutSimd(tiny(), { target: getTarget('stm32f746'), budgetBytes: 64 });
    expect(simdPlaceholdersOn()).toBe(false);
    await expect(p).rejects.toThrow(TinytrainError);
    expect(simdPlaceholdersOn()).toBe(false);
  });

  it("stand in for an MCU's SIMD module in the fast tier only: same memory, the scalar module's code size, and a runtime on it is refused", async () => {
    const a = await compileWithoutSimd(tiny(), { target: getTarget('stm32f746') });
    const placeholder = WebAssembly.Module.customSections(new WebAssembly.Module(a.wasmSimd as Uint8Array<ArrayBuffer>), 'tinytrain-placeholder').length === 1;
    expect(placeholder).toBe(tier === 'fast');
    expect(a.manifest.memory.breakdown.codeBytes).toBe(a.wasmScalar.length);
    const loaded = await written(a);
    expect(() => verifyModuleMemory(a.wasmSimd, a.manifest, 'runtime-simd.wasm')).not.toThrow();
    const rt = await Runtime.load(loaded, 'scalar');
    rt.setInputPixels(Uint8Array.from([200, 10]));
    expect(Number.isFinite(rt.trainStep(1, 0.01))).toBe(true);
    if (placeholder) await expect(Runtime.load(loaded, 'simd')).rejects.toThrow(/runtime-simd\.wasm lacks the exports/);
    else expect((await Runtime.load(loaded, 'simd')).predict()).toBeGreaterThanOrEqual(0);
  });
});
