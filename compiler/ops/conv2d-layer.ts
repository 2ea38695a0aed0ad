/**
 * The `conv2d` layer of a model file, which two ops share: conv2d (conv2d.ts) and, with
 * `groups: 'depthwise'`, depthwiseConv2d (depthwise-conv2d.ts). Its own leaf module so that
 * both can read the schema while they load (op modules sit in import cycles).
 */
import { z } from 'zod';
import { LIMITS } from '../ir/limits.js';
import type { Activation } from '../ir/model.js';
import { activation, inputs, kernelSize, layerSchema, stride } from './layer-fields.js';
import { explicitPads, type Pads } from './padding.js';
import { intIn, positiveInt, userName } from '../validate.js';

export interface Conv2dLayer {
  op: 'conv2d';
  name?: string;
  inputs?: string[];
  filters: number;
  kernel: number | [number, number];
  /** One stride for both axes, or [rows, columns]. */
  stride?: number | [number, number];
  /**
   * A number: that many on every side; 'same': (k - 1) / 2 on every side (a square, odd kernel);
   * 'valid' (default): none; [top, left, bottom, right]: per side (ops/padding.ts).
   */
  padding?: number | 'same' | 'valid' | Pads;
  /** 1 (dense conv) or 'depthwise' (groups = channels, one filter per channel). */
  groups?: 1 | 'depthwise';
  activation?: Activation;
}

export const conv2dLayer = layerSchema<Conv2dLayer>()(
  z.strictObject({
    op: z.literal('conv2d'),
    name: userName.optional(),
    inputs: inputs.optional(),
    filters: positiveInt(LIMITS.maxChannels),
    kernel: z.union([kernelSize, z.tuple([kernelSize, kernelSize])], { error: `expected a kernel size (a positive integer <= ${LIMITS.maxKernel}, or [KH, KW])` }),
    stride: z.union([stride, z.tuple([stride, stride])], { error: `expected a stride (a positive integer <= ${LIMITS.maxStride}, or [SH, SW])` }).optional(),
    padding: z
      .union([intIn(0, LIMITS.maxKernel), z.literal('same'), z.literal('valid'), explicitPads], {
        error: `expected an integer padding in 0..${LIMITS.maxKernel}, 'same', 'valid' or [top, left, bottom, right]`,
      })
      .optional(),
    groups: z.union([z.literal(1), z.literal('depthwise')], { error: "expected 1 or 'depthwise'" }).optional(),
    activation: activation.optional(),
  }),
);
