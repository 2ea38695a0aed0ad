/** The operators the importer maps, by BuiltinOperator code: one handler each. */
import type { OpCall } from '../context.js';
import { Op } from '../schema.js';
import { conv2d, depthwiseConv2d } from './conv.js';
import { fullyConnected } from './dense.js';
import { dequantize, quantize, softmax } from './edges.js';
import { add, concatenation, hardSwish, leakyRelu, logistic, maximum, mul, prelu, relu, relu6 } from './elementwise.js';
import { averagePool2d, maxPool2d, mean } from './pooling.js';
import { pad } from './pad.js';
import { reshape } from './reshape.js';
import { shape, shapeCombination } from './shape-arithmetic.js';

export type Handler = (c: OpCall) => void;

export const HANDLERS: Partial<Record<number, Handler>> = {
  [Op.CONV_2D]: conv2d,
  [Op.DEPTHWISE_CONV_2D]: depthwiseConv2d,
  [Op.FULLY_CONNECTED]: fullyConnected,
  [Op.ADD]: add,
  [Op.MUL]: mul,
  [Op.CONCATENATION]: concatenation,
  [Op.AVERAGE_POOL_2D]: averagePool2d,
  [Op.MAX_POOL_2D]: maxPool2d,
  [Op.MEAN]: mean,
  [Op.RESHAPE]: reshape,
  [Op.SQUEEZE]: reshape,
  [Op.SHAPE]: shape,
  [Op.STRIDED_SLICE]: shapeCombination,
  [Op.PACK]: shapeCombination,
  [Op.RELU]: relu,
  [Op.RELU6]: relu6,
  [Op.LOGISTIC]: logistic,
  [Op.HARD_SWISH]: hardSwish,
  [Op.LEAKY_RELU]: leakyRelu,
  [Op.MAXIMUM]: maximum,
  [Op.PRELU]: prelu,
  [Op.SOFTMAX]: softmax,
  [Op.QUANTIZE]: quantize,
  [Op.DEQUANTIZE]: dequantize,
  [Op.PAD]: pad,
  [Op.PADV2]: pad,
};

export const SUPPORTED_OPS_TEXT =
  'CONV_2D, DEPTHWISE_CONV_2D (depth_multiplier 1, or any on one input channel), FULLY_CONNECTED, ADD (equal shapes), MUL (equal shapes, or a map by one value per channel; not by a constant), CONCATENATION (along channels), AVERAGE_POOL_2D, MAX_POOL_2D, MEAN (over height and width), PAD/PADV2 (on height and width, folded into the conv or pool after it), ' +
  'RESHAPE/SQUEEZE (into a vector; the final one, read by nothing but the output, into any shape), SHAPE and STRIDED_SLICE/PACK of it (a RESHAPE target), RELU, RELU6, LOGISTIC, HARD_SWISH, LEAKY_RELU, MAXIMUM (with one constant value), PRELU (a constant alpha: one, per channel or per element), SOFTMAX (last), QUANTIZE/DEQUANTIZE (at the edges); fused activations NONE, RELU, RELU6; SAME (any size; conv windows padded alike above and on the left) or VALID padding';
