/**
 * Runs the AssemblyScript compiler in a child Node process of its own.
 *
 * Why a process: asc keeps module-level state between calls (e.g. the library files a
 * --config adds, like the WASI shim's), so two builds in one module instance can
 * contaminate each other; a fresh process gives every build a fresh instance, and lets the
 * SIMD, scalar and WASI builds run in parallel. And V8 flags are per process: asc runs its
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
import { spawn } from 'node:child_process';
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

// The child: asc, then the final pass on the --outFile module, then every file back to the parent.
const CHILD_SOURCE = `
process.on('disconnect', () => process.exit(1));
process.once('message', async ({ args, ascUrl, binaryenUrl, finalPass }) => {
  const reply = (r) => process.send(r, () => process.exit(0));
  try {
    const asc = (await import(ascUrl)).default;
    const log = [];
    const files = [];
    const sink = { write: (s) => { log.push(String(s)); return true; } };
    const writeFile = (name, contents, baseDir) => { files.push({ name, baseDir, contents: typeof contents === 'string' ? Buffer.from(contents) : contents }); return true; };
    const { error } = await asc.main(args, { stdout: sink, stderr: sink, writeFile });
    if (error) return reply({ error: String(error.message || error), log: log.join(''), files: [] });
    if (finalPass) {
      const out = files.find((f) => f.name === args[args.indexOf('--outFile') + 1]);
      const binaryen = (await import(binaryenUrl)).default;
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
 * asc with these command-line arguments (which name an --outFile), then `finalPass` on the
 * module, and the output files written; throws with asc's diagnostics on failure.
 */
export function runAsc(args: string[], what: string, finalPass?: FinalPass): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--liftoff-only', '--input-type=module', '-e', CHILD_SOURCE], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    let stderr = '';
    let reply: ChildReply | undefined;
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('message', (m) => (reply = m as ChildReply));
    child.once('error', (e) => reject(new Error(`asc (${what}) could not start: ${e.message}`)));
    child.once('exit', (code, signal) => {
      if (!reply) return reject(new Error(`asc (${what}) exited without a result (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
      if (reply.error) return reject(new Error(`asc (${what}) failed: ${reply.error}\n${reply.log}`));
      try {
        for (const f of reply.files) writeOutput(f.baseDir, f.name, f.contents);
        resolve();
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
    child.send({ args, ascUrl: ASC_URL, binaryenUrl: BINARYEN_URL, finalPass });
  });
}

/** One file asc wrote, where asc's own writer puts it (its name resolved against its baseDir). */
function writeOutput(baseDir: string, name: string, contents: Uint8Array): void {
  const path = resolve(baseDir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, contents);
}
