/** avgpool: the average of each size x size window (no padding), per channel. */
import type { PoolLayer } from '../ir/model.js';
import type { OpDef } from './types.js';

export const avgpool: OpDef<PoolLayer> = {
  kind: 'avgpool',
  layerOp: 'avgpool',
  arity: 1,
  shape(layer, [[h, w, c]], fail) {
    const size = layer.size;
    const stride = layer.stride ?? size;
    if (size > h || size > w) fail(`pool ${size} is larger than the ${h}x${w} input`);
    return { outShape: [Math.floor((h - size) / stride) + 1, Math.floor((w - size) / stride) + 1, c], pool: { size, stride } };
  },
};
