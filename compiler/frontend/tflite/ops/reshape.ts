/**
 * RESHAPE and SQUEEZE into a vector: a flatten (a view in tinytrain), or nothing at all
 * when the input is already 1 x 1 x N. The declared output shape says what they make
 * (their shape operand is not needed: every shape in the file is static).
 */
import { actInput, actQuant, bind, checkSameDomain, hwcOf, opError, outputTensor, produce, type OpCall } from '../context.js';

export function reshape(c: OpCall): void {
  const x = actInput(c, 0);
  const out = outputTensor(c);
  const { h, w, c: ch } = x.shape;
  const to = hwcOf(out.shape);
  if (!to || to[0] !== 1 || to[1] !== 1 || to[2] !== h * w * ch) {
    throw opError(c, `reshapes [${x.tensor.shape}] to [${out.shape}]`, 'tinytrain reshapes a feature map only into a vector [1, N] (a flatten, e.g. before FULLY_CONNECTED)');
  }
  checkSameDomain(c, [x.tensor], out);
  if (h === 1 && w === 1) {
    const a = actQuant(c, x.tensor, ''),
      b = actQuant(c, out, '');
    if (a && b && (a.scale !== b.scale || a.zp !== b.zp)) throw opError(c, `changes the quantisation from (${a.scale}, ${a.zp}) to (${b.scale}, ${b.zp})`);
    bind(c, out, { kind: 'act', act: x.act });
    return;
  }
  produce(c, { kind: 'flatten', inputs: [x.act], activation: 'none' }, { kind: 'map', h: 1, w: 1, c: h * w * ch });
}
