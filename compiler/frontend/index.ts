/**
 * Model files: tinytrain JSON (examples/*.json, what `pretrain` writes), ONNX or TFLite.
 * The extension decides (.json / .onnx / .tflite); any other name is sniffed: a file with
 * TFLite's identifier "TFL3" at byte 4 is TFLite, one whose first non-blank byte is '{' is
 * JSON, anything else is tried as ONNX.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { TinytrainError } from '../errors.js';
import { buildGraph } from '../ir/graph.js';
import { LIMITS } from '../ir/limits.js';
import type { ModelSpec } from '../ir/model.js';
import { importOnnx, type OnnxImportOptions } from './onnx/index.js';
import { hasTfliteIdentifier, importTflite } from './tflite/index.js';

export interface LoadModelOptions extends Pick<OnnxImportOptions, 'inputRange' | 'inputShape' | 'output'> {
  /** Called with each way the imported int8 maths will differ from the file's (ONNX QDQ and TFLite int8 models). */
  warn?: (message: string) => void;
}

function looksLikeJson(bytes: Uint8Array): boolean {
  for (const b of bytes.subarray(0, 64)) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0xef || b === 0xbb || b === 0xbf) continue; // blanks, UTF-8 BOM
    return b === 0x7b; // '{'
  }
  return false;
}

type Format = 'json' | 'onnx' | 'tflite';

function formatOf(ext: string, bytes: Uint8Array): Format {
  if (ext === '.json' || ext === '.onnx' || ext === '.tflite') return ext.slice(1) as Format;
  if (hasTfliteIdentifier(bytes)) return 'tflite';
  return looksLikeJson(bytes) ? 'json' : 'onnx';
}

export function loadModelFile(path: string, opts: LoadModelOptions = {}): ModelSpec {
  if (!existsSync(path)) throw new TinytrainError(`model file ${path} does not exist`, 'see examples/ for model files');
  const stat = statSync(path);
  if (stat.isDirectory()) throw new TinytrainError(`model file ${path} is a directory`, 'give a .json, .onnx or .tflite model file');
  if (stat.size > LIMITS.maxModelFileBytes) {
    throw new TinytrainError(`model file ${path}: ${stat.size} bytes, more than the limit of ${LIMITS.maxModelFileBytes}`, 'is this a model file?');
  }
  const bytes = readFileSync(path);
  const format = formatOf(extname(path).toLowerCase(), bytes);
  if (format === 'tflite' && opts.inputShape) {
    throw new TinytrainError(
      `--input-shape: TFLite model ${path} fixes its input shape`,
      'leave --input-shape out for .tflite models (it pins the dynamic dimensions of ONNX models)',
    );
  }
  if (format === 'json' && opts.output !== undefined) {
    throw new TinytrainError(
      `--model-output: model file ${path} is tinytrain JSON, which has one output`,
      '--model-output chooses among the outputs of an imported ONNX or TFLite model',
    );
  }
  if (format === 'json' && (opts.inputShape || opts.inputRange)) {
    throw new TinytrainError(
      `${opts.inputShape ? '--input-shape' : '--input-range/--input-norm'}: model file ${path} is tinytrain JSON, which states its input itself`,
      'edit its "input" ([H, W, C]) or "inputRange" ([min, max]); these options are for imported ONNX and TFLite models',
    );
  }
  if (format !== 'json') {
    const importOpts = {
      name: basename(path, extname(path)),
      ...(opts.inputRange ? { inputRange: opts.inputRange } : {}),
      ...(opts.inputShape ? { inputShape: opts.inputShape } : {}),
      ...(opts.output !== undefined ? { output: opts.output } : {}),
    };
    const r = format === 'tflite' ? importTflite(bytes, importOpts, `TFLite model ${path}`) : importOnnx(bytes, importOpts, `ONNX model ${path}`);
    for (const w of r.warnings) opts.warn?.(`warning: ${w}`);
    return r.spec;
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new TinytrainError(`model file ${path}: not valid JSON (${(e as Error).message})`, 'fix the file; see examples/mnist-cnn.json for the format');
  }
  // Checked here (schema, shapes, params) so the error names the file; the ONNX importer checks its own output.
  try {
    buildGraph(json as ModelSpec);
  } catch (e) {
    if (e instanceof TinytrainError) throw new TinytrainError(`model file ${path}: ${e.message}`, e.hint);
    throw e;
  }
  return json as ModelSpec;
}
