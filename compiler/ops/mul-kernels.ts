/**
 * mul's own kernels (assembly/kernels/mul.ts) and their parameter records: an int8 product
 * requantised onto the output, same shape or the second operand one value per channel
 * (squeeze-excitation's [1, 1, C]), and its float32 input gradient (one call per operand).
 * Declared with the op (mul.ts), reaching the kernel library through OpDef.kernels.
 *
 * A leaf module (kernel-records.ts only): mul.ts reads its constants while it loads.
 */
import { field as f, record, type KernelSpec } from '../formats/kernel-records.js';

export const MUL_FORWARD = record('MUL_FORWARD', 'int8 element-wise product, requantised: y = requant((a - za) * (b - zb)) (mul.ts)', [
  f('a', 'ptr', 'int8 first operand, [P, C]'),
  f('za', 'i32', 'its zero point'),
  f('b', 'ptr', 'int8 second operand: [P, C], or [C] when perChannel'),
  f('zb', 'i32', 'its zero point'),
  f('perChannel', 'bool', 'b is one value per channel, broadcast over the P positions'),
  f('m', 'i32', 'requantisation multiplier of s_a * s_b / s_y (compiler/quantize/fixedpoint.ts)'),
  f('n', 'i32', 'its shift'),
  f('y', 'ptr', 'int8 output, [P, C] (may be a)'),
  f('zy', 'i32', 'output zero point'),
  f('lo', 'i32', 'output clamp, low (the activation)'),
  f('hi', 'i32', 'output clamp, high'),
  f('P', 'i32', 'positions (H * W)'),
  f('C', 'i32', 'channels'),
] as const);

export const MUL_BACKWARD = record('MUL_BACKWARD', 'float32 gradient of one operand of a product: gy times the other operand, dequantised (mul.ts)', [
  f('gy', 'ptr', 'f32 output gradient, [P, C]'),
  f('other', 'ptr', 'int8 saved other operand: [P, C], or [C] when otherPerChannel'),
  f('zo', 'i32', 'its zero point'),
  f('so', 'f32', 'its scale'),
  f('otherPerChannel', 'bool', 'the other operand is one value per channel'),
  f('gx', 'ptr', 'f32 gradient of this operand: [P, C], or [C] when sumPositions (may be gy when [P, C])'),
  f('sumPositions', 'bool', 'this operand is per channel: its gradient is summed over the P positions, in position order'),
  f('P', 'i32', 'positions'),
  f('C', 'i32', 'channels'),
  f('accumulate', 'bool', 'add into the destination gradient instead of overwriting it'),
] as const);

export const MUL_FORWARD_KERNEL = {
  name: 'mulForwardS8',
  file: 'mul',
  doc: 'int8 product, requantised',
  record: MUL_FORWARD,
  args: [],
  result: 'void',
} as const satisfies KernelSpec;

export const MUL_BACKWARD_KERNEL = {
  name: 'mulBackwardF32',
  file: 'mul',
  doc: 'gradient of one operand of a product',
  record: MUL_BACKWARD,
  args: [],
  result: 'void',
} as const satisfies KernelSpec;

export const MUL_KERNELS: readonly KernelSpec[] = [MUL_FORWARD_KERNEL, MUL_BACKWARD_KERNEL];
