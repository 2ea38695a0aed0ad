/**
 * The profiling build of an artifact's runtime, made on demand from its runtime.ts: every
 * program step's `/*step i*\/` tag (compiler/codegen/emit.ts) becomes a call to an imported
 * `env.profileMark(i)`, so the host can time each step. Only this build imports it; the
 * artifact's own modules stay import-free (env.abort aside) and are never touched.
 */
import { TinytrainError } from '../../compiler/errors.js';
import { buildRuntime } from '../../compiler/codegen/build.js';
import type { LoadedArtifact } from '../artifact.js';
import { staticDataBase } from '../../compiler/manifest.js';

const TAG = /\/\*step (\d+)\*\//g;

const DECLARE = `// Profiling build: each program step calls the host first.
@external("env", "profileMark")
declare function profileMark(step: i32): void;
`;

/** Replaces the step tags with timing calls; checks every program step is tagged exactly once. */
export function instrumentSource(source: string, programSteps: number): string {
  const seen = new Array<number>(programSteps).fill(0);
  const body = source.replace(TAG, (_, d: string) => {
    const i = Number(d);
    if (i >= programSteps) throw new TinytrainError(`runtime.ts tags step ${i}, the program has ${programSteps} steps`, 'recompile the artifact');
    seen[i]!++;
    return `profileMark(${i});`;
  });
  const bad = seen.findIndex((n) => n !== 1);
  if (bad >= 0) {
    throw new TinytrainError(
      `runtime.ts tags program step ${bad} ${seen[bad]} times (expected once): it predates step profiling or was edited`,
      'recompile the artifact with this version of tinytrain',
    );
  }
  // After the generated header comment, before the imports: AssemblyScript takes top-level declarations anywhere.
  return DECLARE + body;
}

/** What each step's line says after its `// ` (e.g. the layers of a streamed chain), by step. */
export function stepComments(source: string, programSteps: number): string[] {
  const out = new Array<string>(programSteps).fill('');
  for (const line of source.split('\n')) {
    const m = /\/\*step (\d+)\*\/.*?\/\/ (.*)$/.exec(line);
    if (m && Number(m[1]) < programSteps) out[Number(m[1])] = m[2]!.trim();
  }
  return out;
}

export interface ProfiledBuild {
  wasm: Uint8Array;
  comments: string[];
}

/** Builds the profiling module (SIMD or scalar) with the artifact's memory map; `edit` changes the instrumented source first (the firmware's native kernels). */
export async function buildProfiledRuntime(a: LoadedArtifact, variant: 'simd' | 'scalar', edit: (source: string) => string = (s) => s): Promise<ProfiledBuild> {
  const text = a.source();
  const source = edit(instrumentSource(text, a.manifest.program.length));
  const memoryBase = staticDataBase(a.manifest);
  const { wasm } = await buildRuntime({ source, memoryBase, simd: variant === 'simd' });
  return { wasm, comments: stepComments(text, a.manifest.program.length) };
}
