/**
 * Decoding .onnx files: protobufjs with the ONNX project's own schema (onnx.proto beside
 * this file, vendored unmodified). Decoded messages are turned into plain objects whose
 * int64 fields are JS numbers, described by the interfaces below (only the fields the
 * importer reads; every field is optional because proto2 files may omit any of them).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { TinytrainError } from '../../errors.js';

export interface OnnxDim {
  dim_value?: number;
  dim_param?: string;
}
export interface OnnxTypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim: OnnxDim[] } };
  sequence_type?: unknown;
  optional_type?: unknown;
  map_type?: unknown;
}
export interface OnnxValueInfo {
  name?: string;
  type?: OnnxTypeProto;
}
export interface OnnxStringEntry {
  key?: string;
  value?: string;
}

export interface OnnxTensor {
  name?: string;
  dims: number[];
  data_type?: number;
  float_data: number[];
  int32_data: number[];
  int64_data: number[];
  double_data: number[];
  uint64_data: number[];
  string_data: Uint8Array[];
  raw_data?: Uint8Array;
  segment?: unknown;
  external_data: OnnxStringEntry[];
  data_location?: number;
}

export interface OnnxAttribute {
  name?: string;
  ref_attr_name?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: unknown;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  tensors: OnnxTensor[];
  graphs: unknown[];
}

export interface OnnxNode {
  input: string[];
  output: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute: OnnxAttribute[];
}

export interface OnnxGraph {
  node: OnnxNode[];
  name?: string;
  initializer: OnnxTensor[];
  sparse_initializer: unknown[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  value_info: OnnxValueInfo[];
}

export interface OnnxOpset {
  domain?: string;
  version?: number;
}

export interface OnnxModel {
  ir_version?: number;
  opset_import: OnnxOpset[];
  producer_name?: string;
  producer_version?: string;
  graph?: OnnxGraph;
  functions: unknown[];
  training_info: unknown[];
}

/** TensorProto.DataType values the importer handles (names as in onnx.proto). */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
} as const;

/** The IR version of the vendored schema (onnx.proto's `IR_VERSION`). */
export const SCHEMA_IR_VERSION = 10;

let modelType: protobuf.Type | undefined;

/** The .proto is read at run time: from the source tree, or from beside dist/. */
function protoPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'onnx.proto'), join(here, '..', '..', '..', '..', 'compiler', 'frontend', 'onnx', 'onnx.proto')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`onnx.proto not found (looked in ${candidates.join(', ')}); the tinytrain install is incomplete`);
  return found;
}

export function onnxModelType(): protobuf.Type {
  if (!modelType) {
    const { root } = protobuf.parse(readFileSync(protoPath(), 'utf8'), { keepCase: true });
    modelType = root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: Number, arrays: true, defaults: false };

/**
 * Bytes -> ModelProto as a plain object. Anything protobuf cannot decode (truncated
 * file, wrong wire types, not protobuf at all, nesting too deep) is a TinytrainError.
 */
export function decodeModel(bytes: Uint8Array, where: string): OnnxModel {
  let obj: unknown;
  try {
    const t = onnxModelType();
    obj = t.toObject(t.decode(bytes), TO_OBJECT);
  } catch (e) {
    const why = e instanceof RangeError && /call stack/i.test(e.message) ? 'nesting too deep' : (e as Error).message;
    throw new TinytrainError(
      `${where}: not a readable ONNX model (protobuf decoding failed: ${why})`,
      'the file is truncated, corrupted, or not an .onnx file; re-export it (torch.onnx.export / onnx.save)',
    );
  }
  return obj as OnnxModel;
}

/** Plain object -> .onnx bytes (tests and tools build models with this). */
export function encodeModel(model: object): Uint8Array {
  const t = onnxModelType();
  const err = t.verify(model);
  if (err) throw new Error(`invalid ModelProto: ${err}`);
  return t.encode(t.fromObject(model)).finish();
}

/** A serialised TensorProto (the test data files of the ONNX backend tests). */
export function decodeTensorProto(bytes: Uint8Array, where: string): OnnxTensor {
  try {
    const t = onnxModelType().root.lookupType('onnx.TensorProto');
    return t.toObject(t.decode(bytes), TO_OBJECT) as OnnxTensor;
  } catch (e) {
    throw new TinytrainError(`${where}: not a readable TensorProto (${(e as Error).message})`);
  }
}
