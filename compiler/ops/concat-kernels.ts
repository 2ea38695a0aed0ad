/**
 * concat's own kernels (assembly/kernels/concat.ts) and their parameter records: one input
 * written into its channels of the output, requantised onto the output's grid (a copy when
 * the two grids are one), and the slice of the output gradient that is that input's.
 * Declared with the op (concat.ts), reaching the kernel library through OpDef.kernels.
 *
 * A leaf module (kernel-records.ts only): concat.ts reads its constants while it loads.
 */
import { field as f, record, type KernelSpec } from '../formats/kernel-records.js';

/** An int8 input's channels onto the output's grid, copied or requantised: the fields concat's and padchannels' forward records start with. */
export const RESCALED_INPUT = [
  f('x', 'ptr', 'int8 input, [P, C]'),
  f('zx', 'i32', 'its zero point'),
  f('copy', 'bool', "the input's grid is the output's (same scale and zero point): the bytes are copied"),
  f('m', 'i32', 'requantisation multiplier of s_x / s_y (compiler/quantize/fixedpoint.ts)'),
  f('n', 'i32', 'its shift'),
  f('y', 'ptr', 'int8 output, [P, CO]'),
] as const;

export const CONCAT_FORWARD = record('CONCAT_FORWARD', 'int8 channels of one input into the output, requantised: y[p, offset + c] = requant(x[p, c] - zx) (concat.ts)', [
  ...RESCALED_INPUT,
  f('zy', 'i32', 'output zero point'),
  f('P', 'i32', 'positions (H * W)'),
  f('C', 'i32', 'input channels'),
  f('CO', 'i32', 'output channels'),
  f('offset', 'i32', "the input's first output channel"),
] as const);

export const CONCAT_BACKWARD = record('CONCAT_BACKWARD', 'float32 gradient of one input of a concat: its channels of the output gradient (concat.ts)', [
  f('gy', 'ptr', 'f32 output gradient, [P, CO]'),
  f('gx', 'ptr', 'f32 input gradient, [P, C]'),
  f('P', 'i32', 'positions'),
  f('C', 'i32', 'input channels'),
  f('CO', 'i32', 'output channels'),
  f('offset', 'i32', "the input's first output channel"),
  f('accumulate', 'bool', 'add into the destination gradient instead of overwriting it'),
] as const);

export const CONCAT_FORWARD_KERNEL = {
  name: 'concatForwardS8',
  file: 'concat',
  doc: "one input's channels of a concat, requantised",
  record: CONCAT_FORWARD,
  args: [],
  result: 'void',
} as const satisfies KernelSpec;

export const CONCAT_BACKWARD_KERNEL = {
  name: 'concatBackwardF32',
  file: 'concat',
  doc: "one input's slice of a concat's gradient",
  record: CONCAT_BACKWARD,
  args: [],
  result: 'void',
} as const satisfies KernelSpec;

export const CONCAT_KERNELS: readonly KernelSpec[] = [CONCAT_FORWARD_KERNEL, CONCAT_BACKWARD_KERNEL];
