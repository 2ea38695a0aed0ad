/**
 * prelu's own kernels (assembly/kernels/prelu.ts) and their parameter records: the int8
 * forward (one multiplier above the input's zero point, one per slope below it, on a shift
 * they share) and its float32 input gradient. Declared with the op (prelu.ts), reaching the
 * kernel library through OpDef.kernels.
 *
 * A leaf module (kernel-records.ts only): prelu.ts reads its constants while it loads.
 */
import { field as f, record, type KernelSpec } from '../formats/kernel-records.js';

export const PRELU_FORWARD = record('PRELU_FORWARD', 'int8 PReLU: y = zy + ((v * m + 2^(n-1)) >> n), v = x - zx, m = mPos for v > 0 or the slope multiplier (prelu.ts)', [
  f('x', 'ptr', 'int8 input, [P, C]'),
  f('zx', 'i32', 'input zero point'),
  f('y', 'ptr', 'int8 output, [P, C] (may be x)'),
  f('zy', 'i32', 'output zero point'),
  f('mPos', 'i32', 'multiplier above the zero point: s_x / s_y * 2^n (|m| <= 2^22, so v * m fits in 32 bits)'),
  f('n', 'i32', 'the shift both multipliers share, 1..30'),
  f('mNeg', 'ptr', 'int32 multipliers below the zero point, s_x * alpha / s_y * 2^n (negative for a negative slope): [C], or [P, C] (frozen image)'),
  f('slopeStep', 'i32', 'how far mNeg advances per position: 0 (one slope per channel) or C (one per element)'),
  f('P', 'i32', 'positions (H * W)'),
  f('C', 'i32', 'channels'),
] as const);

export const PRELU_BACKWARD = record('PRELU_BACKWARD', 'float32 input gradient of PReLU: gy where x > zx, gy * alpha elsewhere (prelu.ts)', [
  f('gy', 'ptr', 'f32 output gradient, [P, C]'),
  f('x', 'ptr', 'int8 saved input, [P, C]'),
  f('zx', 'i32', 'its zero point'),
  f('slopes', 'ptr', 'f32 slopes: [C], or [P, C] (frozen image)'),
  f('slopeStep', 'i32', 'how far slopes advance per position: 0 or C'),
  f('gx', 'ptr', 'f32 input gradient, [P, C] (may be gy)'),
  f('P', 'i32', 'positions'),
  f('C', 'i32', 'channels'),
  f('accumulate', 'bool', 'add into the destination gradient instead of overwriting it'),
] as const);

export const PRELU_FORWARD_KERNEL = {
  name: 'preluForwardS8',
  file: 'prelu',
  doc: 'int8 PReLU, requantised per slope',
  record: PRELU_FORWARD,
  args: [],
  result: 'void',
} as const satisfies KernelSpec;

export const PRELU_BACKWARD_KERNEL = {
  name: 'preluBackwardF32',
  file: 'prelu',
  doc: 'gradient through a PReLU',
  record: PRELU_BACKWARD,
  args: [],
  result: 'void',
} as const satisfies KernelSpec;

export const PRELU_KERNELS: readonly KernelSpec[] = [PRELU_FORWARD_KERNEL, PRELU_BACKWARD_KERNEL];
