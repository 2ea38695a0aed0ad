/**
 * Typed accessors for the TFLite tables the importer reads (Model, SubGraph, Tensor,
 * Buffer, Operator, OperatorCode, QuantizationParameters), over the checked reader of
 * flatbuffer.ts. Tables are decoded when first asked for (and kept), so a file whose
 * vectors claim millions of entries costs only what the importer actually touches; every
 * index is checked against its vector, and the vectors read into arrays have bounded lengths.
 */
import { LIMITS } from '../../ir/limits.js';
import { FbReader, type FbTable, type FbVector } from './flatbuffer.js';
import { BUFFER, FILE_IDENTIFIER, MODEL, OPERATOR, OPERATOR_CODE, QUANTIZATION, SUBGRAPH, TENSOR } from './schema.js';

/** Most dimensions of a tensor shape the importer reads (TFLite kernels stop at 6 or 8). */
const MAX_RANK = 16;
/** Most inputs or outputs of one operator or subgraph. */
const MAX_OPERANDS = 1024;

export interface OperatorCode {
  builtin: number;
  /** custom_code of a CUSTOM operator ('' otherwise). */
  custom: string;
  version: number;
}

export interface Quantization {
  scale: number[];
  zeroPoint: number[];
  quantizedDimension: number;
  /** Type tag of the `details` union (custom or blockwise quantisation); 0 when absent. */
  detailsType: number;
}

export interface Tensor {
  index: number;
  name: string;
  shape: number[];
  /** Declared shape with -1 for dynamic dimensions (absent in files without dynamic shapes). */
  shapeSignature: number[] | null;
  type: number;
  buffer: number;
  quant: Quantization | null;
  isVariable: boolean;
  sparse: boolean;
}

export interface Operator {
  index: number;
  code: OperatorCode;
  /** Tensor indices; -1 is an omitted optional input. */
  inputs: number[];
  outputs: number[];
  optionsType: number;
  options: FbTable | null;
  /** Set when the operator uses the second options union (StableHLO ops). */
  hasOptions2: boolean;
}

/** Whether `bytes` carry TFLite's file identifier ("TFL3" at byte 4, after the root offset). */
export function hasTfliteIdentifier(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && String.fromCharCode(...bytes.subarray(4, 8)) === FILE_IDENTIFIER;
}

function cachedAt<T>(cache: Map<number, T>, i: number, make: () => T): T {
  let v = cache.get(i);
  if (v === undefined) {
    v = make();
    cache.set(i, v);
  }
  return v;
}

export class SubGraph {
  readonly name: string;
  readonly inputs: number[];
  readonly outputs: number[];
  readonly operatorCount: number;
  readonly tensorCount: number;
  private readonly tensorVec: FbVector | null;
  private readonly operatorVec: FbVector | null;
  private readonly tensors = new Map<number, Tensor>();

  constructor(
    private readonly model: TfliteModel,
    private readonly t: FbTable,
    readonly index: number,
  ) {
    this.name = t.string(SUBGRAPH.name, `the name of subgraph ${index}`);
    this.inputs = t.int32s(SUBGRAPH.inputs, `the inputs of subgraph ${index}`, MAX_OPERANDS) ?? [];
    this.outputs = t.int32s(SUBGRAPH.outputs, `the outputs of subgraph ${index}`, MAX_OPERANDS) ?? [];
    this.tensorVec = t.vector(SUBGRAPH.tensors, 4, `the tensors of subgraph ${index}`);
    this.operatorVec = t.vector(SUBGRAPH.operators, 4, `the operators of subgraph ${index}`);
    this.tensorCount = this.tensorVec?.length ?? 0;
    this.operatorCount = this.operatorVec?.length ?? 0;
  }

  tensor(i: number): Tensor {
    if (!(Number.isInteger(i) && i >= 0 && i < this.tensorCount)) this.model.r.fail(`tensor index ${i} is outside the ${this.tensorCount} tensors of subgraph ${this.index}`);
    return cachedAt(this.tensors, i, () => readTensor(this.t.tableAt(this.tensorVec!, i, `tensor ${i}`), i));
  }

  operator(i: number): Operator {
    const what = `operator #${i}`;
    const t = this.t.tableAt(this.operatorVec!, i, what);
    const opcodeIndex = t.uint32(OPERATOR.opcodeIndex);
    return {
      index: i,
      code: this.model.operatorCode(opcodeIndex, what),
      inputs: t.int32s(OPERATOR.inputs, `the inputs of ${what}`, MAX_OPERANDS) ?? [],
      outputs: t.int32s(OPERATOR.outputs, `the outputs of ${what}`, MAX_OPERANDS) ?? [],
      optionsType: t.uint8(OPERATOR.builtinOptionsType),
      options: t.subtable(OPERATOR.builtinOptions, `the options of ${what}`),
      hasOptions2: t.uint8(OPERATOR.builtinOptions2Type) !== 0,
    };
  }
}

function readQuantization(t: FbTable, what: string): Quantization {
  return {
    scale: t.float32s(QUANTIZATION.scale, `the scales of ${what}`, LIMITS.maxChannels) ?? [],
    zeroPoint: t.int64s(QUANTIZATION.zeroPoint, `the zero points of ${what}`, LIMITS.maxChannels) ?? [],
    quantizedDimension: t.int32(QUANTIZATION.quantizedDimension),
    detailsType: t.uint8(QUANTIZATION.detailsType),
  };
}

function readTensor(t: FbTable, index: number): Tensor {
  const what = `tensor ${index}`;
  const q = t.subtable(TENSOR.quantization, `the quantization of ${what}`);
  return {
    index,
    name: t.string(TENSOR.name, `the name of ${what}`),
    shape: t.int32s(TENSOR.shape, `the shape of ${what}`, MAX_RANK) ?? [],
    shapeSignature: t.int32s(TENSOR.shapeSignature, `the shape signature of ${what}`, MAX_RANK),
    type: t.int8(TENSOR.type),
    buffer: t.uint32(TENSOR.buffer),
    quant: q ? readQuantization(q, what) : null,
    isVariable: t.bool(TENSOR.isVariable),
    sparse: t.has(TENSOR.sparsity),
  };
}

export class TfliteModel {
  readonly r: FbReader;
  readonly version: number;
  readonly description: string;
  readonly subgraphCount: number;
  private readonly root: FbTable;
  private readonly codeVec: FbVector | null;
  private readonly subgraphVec: FbVector | null;
  private readonly bufferVec: FbVector | null;
  private readonly codes = new Map<number, OperatorCode>();

  constructor(bytes: Uint8Array, where: string) {
    this.r = new FbReader(bytes, where);
    if (!hasTfliteIdentifier(bytes)) {
      this.r.fail(bytes.length < 8 ? `${bytes.length} bytes is too short for a TFLite model` : `no TFLite file identifier ("${FILE_IDENTIFIER}" at byte 4)`);
    }
    this.root = this.r.root('the model table');
    this.version = this.root.uint32(MODEL.version);
    this.description = this.root.string(MODEL.description, 'the model description');
    this.codeVec = this.root.vector(MODEL.operatorCodes, 4, 'the operator codes');
    this.subgraphVec = this.root.vector(MODEL.subgraphs, 4, 'the subgraphs');
    this.bufferVec = this.root.vector(MODEL.buffers, 4, 'the buffers');
    this.subgraphCount = this.subgraphVec?.length ?? 0;
  }

  subgraph(i: number): SubGraph {
    if (!this.subgraphVec || i >= this.subgraphCount) this.r.fail(`the model has no subgraph ${i}`);
    return new SubGraph(this, this.root.tableAt(this.subgraphVec, i, `subgraph ${i}`), i);
  }

  operatorCode(i: number, user: string): OperatorCode {
    const n = this.codeVec?.length ?? 0;
    if (i >= n) this.r.fail(`${user} uses operator code ${i}, but the model has ${n}`);
    return cachedAt(this.codes, i, () => {
      const t = this.root.tableAt(this.codeVec!, i, `operator code ${i}`);
      const deprecated = t.int8(OPERATOR_CODE.deprecatedBuiltinCode);
      return {
        builtin: Math.max(deprecated, t.int32(OPERATOR_CODE.builtinCode)),
        custom: t.string(OPERATOR_CODE.customCode, `the custom code of operator code ${i}`),
        version: t.int32(OPERATOR_CODE.version, 1),
      };
    });
  }

  /** The bytes of buffer `i` (a view of the file): inside the flatbuffer, or at (offset, size) after it. */
  bufferData(i: number, user: string): Uint8Array {
    const n = this.bufferVec?.length ?? 0;
    if (i >= n) this.r.fail(`${user} refers to buffer ${i}, but the model has ${n}`);
    const t = this.root.tableAt(this.bufferVec!, i, `buffer ${i}`);
    const offset = t.uint64(BUFFER.offset);
    if (offset > 1) {
      const size = t.uint64(BUFFER.size);
      this.r.check(offset, size, `the data of buffer ${i}`);
      return this.r.bytes.subarray(offset, offset + size);
    }
    return t.bytes(BUFFER.data, `the data of buffer ${i}`) ?? new Uint8Array(0);
  }
}
