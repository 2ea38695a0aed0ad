/** What every command shares: reading a model file, printing results, option parsing. */
import { accessSync, constants, statSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { TinytrainError } from '../../compiler/errors.js';
import type { ModelSpec } from '../../compiler/ir/model.js';
import { loadModelFile, type LoadModelOptions } from '../../compiler/frontend/index.js';

export function readModelFile(path: string, input: Pick<LoadModelOptions, 'inputRange' | 'inputShape' | 'output'> = {}): ModelSpec {
  // The loader reports a missing file or a folder itself; a device or fifo (/dev/zero)
  // would be read forever, and an unreadable file would surface as a raw EACCES.
  let st;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  if (st && !st.isFile() && !st.isDirectory()) throw new TinytrainError(`model file ${path} is not a regular file`, 'give a .json, .onnx or .tflite model file');
  if (st?.isFile()) {
    try {
      accessSync(path, constants.R_OK);
    } catch (e) {
      throw new TinytrainError(`model file ${path}: cannot read it (${(e as Error).message})`, 'check its permissions');
    }
  }
  return loadModelFile(path, { ...input, warn: note }); // .json, .onnx or .tflite (compiler/frontend)
}

/** One JSON object on stdout (for --json), or human text. */
export function emit(json: boolean, result: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(result, null, 2) + '\n' : text() + '\n');
}

/** Progress and notes go to stderr so stdout stays machine-readable. */
export function note(msg: string): void {
  if (!process.env.TINYTRAIN_QUIET) process.stderr.write(msg + '\n');
}

export function intOption(name: string, min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}'`);
    }
    return n;
  };
}

export function floatOption(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got '${v}'`);
    }
    return n;
  };
}

export const kb = (b: number): string => `${(b / 1024).toFixed(1)} KB`;
export const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
