/**
 * Runs the AssemblyScript compiler in a child Node process of its own.
 *
 * Why a process: asc keeps module-level state between calls (e.g. the library files a
 * --config adds, like the WASI shim's), so a build with a config gets a fresh process and
 * instance of its own; the others may reuse a warm one (see `idle` below). Processes also
 * let the SIMD, scalar and WASI builds run in parallel. And V8 flags are per process: asc runs its
 * 15 MB binaryen module, which V8 would otherwise re-optimise (TurboFan tier-up) in every
 * build for code that runs once. `--liftoff-only` keeps V8's baseline code and gives the
 * same bytes. Measured on this machine (loaded by other jobs): a `tinytrain compile` of
 * mnist-cnn without the build cache (three builds) took 12.7 s of CPU, 10.9 s this way.
 *
 * The child never writes a file: it sends the files asc would write to this process, which
 * writes them. A child left behind by a killed compile therefore cannot write into a temp
 * folder that was cleaned up after its parent (host/io/run-temp.ts): its send fails, and it
 * exits as soon as it sees its parent gone. The final binaryen pass runs there too, for the
 * same reason: it is most of a build's binaryen work.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ASC_URL = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('assemblyscript/package.json')), 'dist', 'asc.js')).href;

const BINARYEN_URL = pathToFileURL(createRequire(import.meta.url).resolve('binaryen')).href;

/** binaryen's feature flags a module may use (binaryen.Features names). */
export type BinaryenFeature = 'MVP' | 'MutableGlobals' | 'SignExt' | 'NontrappingFPToInt' | 'BulkMemory' | 'BulkMemoryOpt' | 'SIMD128';

/**
 * The final binaryen pass over asc's module, run in the same child: validate with exactly
 * these features, optimise for speed (-O3, shrink level 1), drop names. `invalid`: the
 * error when the module does not validate.
 */
export interface FinalPass {
  features: readonly BinaryenFeature[];
  invalid: string;
}

// The child: for each message, asc, then the final pass on the --outFile module, then every
// file back to the parent. A child started for one build (`once`) exits after its reply; a
// warm one waits for the next message, and exits when its parent goes.
const CHILD_SOURCE = `
process.on('disconnect', () => process.exit(1));
let asc, binaryen;
process.on('message', async ({ args, ascUrl, binaryenUrl, finalPass, once }) => {
  const reply = (r) => process.send(r, () => { if (once) process.exit(0); });
  try {
    asc ??= (await import(ascUrl)).default;
    const log = [];
    const files = [];
    const sink = { write: (s) => { log.push(String(s)); return true; } };
    const writeFile = (name, contents, baseDir) => { files.push({ name, baseDir, contents: typeof contents === 'string' ? Buffer.from(contents) : contents }); return true; };
    const { error } = await asc.main(args, { stdout: sink, stderr: sink, writeFile });
    if (error) return reply({ error: String(error.message || error), log: log.join(''), files: [] });
    if (finalPass) {
      const out = files.find((f) => f.name === args[args.indexOf('--outFile') + 1]);
      binaryen ??= (await import(binaryenUrl)).default;
      const mod = binaryen.readBinary(out.contents);
      try {
        mod.setFeatures(finalPass.features.reduce((m, f) => m | binaryen.Features[f], 0));
        binaryen.setOptimizeLevel(3);
        binaryen.setShrinkLevel(1);
        binaryen.setDebugInfo(false);
        if (!mod.validate()) return reply({ error: finalPass.invalid, log: log.join(''), files: [] });
        mod.optimize();
        out.contents = mod.emitBinary();
      } finally {
        mod.dispose();
      }
    }
    reply({ error: null, log: log.join(''), files });
  } catch (e) {
    reply({ error: String((e && e.stack) || e), log: '', files: [] });
  }
});
`;

interface ChildReply {
  error: string | null;
  log: string;
  files: Array<{ name: string; baseDir: string; contents: Uint8Array }>;
}

/**
 * Warm children, idle between builds. Why: starting one costs about 0.85 s of CPU (asc's
 * 0.9 MB of JavaScript and two binaryen modules), a third of a build, and a process that
 * compiles several models (the test suites, the benches, a script calling compile())
 * would pay it for every module. Only builds without --config reuse a child: a config's
 * `lib` folders stay in asc's module state (see the top of this file), so the WASI build
 * gets a fresh child each time. test/build-cache.test.ts checks that a warm child's
 * modules are the bytes a fresh child gives. Idle children hold no reference on the event
 * loop, so they never keep their parent alive, and exit when it goes.
 */
const idle: ChildProcess[] = [];
/** Two: the SIMD and scalar builds of a compile run side by side. */
const MAX_IDLE = 2;

/**
 * asc with these command-line arguments (which name an --outFile), then `finalPass` on the
 * module, and the output files written; throws with asc's diagnostics on failure.
 */
export async function runAsc(args: string[], what: string, finalPass?: FinalPass): Promise<void> {
  const warm = !args.includes('--config');
  const child = (warm && idle.pop()) || startChild();
  holdsParent(child, true);
  const reply = await buildIn(child, { args, ascUrl: ASC_URL, binaryenUrl: BINARYEN_URL, finalPass, once: !warm }, what);
  // A child whose build failed is not reused: asc's state after an error is not ours to trust.
  if (warm && !reply.error && child.connected && idle.length < MAX_IDLE) {
    holdsParent(child, false);
    idle.push(child);
  } else if (warm) child.disconnect();
  if (reply.error) throw new Error(`asc (${what}) failed: ${reply.error}\n${reply.log}`);
  for (const f of reply.files) writeOutput(f.baseDir, f.name, f.contents);
}

/** Whether `child` (the process, its IPC channel and its stderr pipe) keeps this process's event loop alive. */
function holdsParent(child: ChildProcess, on: boolean): void {
  for (const handle of [child, child.channel, child.stderr] as Array<{ ref?: () => void; unref?: () => void } | null | undefined>) {
    if (on) handle?.ref?.();
    else handle?.unref?.();
  }
}

let started = 0;
/** How many asc children this process has started (for the tests of the warm ones). */
export function ascChildrenStarted(): number {
  return started;
}

/** Lets the idle children go: the next builds start fresh ones. */
export function dropWarmChildren(): void {
  for (const child of idle.splice(0)) child.disconnect();
}

function startChild(): ChildProcess {
  started++;
  const child = spawn(process.execPath, ['--liftoff-only', '--input-type=module', '-e', CHILD_SOURCE], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  stderrOf.set(child, '');
  child.stderr!.on('data', (d: Buffer) => stderrOf.set(child, (stderrOf.get(child) + d.toString()).slice(-4000)));
  child.on('exit', () => {
    const i = idle.indexOf(child);
    if (i >= 0) idle.splice(i, 1);
  });
  return child;
}

/** The end of each child's stderr, for the error when it dies without a reply. */
const stderrOf = new WeakMap<ChildProcess, string>();

/** One build in `child`: its reply, or an error if the child cannot start or dies first. */
function buildIn(child: ChildProcess, message: object, what: string): Promise<ChildReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      done();
      resolve(m as ChildReply);
    };
    const onError = (e: Error): void => {
      done();
      reject(new Error(`asc (${what}) could not start: ${e.message}`));
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`asc (${what}) exited without a result (${signal ?? `exit ${code}`}): ${stderrOf.get(child)?.trim() ?? ''}`));
    };
    const done = (): void => {
      child.off('message', onMessage);
      child.off('error', onError);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('error', onError);
    child.on('exit', onExit);
    child.send(message);
  });
}

/** One file asc wrote, where asc's own writer puts it (its name resolved against its baseDir). */
function writeOutput(baseDir: string, name: string, contents: Uint8Array): void {
  const path = resolve(baseDir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, contents);
}
