/**
 * The table activations' own kernels (assembly/kernels/table.ts) and their parameter
 * records: a 256-entry lookup forward and a 256-entry derivative backward, indexed by an
 * int8 byte (entry b + 128 for byte b). Declared with the op (table-activation.ts), reaching
 * the kernel library through OpDef.kernels.
 *
 * A leaf module (kernel-records.ts only): table-activation.ts reads its constants while it loads.
 */
import { field as f, record, type KernelSpec } from '../formats/kernel-records.js';

export const TABLE_FORWARD = record('TABLE_FORWARD', 'int8 element-wise function through a 256-entry int8 table (table.ts)', [
  f('x', 'ptr', 'int8 input'),
  f('y', 'ptr', 'int8 output (may be x)'),
  f('count', 'i32', 'elements'),
  f('table', 'ptr', 'int8[256]: the output byte of input byte b at b + 128 (frozen image)'),
] as const);

export const TABLE_BACKWARD = record('TABLE_BACKWARD', 'float32 input gradient of a table activation: gy times a 256-entry derivative table (table.ts)', [
  f('gy', 'ptr', 'f32 output gradient'),
  f('at', 'ptr', 'int8 bytes the derivative is indexed by (the saved input, or output)'),
  f('table', 'ptr', 'f32[256]: the derivative at byte b at b + 128 (frozen image)'),
  f('gx', 'ptr', 'f32 input gradient (may be gy)'),
  f('count', 'i32', 'elements'),
  f('accumulate', 'bool', 'add into the destination gradient instead of overwriting it'),
] as const);

export const TABLE_FORWARD_KERNEL = {
  name: 'tableForwardS8',
  file: 'table',
  doc: 'int8 256-entry table lookup',
  record: TABLE_FORWARD,
  args: [],
  result: 'void',
} as const satisfies KernelSpec;

export const TABLE_BACKWARD_KERNEL = {
  name: 'tableBackwardF32',
  file: 'table',
  doc: 'gradient through a 256-entry derivative table',
  record: TABLE_BACKWARD,
  args: [],
  result: 'void',
} as const satisfies KernelSpec;

export const TABLE_KERNELS: readonly KernelSpec[] = [TABLE_FORWARD_KERNEL, TABLE_BACKWARD_KERNEL];
