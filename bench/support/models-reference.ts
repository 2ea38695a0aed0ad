/**
 * The reference each model is checked against: LiteRT's interpreter for .tflite (its
 * reference kernels, what TFLite Micro runs: test/support/tflite-interpreter.py) and
 * onnxruntime for .onnx (bench/support/models-onnxruntime.py), each in the venv its
 * setup script installs. Inputs and outputs are real values in the file's own layout.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';

const ROOT = packageRoot();
const RUNNERS = {
  tflite: { python: join(ROOT, '.cache', 'tflite-venv', 'bin', 'python'), script: join(ROOT, 'test', 'support', 'tflite-interpreter.py'), setup: 'scripts/setup-tflite.sh' },
  onnx: { python: join(ROOT, '.cache', 'onnx-venv', 'bin', 'python'), script: join(ROOT, 'bench', 'support', 'models-onnxruntime.py'), setup: 'scripts/setup-onnx.sh' },
};
const ORT_QUANTIZE = join(ROOT, 'bench', 'support', 'models-ort-quantize.py');

export interface ReferenceJob {
  format: 'onnx' | 'tflite';
  model: string;
  /** ONNX: the input's dims (batch 1), as the file's layout. */
  shape?: number[];
  inputs: number[][];
  /** The output to read, by name, for a model with several (tflite; the catalog's --model-output). */
  output?: string;
}

/** The reference's output for each input (flat, as the file stores it). */
export function runReference(job: ReferenceJob): number[][] {
  const r = RUNNERS[job.format];
  // tflite: real values in and out, whatever the edges' types (an int8 input or output is (de)quantised with its own grid).
  const spec =
    job.format === 'tflite'
      ? { model: job.model, inputs: job.inputs, real: true, ...(job.output ? { output: job.output } : {}) }
      : { model: job.model, shape: job.shape, inputs: job.inputs };
  const [result] = runScript<{ outputs: number[][] }[]>(r, r.script, [spec]);
  return result!.outputs;
}

/** `script` run by the venv's python on `job` (a JSON file in, one out, in a temporary folder), its result parsed. */
function runScript<T>(venv: { python: string; setup: string }, script: string, job: unknown): T {
  if (!existsSync(venv.python)) throw new Error(`${venv.python} is missing: run bash ${venv.setup}`);
  const dir = mkdtempSync(join(tmpdir(), 'models-reference-'));
  try {
    writeFileSync(join(dir, 'job.json'), JSON.stringify(job));
    execFileSync(venv.python, [script, join(dir, 'job.json'), join(dir, 'result.json')], { timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PeerQuantization {
  outputs: number[][];
  /** How the peer quantised the file (its tool and settings). */
  settings: string;
  onnxruntime: string;
}

/**
 * A float .onnx model quantised to int8 by onnxruntime's own post-training quantisation on
 * the same calibration inputs, run on `inputs`: what a mature PTQ tool makes of the file,
 * beside tinytrain's int8 runtime (bench/support/models-ort-quantize.py).
 */
export function runOnnxruntimeQuantized(job: { model: string; shape: number[]; calibration: number[][]; inputs: number[][] }): PeerQuantization {
  return runScript<PeerQuantization>(RUNNERS.onnx, ORT_QUANTIZE, job);
}
