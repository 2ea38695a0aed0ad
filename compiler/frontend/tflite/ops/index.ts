/** The operators the importer maps, by BuiltinOperator code: one handler each. */
import type { OpCall } from '../context.js';
import { Op } from '../schema.js';
import { conv2d, depthwiseConv2d } from './conv.js';
import { fullyConnected } from './dense.js';
import { dequantize, quantize, softmax } from './edges.js';
import { add, concatenation, hardSwish, leakyRelu, logistic, mul, prelu, relu, relu6 } from './elementwise.js';
import { averagePool2d, maxPool2d, mean } from './pooling.js';
import { pad } from './pad.js';
import { reshape } from './reshape.js';

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
  [Op.RELU]: relu,
  [Op.RELU6]: relu6,
  [Op.LOGISTIC]: logistic,
  [Op.HARD_SWISH]: hardSwish,
  [Op.LEAKY_RELU]: leakyRelu,
  [Op.PRELU]: prelu,
  [Op.SOFTMAX]: softmax,
  [Op.QUANTIZE]: quantize,
  [Op.DEQUANTIZE]: dequantize,
  [Op.PAD]: pad,
  [Op.PADV2]: pad,
};

export const SUPPORTED_OPS_TEXT =
  'CONV_2D, DEPTHWISE_CONV_2D (depth_multiplier 1), FULLY_CONNECTED, ADD (equal shapes), MUL (equal shapes, or a map by one value per channel; not by a constant), CONCATENATION (along channels), AVERAGE_POOL_2D, MAX_POOL_2D, MEAN (over height and width), PAD/PADV2 (on height and width, folded into the conv or pool after it), ' +
  'RESHAPE/SQUEEZE (into a vector), RELU, RELU6, LOGISTIC, HARD_SWISH, LEAKY_RELU, PRELU (a constant alpha: one, per channel or per element), SOFTMAX (last), QUANTIZE/DEQUANTIZE (at the edges); fused activations NONE, RELU, RELU6; SAME (any size; conv windows padded alike above and on the left) or VALID padding';
