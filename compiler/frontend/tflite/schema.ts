/**
 * The parts of TFLite's published schema (tensorflow/lite/schema/schema.fbs, file
 * identifier "TFL3", schema version 3) that the importer reads: the field ids of each
 * table (a field's id is its position in the table's declaration; a union takes two ids,
 * its type then its value) and the enum values, written out by hand as facts of the
 * format. Only these fields are read; every other field is ignored.
 */

export const FILE_IDENTIFIER = 'TFL3';
export const SCHEMA_VERSION = 3;

export const MODEL = { version: 0, operatorCodes: 1, subgraphs: 2, description: 3, buffers: 4 } as const;
export const SUBGRAPH = { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4 } as const;
export const TENSOR = { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4, isVariable: 5, sparsity: 6, shapeSignature: 7 } as const;
/** data: [ubyte]; offset/size (uint64): the data lives outside the flatbuffer, at that place in the file (models over 2 GB). */
export const BUFFER = { data: 0, offset: 1, size: 2 } as const;
export const OPERATOR = { opcodeIndex: 0, inputs: 1, outputs: 2, builtinOptionsType: 3, builtinOptions: 4, customOptions: 5, builtinOptions2Type: 11 } as const;
/** deprecated_builtin_code is an int8 (codes up to 127); the builtin code is the larger of the two. */
export const OPERATOR_CODE = { deprecatedBuiltinCode: 0, customCode: 1, version: 2, builtinCode: 3 } as const;
export const QUANTIZATION = { min: 0, max: 1, scale: 2, zeroPoint: 3, detailsType: 4, details: 5, quantizedDimension: 6 } as const;

export const CONV_2D_OPTIONS = { padding: 0, strideW: 1, strideH: 2, fusedActivation: 3, dilationW: 4, dilationH: 5 } as const;
export const DEPTHWISE_CONV_2D_OPTIONS = { padding: 0, strideW: 1, strideH: 2, depthMultiplier: 3, fusedActivation: 4, dilationW: 5, dilationH: 6 } as const;
export const POOL_2D_OPTIONS = { padding: 0, strideW: 1, strideH: 2, filterWidth: 3, filterHeight: 4, fusedActivation: 5 } as const;
export const FULLY_CONNECTED_OPTIONS = { fusedActivation: 0, weightsFormat: 1, keepNumDims: 2 } as const;
export const ADD_OPTIONS = { fusedActivation: 0 } as const;
export const MUL_OPTIONS = { fusedActivation: 0 } as const;
export const CONCATENATION_OPTIONS = { axis: 0, fusedActivation: 1 } as const;
export const SOFTMAX_OPTIONS = { beta: 0 } as const;
export const LEAKY_RELU_OPTIONS = { alpha: 0 } as const;
export const REDUCER_OPTIONS = { keepDims: 0 } as const;

/** enum TensorType. */
export const TensorType = {
  FLOAT32: 0,
  FLOAT16: 1,
  INT32: 2,
  UINT8: 3,
  INT64: 4,
  STRING: 5,
  BOOL: 6,
  INT16: 7,
  COMPLEX64: 8,
  INT8: 9,
  FLOAT64: 10,
  COMPLEX128: 11,
  UINT64: 12,
  RESOURCE: 13,
  VARIANT: 14,
  UINT32: 15,
  UINT16: 16,
  INT4: 17,
  BFLOAT16: 18,
  INT2: 19,
  UINT4: 20,
  FLOAT8_E4M3FN: 21,
  FLOAT8_E5M2: 22,
} as const;

const TENSOR_TYPE_NAMES = Object.fromEntries(Object.entries(TensorType).map(([k, v]) => [v, k])) as Record<number, string>;

export function tensorTypeName(t: number): string {
  return TENSOR_TYPE_NAMES[t] ?? `type ${t}`;
}

/** Bytes per element of the types whose data the importer reads. */
export const TYPE_BYTES: Partial<Record<number, number>> = {
  [TensorType.FLOAT32]: 4,
  [TensorType.FLOAT16]: 2,
  [TensorType.INT32]: 4,
  [TensorType.UINT8]: 1,
  [TensorType.INT64]: 8,
  [TensorType.INT8]: 1,
};

/** union BuiltinOptions: the type tag of each options table the importer reads. */
export const BuiltinOptions = {
  NONE: 0,
  Conv2DOptions: 1,
  DepthwiseConv2DOptions: 2,
  Pool2DOptions: 5,
  FullyConnectedOptions: 8,
  SoftmaxOptions: 9,
  ConcatenationOptions: 10,
  AddOptions: 11,
  ReshapeOptions: 17,
  MulOptions: 21,
  ReducerOptions: 27,
  SqueezeOptions: 30,
  DequantizeOptions: 38,
  LeakyReluOptions: 75,
  QuantizeOptions: 89,
} as const;

/** enum BuiltinOperator: the operators the importer maps (all names: operator-names.ts). */
export const Op = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  LOGISTIC: 14,
  MAX_POOL_2D: 17,
  MUL: 18,
  RELU: 19,
  RELU6: 21,
  RESHAPE: 22,
  SOFTMAX: 25,
  PAD: 34,
  CUSTOM: 32,
  MEAN: 40,
  SQUEEZE: 43,
  MAXIMUM: 55,
  STRIDED_SLICE: 45,
  SHAPE: 77,
  PACK: 83,
  PRELU: 54,
  PADV2: 60,
  LEAKY_RELU: 98,
  QUANTIZE: 114,
  HARD_SWISH: 117,
} as const;

export const Padding = { SAME: 0, VALID: 1 } as const;

/** enum ActivationFunctionType. */
export const FusedActivation = { NONE: 0, RELU: 1, RELU_N1_TO_1: 2, RELU6: 3, TANH: 4, SIGN_BIT: 5 } as const;
export const FUSED_ACTIVATION_NAMES = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'];

/** enum FullyConnectedOptionsWeightsFormat: DEFAULT = 0 (others are shuffled layouts). */
export const WEIGHTS_FORMAT_DEFAULT = 0;
