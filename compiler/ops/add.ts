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
};
