/**
 * padchannels' own kernel (assembly/kernels/pad-channels.ts) and its parameter record: the
 * input's channels into the first channels of the output, copied or requantised onto the
 * output's grid, and the appended channels set to the output's zero point (real 0). Its
 * backward is concat's kernel for the first input (concat-kernels.ts): the output
 * gradient's first C channels. Declared with the op (pad-channels.ts).
 *
 * A leaf module (kernel-records.ts only): pad-channels.ts reads its constants while it loads.
 */
import { field as f, record, type KernelSpec } from '../formats/kernel-records.js';

export const PAD_CHANNELS_FORWARD = record(
  'PAD_CHANNELS_FORWARD',
  'int8 input with zero channels appended: y[p, c] = requant(x[p, c] - zx) for c < C, zy after (pad-channels.ts)',
  [
    f('x', 'ptr', 'int8 input, [P, C]'),
    f('zx', 'i32', 'its zero point'),
    f('copy', 'bool', "the input's grid is the output's (same scale and zero point): the bytes are copied"),
    f('m', 'i32', 'requantisation multiplier of s_x / s_y (compiler/quantize/fixedpoint.ts)'),
    f('n', 'i32', 'its shift'),
    f('y', 'ptr', 'int8 output, [P, CO]'),
    f('zy', 'i32', 'output zero point: the value of every appended channel'),
    f('P', 'i32', 'positions (H * W)'),
    f('C', 'i32', 'input channels'),
    f('CO', 'i32', 'output channels (C + the appended ones)'),
  ] as const,
);

export const PAD_CHANNELS_FORWARD_KERNEL = {
  name: 'padChannelsForwardS8',
  file: 'pad-channels',
  doc: 'an input with zero channels appended',
  record: PAD_CHANNELS_FORWARD,
  args: [],
  result: 'void',
} as const satisfies KernelSpec;
