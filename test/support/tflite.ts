/**
 * Helpers of the TFLite tests: writing .tflite files from TS with the `flatbuffers`
 * builder (field ids from compiler/frontend/tflite/schema.ts, the importer's own record of
 * TFLite's schema.fbs: a wrong id there would make these files unreadable to LiteRT, which
 * the interpreter tests would show), and running LiteRT's interpreter
 * (test/support/tflite-interpreter.py) in the venv scripts/setup-tflite.sh installs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Builder } from 'flatbuffers';
import { BUFFER, FILE_IDENTIFIER, MODEL, OPERATOR, OPERATOR_CODE, QUANTIZATION, SCHEMA_VERSION, SUBGRAPH, TENSOR, TensorType } from '../../compiler/frontend/tflite/schema.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TFLITE_PYTHON = join(ROOT, '.cache', 'tflite-venv', 'bin', 'python');
export const TFLITE_MODELS = join(ROOT, '.cache', 'tflite-models');

export interface QuantDef {
  scale: number[];
  zeroPoint: number[];
  dim?: number;
}

export interface TensorDef {
  name: string;
  shape: number[];
  type: number;
  /** Constant data (little-endian, in `type`); none for activations. */
  data?: Uint8Array;
  quant?: QuantDef;
  shapeSignature?: number[];
}

/** One options field: [field id, type, value]. */
export type Field = [number, 'int8' | 'int32' | 'bool' | 'float32', number | boolean];

export interface OpDef {
  code: number;
  inputs: number[];
  outputs: number[];
  optionsType?: number;
  options?: Field[];
  custom?: string;
  /** Write only deprecated_builtin_code (as files from before builtin_code existed). */
  legacyCode?: boolean;
}

export interface ModelDef {
  tensors: TensorDef[];
  ops: OpDef[];
  inputs: number[];
  outputs: number[];
  version?: number;
  /** Empty subgraphs appended after the main one. */
  extraSubgraphs?: number;
  description?: string;
}

function int32Vector(b: Builder, v: number[]): number {
  b.startVector(4, v.length, 4);
  for (let i = v.length - 1; i >= 0; i--) b.addInt32(v[i]!);
  return b.endVector();
}

function offsetVector(b: Builder, v: number[]): number {
  b.startVector(4, v.length, 4);
  for (let i = v.length - 1; i >= 0; i--) b.addOffset(v[i]!);
  return b.endVector();
}

function quantTable(b: Builder, q: QuantDef): number {
  b.startVector(4, q.scale.length, 4);
  for (let i = q.scale.length - 1; i >= 0; i--) b.addFloat32(q.scale[i]!);
  const scale = b.endVector();
  b.startVector(8, q.zeroPoint.length, 8);
  for (let i = q.zeroPoint.length - 1; i >= 0; i--) b.addInt64(BigInt(q.zeroPoint[i]!));
  const zp = b.endVector();
  b.startObject(7);
  b.addFieldOffset(QUANTIZATION.scale, scale, 0);
  b.addFieldOffset(QUANTIZATION.zeroPoint, zp, 0);
  b.addFieldInt32(QUANTIZATION.quantizedDimension, q.dim ?? 0, null);
  return b.endObject();
}

function tensorTable(b: Builder, t: TensorDef, buffer: number): number {
  const name = b.createString(t.name);
  const shape = int32Vector(b, t.shape);
  const sig = t.shapeSignature ? int32Vector(b, t.shapeSignature) : 0;
  const q = t.quant ? quantTable(b, t.quant) : 0;
  b.startObject(8);
  b.addFieldOffset(TENSOR.shape, shape, 0);
  b.addFieldInt8(TENSOR.type, t.type, null);
  b.addFieldInt32(TENSOR.buffer, buffer, null);
  b.addFieldOffset(TENSOR.name, name, 0);
  if (q) b.addFieldOffset(TENSOR.quantization, q, 0);
  if (sig) b.addFieldOffset(TENSOR.shapeSignature, sig, 0);
  return b.endObject();
}

function optionsTable(b: Builder, fields: Field[]): number {
  b.startObject(Math.max(0, ...fields.map((f) => f[0] + 1)));
  for (const [id, kind, v] of fields) {
    if (kind === 'int8') b.addFieldInt8(id, Number(v), null);
    else if (kind === 'int32') b.addFieldInt32(id, Number(v), null);
    else if (kind === 'bool') b.addFieldInt8(id, v ? 1 : 0, null);
    else b.addFieldFloat32(id, Number(v), null);
  }
  return b.endObject();
}

const codeKey = (op: OpDef): string => `${op.code}/${op.custom ?? ''}/${op.legacyCode ? 'legacy' : ''}`;

function operatorCodes(b: Builder, ops: OpDef[]): { table: number; index: Map<string, number> } {
  const index = new Map<string, number>();
  const tables: number[] = [];
  for (const op of ops) {
    const key = codeKey(op);
    if (index.has(key)) continue;
    index.set(key, tables.length);
    const custom = op.custom ? b.createString(op.custom) : 0;
    b.startObject(4);
    b.addFieldInt8(OPERATOR_CODE.deprecatedBuiltinCode, Math.min(op.code, 127), null);
    if (custom) b.addFieldOffset(OPERATOR_CODE.customCode, custom, 0);
    b.addFieldInt32(OPERATOR_CODE.version, 1, null);
    if (!op.legacyCode) b.addFieldInt32(OPERATOR_CODE.builtinCode, op.code, null);
    tables.push(b.endObject());
  }
  return { table: offsetVector(b, tables), index };
}

function subgraphTable(b: Builder, m: ModelDef, codeIndex: Map<string, number>, bufferOf: (i: number) => number): number {
  const tensors = offsetVector(
    b,
    m.tensors.map((t, i) => tensorTable(b, t, bufferOf(i))),
  );
  const ops = m.ops.map((op) => {
    const inputs = int32Vector(b, op.inputs);
    const outputs = int32Vector(b, op.outputs);
    const options = op.options ? optionsTable(b, op.options) : 0;
    b.startObject(5);
    b.addFieldInt32(OPERATOR.opcodeIndex, codeIndex.get(codeKey(op))!, null);
    b.addFieldOffset(OPERATOR.inputs, inputs, 0);
    b.addFieldOffset(OPERATOR.outputs, outputs, 0);
    if (options) {
      b.addFieldInt8(OPERATOR.builtinOptionsType, op.optionsType ?? 0, null);
      b.addFieldOffset(OPERATOR.builtinOptions, options, 0);
    }
    return b.endObject();
  });
  const operators = offsetVector(b, ops);
  const inputs = int32Vector(b, m.inputs);
  const outputs = int32Vector(b, m.outputs);
  const name = b.createString('main');
  b.startObject(5);
  b.addFieldOffset(SUBGRAPH.tensors, tensors, 0);
  b.addFieldOffset(SUBGRAPH.inputs, inputs, 0);
  b.addFieldOffset(SUBGRAPH.outputs, outputs, 0);
  b.addFieldOffset(SUBGRAPH.operators, operators, 0);
  b.addFieldOffset(SUBGRAPH.name, name, 0);
  return b.endObject();
}

function emptySubgraph(b: Builder): number {
  const tensors = offsetVector(b, []);
  const operators = offsetVector(b, []);
  b.startObject(4);
  b.addFieldOffset(SUBGRAPH.tensors, tensors, 0);
  b.addFieldOffset(SUBGRAPH.operators, operators, 0);
  return b.endObject();
}

/**
 * The Buffer tables: buffer 0 empty (as the converter writes it), then one per constant
 * tensor, holding its data, or (`external`, given each one's place in the file) the
 * offset/size of data stored after the flatbuffer, as converters do for models over 2 GB.
 */
function bufferTables(b: Builder, m: ModelDef, external: number[] | null): { tables: number[]; index: Map<number, number> } {
  const index = new Map<number, number>();
  b.startObject(1);
  const tables = [b.endObject()];
  m.tensors.forEach((t, i) => {
    if (!t.data) return;
    index.set(i, tables.length);
    if (external) {
      b.startObject(3);
      b.addFieldInt64(BUFFER.offset, BigInt(external[tables.length - 1]!), null);
      b.addFieldInt64(BUFFER.size, BigInt(t.data.length), null);
    } else {
      b.startVector(1, t.data.length, 16);
      for (let k = t.data.length - 1; k >= 0; k--) b.addInt8(t.data[k]!);
      const data = b.endVector();
      b.startObject(1);
      b.addFieldOffset(BUFFER.data, data, 0);
    }
    tables.push(b.endObject());
  });
  return { tables, index };
}

function encodeFlatbuffer(m: ModelDef, external: number[] | null): Uint8Array {
  const b = new Builder(1024);
  const buffers = bufferTables(b, m, external);
  const codes = operatorCodes(b, m.ops);
  const main = subgraphTable(b, m, codes.index, (i) => buffers.index.get(i) ?? 0);
  const extra = Array.from({ length: m.extraSubgraphs ?? 0 }, () => emptySubgraph(b));
  const subgraphs = offsetVector(b, [main, ...extra]);
  const bufferVec = offsetVector(b, buffers.tables);
  const description = b.createString(m.description ?? 'tinytrain test');
  b.startObject(5);
  b.addFieldInt32(MODEL.version, m.version ?? SCHEMA_VERSION, null);
  b.addFieldOffset(MODEL.operatorCodes, codes.table, 0);
  b.addFieldOffset(MODEL.subgraphs, subgraphs, 0);
  b.addFieldOffset(MODEL.description, description, 0);
  b.addFieldOffset(MODEL.buffers, bufferVec, 0);
  b.finish(b.endObject(), FILE_IDENTIFIER);
  return b.asUint8Array().slice();
}

/** A .tflite file; with `externalData`, the constants' bytes follow the flatbuffer (16-byte aligned). */
export function encodeTflite(m: ModelDef, externalData = false): Uint8Array {
  if (!externalData) return encodeFlatbuffer(m, null);
  const blobs = m.tensors.filter((t) => t.data).map((t) => t.data!);
  // The offsets' values do not change the flatbuffer's size (uint64 fields): lay it out once to know where the data starts.
  const size = encodeFlatbuffer(
    m,
    blobs.map(() => 0),
  ).length;
  const offsets: number[] = [];
  let end = size;
  for (const d of blobs) {
    end = Math.ceil(end / 16) * 16;
    offsets.push(end);
    end += d.length;
  }
  const file = new Uint8Array(end);
  file.set(encodeFlatbuffer(m, offsets));
  blobs.forEach((d, i) => file.set(d, offsets[i]!));
  return file;
}

// ---------------------------------------------------------------------------------------
// Constant data

export function f32Bytes(v: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(v).buffer);
}
export function i32Bytes(v: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Int32Array.from(v).buffer);
}
export function i8Bytes(v: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Int8Array.from(v).buffer);
}
export const { FLOAT32, INT8, INT32, UINT8, FLOAT16, INT16 } = TensorType;

// ---------------------------------------------------------------------------------------
// The interpreter

export interface InterpreterJob {
  model: string;
  inputs: number[][];
  tensors?: string[];
  ranges?: boolean;
  resolver?: 'reference' | 'builtin' | 'micro';
}

export interface InterpreterResult {
  outputs: number[][];
  output_quant: [number, number];
  tensors: Record<string, { values: number[][]; quant: [number, number] }>;
  ranges?: Record<string, [number, number]>;
}

/** The venv's python, or a failure that says how to install it (these tests do not skip). */
export function tflitePython(): string {
  if (!existsSync(TFLITE_PYTHON)) {
    throw new Error(`${TFLITE_PYTHON} is missing: run \`bash scripts/setup-tflite.sh\` (installs ai-edge-litert from PyPI into .cache/tflite-venv)`);
  }
  return TFLITE_PYTHON;
}

/** Runs every job in one interpreter process (its start-up costs about a second). */
export function runInterpreter(jobs: InterpreterJob[]): InterpreterResult[] {
  const dir = mkdtempSync(join(tmpdir(), 'tflite-interp-'));
  try {
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
    execFileSync(tflitePython(), [join(ROOT, 'test', 'support', 'tflite-interpreter.py'), join(dir, 'jobs.json'), join(dir, 'results.json')], {
      encoding: 'utf8',
      timeout: 300_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as InterpreterResult[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
