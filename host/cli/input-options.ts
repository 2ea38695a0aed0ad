/**
 * --input-shape, --input-range and --input-norm: what an imported model's file does not
 * say about its input. The range is the real value a 0 and a 255 pixel stand for; it is
 * stored in the manifest (inputs[0].range) and every host maps pixels through it
 * (host/runtime.ts inputLut), so a model trained on normalised data gets normalised data
 * on every engine.
 */
import { TinytrainError } from '../../compiler/errors.js';
import type { LoadModelOptions } from '../../compiler/frontend/index.js';

export interface InputCliOptions {
  inputShape?: string;
  modelOutput?: string;
  inputRange?: string;
  inputNorm?: string;
}

function numbers(flag: string, text: string, count: number | undefined, example: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const vals = parts.map(Number);
  if ((count !== undefined && parts.length !== count) || parts.some((p) => p === '') || vals.some((v) => !Number.isFinite(v))) {
    throw new TinytrainError(`${flag} '${text}': expected ${count ?? 'a list of'} comma-separated numbers`, `e.g. ${flag} ${example}`);
  }
  return vals;
}

export function inputOptions(o: InputCliOptions): Pick<LoadModelOptions, 'inputRange' | 'inputShape' | 'output'> {
  if (o.inputRange !== undefined && o.inputNorm !== undefined) {
    throw new TinytrainError('--input-range and --input-norm both say what the input values are', 'give one: --input-range LO,HI, or --input-norm MEAN,STD');
  }
  const out: Pick<LoadModelOptions, 'inputRange' | 'inputShape' | 'output'> = {};
  if (o.modelOutput !== undefined) out.output = o.modelOutput;
  if (o.inputShape !== undefined) {
    const dims = numbers('--input-shape', o.inputShape, undefined, '1,3,96,96');
    if (dims.length < 2 || dims.length > 4 || dims.some((d) => !Number.isSafeInteger(d) || d < 1)) {
      throw new TinytrainError(`--input-shape '${o.inputShape}': expected 2 to 4 positive integers, in the model file's order`, 'e.g. --input-shape 1,3,96,96 (ONNX: N,C,H,W)');
    }
    out.inputShape = dims;
  }
  if (o.inputRange !== undefined) {
    const [lo, hi] = numbers('--input-range', o.inputRange, 2, '0,1') as [number, number];
    if (!(lo < hi)) throw new TinytrainError(`--input-range '${o.inputRange}': expected LO < HI`, 'e.g. --input-range -1,1');
    out.inputRange = [lo, hi];
  }
  if (o.inputNorm !== undefined) {
    // The model was trained on (x - mean) / std with x = pixel / 255 in [0, 1].
    const [mean, std] = numbers('--input-norm', o.inputNorm, 2, '0.5,0.5') as [number, number];
    if (!(std > 0)) throw new TinytrainError(`--input-norm '${o.inputNorm}': the standard deviation must be positive`, 'e.g. --input-norm 0.1307,0.3081 (MNIST)');
    out.inputRange = [(0 - mean) / std, (1 - mean) / std];
  }
  return out;
}
