/**
 * padchannels' own kernel (assembly/kernels/pad-channels.ts) and its parameter record: the
 * input's channels into the first channels of the output, copied or requantised onto the
 * output's grid, and the appended channels set to the output's zero point (real 0). Its
 * backward is concat's kernel for the first input (concat-kernels.ts): the output
 * gradient's first C channels. Declared with the op (pad-channels.ts).
 *
 * A leaf module (kernel-records.ts and concat-kernels.ts only): pad-channels.ts reads its constants while it loads.
 */
import { field as f, record, type KernelSpec } from '../formats/kernel-records.js';
import { RESCALED_INPUT } from './concat-kernels.js';

export const PAD_CHANNELS_FORWARD = record(
  'PAD_CHANNELS_FORWARD',
  'int8 input with zero channels appended: y[p, c] = requant(x[p, c] - zx) for c < C, zy after (pad-channels.ts)',
  [
    ...RESCALED_INPUT,
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
