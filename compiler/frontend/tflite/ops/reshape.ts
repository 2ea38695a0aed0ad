/**
 * RESHAPE and SQUEEZE into a vector: a flatten (a view in tinytrain), or nothing at all
 * when the input is already 1 x 1 x N. The declared output shape says what they make
 * (their shape operand is not needed: every shape in the file is static).
 *
 * A vector reshaped into any shape is taken too when nothing but the model's output reads
 * it (directly or through DEQUANTIZE): an autoencoder's last dense layer written back into
 * its input's shape. Row-major order is unchanged, so tinytrain's output is the same values
 * in the same order, as a vector.
 */
import type { Tensor } from '../model.js';
import { actInput, actQuant, bind, checkSameDomain, hwcOf, opError, outputTensor, produce, type OpCall } from '../context.js';
import { Op } from '../schema.js';

/** Whether tensor `t` is the model's (trained) output, or read only by DEQUANTIZEs that are. */
function onlyTheOutput(c: OpCall, t: number): boolean {
  const g = c.ctx.graph;
  if (t === c.ctx.output) return true;
  const readers = [];
  for (let i = c.op.index + 1; i < g.operatorCount; i++) {
    const op = g.operator(i);
    if (op.inputs.includes(t)) readers.push(op);
  }
  return readers.length > 0 && readers.every((op) => op.code.builtin === Op.DEQUANTIZE && op.outputs.every((o) => o === c.ctx.output));
}

function elements(t: Tensor): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

export function reshape(c: OpCall): void {
  const x = actInput(c, 0);
  const out = outputTensor(c);
  const { h, w, c: ch } = x.shape;
  const to = hwcOf(out.shape);
  if (h === 1 && w === 1 && elements(out) === ch && onlyTheOutput(c, out.index) && !(to && to[0] === 1 && to[1] === 1)) {
    checkSameQuant(c, x.tensor, out);
    c.ctx.notes.push(`${c.label}: the final reshape of the ${ch} outputs to [${out.shape}] keeps their order; tinytrain's output is them as a vector`);
    bind(c, out, { kind: 'act', act: x.act });
    return;
  }
  if (!to || to[0] !== 1 || to[1] !== 1 || to[2] !== h * w * ch) {
    throw opError(c, `reshapes [${x.tensor.shape}] to [${out.shape}]`, 'tinytrain reshapes a feature map only into a vector [1, N] (a flatten, e.g. before FULLY_CONNECTED)');
  }
  checkSameDomain(c, [x.tensor], out);
  if (h === 1 && w === 1) {
    checkSameQuant(c, x.tensor, out);
    bind(c, out, { kind: 'act', act: x.act });
    return;
  }
  produce(c, { kind: 'flatten', inputs: [x.act], activation: 'none' }, { kind: 'map', h: 1, w: 1, c: h * w * ch });
}

/** A reshape that is no op in tinytrain must not requantise either. */
function checkSameQuant(c: OpCall, from: Tensor, to: Tensor): void {
  const a = actQuant(c, from, ''),
    b = actQuant(c, to, '');
  if (a && b && (a.scale !== b.scale || a.zp !== b.zp)) throw opError(c, `changes the quantisation from (${a.scale}, ${a.zp}) to (${b.scale}, ${b.zp})`);
}
