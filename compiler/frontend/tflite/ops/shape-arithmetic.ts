/**
 * SHAPE, STRIDED_SLICE and PACK as converters write a RESHAPE's target from a tensor's shape
 * (Keras' `Reshape` after a dense layer becomes SHAPE -> STRIDED_SLICE (the batch) -> PACK
 * (batch, then the new dimensions) -> RESHAPE). Every shape in a file tinytrain takes is
 * static and RESHAPE goes by its declared output shape, so nothing here is computed: the
 * outputs are bound as shape arithmetic (context.ts), which only a RESHAPE's shape operand
 * may read. On activations, STRIDED_SLICE and PACK are real data movement tinytrain has no
 * layer for, and are refused.
 */
import { bind, opError, outputTensor, valueInput, type OpCall } from '../context.js';

const HINT = 'tinytrain takes STRIDED_SLICE and PACK only on shapes and constants (computing a RESHAPE target), not on activations';

/** SHAPE of any computed tensor: its shape is static, so the result is known (and not needed). */
export function shape(c: OpCall): void {
  const { value } = valueInput(c, 0);
  if (value.kind !== 'act' && value.kind !== 'shape') throw opError(c, `takes the shape of a ${value.kind} tensor`, 'SHAPE is taken only of computed tensors');
  bind(c, outputTensor(c), { kind: 'shape', by: c.label });
}

/** STRIDED_SLICE / PACK whose every input is a constant or shape arithmetic. */
export function shapeCombination(c: OpCall): void {
  let fromShape = false;
  for (let k = 0; k < c.op.inputs.length; k++) {
    if (c.op.inputs[k] === -1) continue;
    const { value } = valueInput(c, k);
    if (value.kind === 'shape') fromShape = true;
    else if (value.kind !== 'const') throw opError(c, `input ${k} is an activation`, HINT);
  }
  if (!fromShape) throw opError(c, 'combines constants only', 'tinytrain does not fold constant STRIDED_SLICE / PACK; they appear here only computing a RESHAPE target from SHAPE');
  bind(c, outputTensor(c), { kind: 'shape', by: c.label });
}
