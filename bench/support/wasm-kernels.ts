/**
 * Builds and loads AssemblyScript kernel modules for benchmarks: the kernel library
 * (assembly/testing/kernels.ts) as SIMD or scalar module, optionally from an older commit
 * (extracted with `git archive` into a temp dir) so a benchmark can measure the kernels
 * before and after a change on the same machine in the same run. Same asc options as the
 * test harness (test/support/kernel-module.ts), which bench/ cannot import (tsc compiles
 * bench/, not test/).
 */
import asc from 'assemblyscript/asc';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';

/** 64 pages = 4 MiB, fixed: enough for the largest benchmark shape. */
const PAGES = 64;

/** asc keeps global state, so builds run one at a time. */
let queue: Promise<unknown> = Promise.resolve();

export function compileAsModule(entry: string, simd: boolean): Promise<Uint8Array<ArrayBuffer>> {
  const job = queue.then(() => compileNow(resolve(entry), simd));
  queue = job.catch(() => undefined);
  return job;
}

async function compileNow(entry: string, simd: boolean): Promise<Uint8Array<ArrayBuffer>> {
  const dir = mkdtempSync(join(tmpdir(), 'tinytrain-bench-asc-'));
  try {
    const outFile = join(dir, 'out.wasm');
    let log = '';
    const sink = {
      write(chunk: string | Uint8Array): boolean {
        log += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
        return true;
      },
    };
    const { error } = await asc.main(
      [entry, '--outFile', outFile, '--runtime', 'stub', '-O3', '--initialMemory', String(PAGES), '--maximumMemory', String(PAGES), ...(simd ? ['--enable', 'simd'] : [])],
      { stdout: sink, stderr: sink },
    );
    if (error) throw new Error(`asc failed on ${entry}: ${error.message}\n${log}`);
    return Uint8Array.from(readFileSync(outFile));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A loaded module: its exports and a bump allocator above its static data. */
export class WasmKernels {
  private top = 1 << 16;
  constructor(
    readonly exports: Record<string, (...args: number[]) => number>,
    readonly memory: WebAssembly.Memory,
  ) {}

  /** 64-byte aligned block (cache-line aligned, as runtimes' arenas are not guaranteed to be). */
  alloc(bytes: number): number {
    const p = this.top;
    this.top = Math.ceil((p + Math.max(bytes, 1)) / 64) * 64;
    if (this.top > this.memory.buffer.byteLength) throw new Error(`benchmark heap exhausted (${this.top} B)`);
    return p;
  }
  reset(): void {
    this.top = 1 << 16;
  }
  fn(name: string): (...args: number[]) => number {
    const f = this.exports[name];
    if (typeof f !== 'function') throw new Error(`module lacks export ${name}`);
    return f;
  }
}

export async function instantiateKernels(bytes: Uint8Array<ArrayBuffer>): Promise<WasmKernels> {
  const { instance } = await WebAssembly.instantiate(bytes, {
    env: {
      abort(): never {
        throw new Error('kernel abort');
      },
    },
  });
  const ex = instance.exports as Record<string, unknown>;
  return new WasmKernels(ex as Record<string, (...args: number[]) => number>, ex.memory as WebAssembly.Memory);
}

/** The kernel library of the working tree. */
export function currentKernelsEntry(): string {
  return join(packageRoot(), 'assembly', 'testing', 'kernels.ts');
}

/**
 * Extracts assembly/ of git revision `rev` into a temp dir and returns its kernel entry
 * and a cleanup function, or null when git or the revision is not available (e.g. an
 * installed package).
 */
export function kernelsAtRevision(rev: string): { entry: string; cleanup(): void } | null {
  const root = packageRoot();
  const dir = mkdtempSync(join(tmpdir(), 'tinytrain-bench-rev-'));
  try {
    const tar = execFileSync('git', ['-C', root, 'archive', '--format=tar', rev, 'assembly'], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return { entry: join(dir, 'assembly', 'testing', 'kernels.ts'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
