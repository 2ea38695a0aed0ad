/**
 * An operator's builtin options table, checked to be the one its operator takes, and the
 * fused activation every arithmetic operator carries.
 */
import type { Activation } from '../../onnx/ir.js';
import { opError, type OpCall } from '../context.js';
import type { FbTable } from '../flatbuffer.js';
import { FUSED_ACTIVATION_NAMES, FusedActivation } from '../schema.js';

/** The reads an operator makes of its options; with no options table every field has its schema default. */
export type Options = Pick<FbTable, 'int8' | 'uint8' | 'int32' | 'bool' | 'float32'>;

const DEFAULTS: Options = {
  int8: (_id, d = 0) => d,
  uint8: (_id, d = 0) => d,
  int32: (_id, d = 0) => d,
  bool: (_id, d = false) => d,
  float32: (_id, d = 0) => d,
};

/** The options of `c`, which must be of union type `type` (`name` in schema.fbs) or absent. */
export function options(c: OpCall, type: number, name: string): Options {
  const { optionsType, options: table } = c.op;
  if (!table) return DEFAULTS;
  if (optionsType !== type) throw opError(c, `its options are of union type ${optionsType}, not ${name} (${type})`, 'the model file is inconsistent');
  return table;
}

export function fusedActivation(c: OpCall, code: number): Activation {
  if (code === FusedActivation.NONE) return 'none';
  if (code === FusedActivation.RELU) return 'relu';
  if (code === FusedActivation.RELU6) return 'relu6';
  throw opError(c, `fused activation ${FUSED_ACTIVATION_NAMES[code] ?? code} is not supported`, 'tinytrain fuses NONE, RELU and RELU6');
}
