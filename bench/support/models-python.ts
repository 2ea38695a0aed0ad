/**
 * The Python scripts that make bench:models' realistic inputs (bench/support/*.py), run in
 * the venv setup-tflite.sh makes (setup-models.sh adds what they need: Pillow, espeak-ng and
 * silabs-mltk's audio frontend): a job in, a result out, both JSON.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';

const ROOT = packageRoot();
const PYTHON = join(ROOT, '.cache', 'tflite-venv', 'bin', 'python');

export function runInputScript<T>(script: string, job: object): T {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash scripts/setup-models.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-inputs-'));
  try {
    writeFileSync(join(dir, 'job.json'), JSON.stringify(job));
    execFileSync(PYTHON, [join(ROOT, 'bench', 'support', script), join(dir, 'job.json'), join(dir, 'result.json')], { timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
