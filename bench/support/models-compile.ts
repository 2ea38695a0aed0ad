/**
 * Compiling a bench model for the target: the training schemes are tried largest first
 * (every layer, the last layer only, biases only) and the first that fits the target's SRAM
 * and Flash is built and loaded; each scheme that does not fit keeps the compiler's reason.
 */
import { join } from 'node:path';
import { TinytrainError } from '../../compiler/errors.js';
import { packageRoot } from '../../compiler/codegen/build.js';
import { compile } from '../../compiler/index.js';
import type { LossKind } from '../../compiler/loss.js';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { ModelSpec } from '../../compiler/ir/model.js';
import { biasOnlyScheme, lastKScheme } from '../../compiler/scheme/parse.js';
import { fullScheme, type Scheme } from '../../compiler/scheme/scheme.js';
import { readArtifact, writeArtifact } from '../../host/artifact.js';
import { Runtime } from '../../host/runtime.js';
import { getTarget } from '../../targets/index.js';

export const TARGET = 'stm32f746';

export interface Refusal {
  error: string;
  hint?: string;
}

export type CompileResult =
  | { ok: true; target: string; scheme: string; sramPeakBytes: number; flashBytes: number; tried: { scheme: string; error: string }[] }
  | { ok: false; target: string; tried: { scheme: string; error: string }[] };

/**
 * A TinytrainError's text (what the user would read), with file paths relative to the
 * package (the results do not depend on where the checkout is); anything else is a bug and is rethrown.
 */
export const refusal = (e: unknown): Refusal => {
  if (e instanceof TinytrainError) return { error: relativePaths(e.message), ...(e.hint ? { hint: relativePaths(e.hint) } : {}) };
  throw e;
};

export function relativePaths(text: string): string {
  return text.replaceAll(`${packageRoot()}/`, '');
}

/** The training schemes tried in order, largest first: the first that fits the target is compiled. */
function schemesFor(spec: ModelSpec): Scheme[] {
  const g = buildGraph(spec);
  return [fullScheme(g), lastKScheme(g, 1), biasOnlyScheme(g)];
}

export async function compileFirstFitting(spec: ModelSpec, calibration: Float32Array[], dir: string, loss: LossKind): Promise<{ result: CompileResult; runtime?: Runtime }> {
  const tried: { scheme: string; error: string }[] = [];
  for (const scheme of schemesFor(spec)) {
    try {
      const artifact = await compile(spec, { target: getTarget(TARGET), scheme, calibration, loss });
      const out = join(dir, scheme.name.replace(/[^A-Za-z0-9_.-]+/g, '_'));
      await writeArtifact(out, artifact);
      const runtime = await Runtime.load(readArtifact(out), 'scalar');
      const mem = artifact.manifest.memory;
      return { result: { ok: true, target: TARGET, scheme: scheme.name, sramPeakBytes: mem.sramPeakBytes, flashBytes: mem.flashBytes, tried }, runtime };
    } catch (e) {
      tried.push({ scheme: scheme.name, error: refusal(e).error });
    }
  }
  return { result: { ok: false, target: TARGET, tried } };
}
