/**
 * maxpool's own kernels (assembly/kernels/maxpool.ts) and their parameter records: no other
 * op calls them, so they are declared here, with the op, and reach the kernel library
 * through OpDef.kernels (compiler/formats/kernel-library.ts), not the shared table.
 *
 * A leaf module (kernel-records.ts only): maxpool.ts reads its constants while it loads.
 */
import { field as f, record, type KernelSpec } from '../formats/kernel-records.js';

const window = [
  f('PH', 'i32', 'window rows'),
  f('PW', 'i32', 'window columns'),
  f('strideH', 'i32', 'stride between output rows'),
  f('strideW', 'i32', 'stride between output columns'),
  f('padH', 'i32', "rows of padding above ('same': positions outside the input are never the max)"),
  f('padW', 'i32', 'columns of padding on the left'),
] as const;

export const MAXPOOL_FORWARD = record('MAXPOOL_FORWARD', 'int8 max pool, output in the input quantisation, and the argmax mask (maxpool.ts)', [
  f('x', 'ptr', 'int8 input, HWC'),
  f('H', 'i32', 'input rows'),
  f('W', 'i32', 'input columns'),
  f('C', 'i32', 'channels'),
  f('y', 'ptr', 'int8 output, HWC'),
  f('OH', 'i32', 'output rows'),
  f('OW', 'i32', 'output columns'),
  ...window,
  f('mask', 'ptr', "u8 per output element: its window's first max, kh * PW + kw; 0: not kept (no input gradient)"),
] as const);

export const MAXPOOL_BACKWARD = record('MAXPOOL_BACKWARD', "float32 input gradient of a max pool: each output gradient to its window's argmax (maxpool.ts)", [
  f('gy', 'ptr', 'f32 output gradient, HWC'),
  f('OH', 'i32', 'output rows'),
  f('OW', 'i32', 'output columns'),
  f('mask', 'ptr', 'the argmax mask the forward kernel wrote'),
  f('gx', 'ptr', 'f32 input gradient, HWC'),
  f('H', 'i32', 'input rows'),
  f('W', 'i32', 'input columns'),
  f('C', 'i32', 'channels'),
  ...window,
  f('accumulate', 'bool', 'add into the destination gradient instead of overwriting it'),
] as const);

export const MAXPOOL_FORWARD_KERNEL = {
  name: 'maxpoolForwardS8',
  file: 'maxpool',
  doc: 'max pool, argmax mask',
  record: MAXPOOL_FORWARD,
  args: [],
  result: 'void',
} as const satisfies KernelSpec;

export const MAXPOOL_BACKWARD_KERNEL = {
  name: 'maxpoolBackwardF32',
  file: 'maxpool',
  doc: 'max pool backward from the mask',
  record: MAXPOOL_BACKWARD,
  args: [],
  result: 'void',
} as const satisfies KernelSpec;

export const MAXPOOL_KERNELS: readonly KernelSpec[] = [MAXPOOL_FORWARD_KERNEL, MAXPOOL_BACKWARD_KERNEL];
