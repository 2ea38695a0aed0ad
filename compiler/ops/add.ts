/** add: the element-wise sum of two tensors of one shape, each rescaled to the output's quantisation, with a fused activation. */
import type { AddLayer } from '../ir/model.js';
import type { OpDef } from './types.js';

export const add: OpDef<AddLayer> = {
  kind: 'add',
  layerOp: 'add',
  arity: 2,
  shape(_layer, [a, b], fail) {
    const [h, w, c] = a!;
    if (b![0] !== h || b![1] !== w || b![2] !== c) fail(`add needs equal shapes, got [${a}] and [${b}]`);
    return { outShape: [h, w, c] };
  },
  elementwise: true,
  float: {
    forward(_n, [a, b]) {
      const y = new Float32Array(a!.length);
      for (let i = 0; i < y.length; i++) y[i] = a![i]! + b![i]!;
      return y;
    },
    /** The output gradient passes to each input unchanged (a copy each: add(x, x) adds the two). */
    backward: (_n, { gy, wantInputGrad }) => ({ inputs: wantInputGrad ? [gy.slice(), gy.slice()] : [null, null] }),
  },
  program: { forward: ['forward'], backward: ['mask', 'inputGrad'] },
};
