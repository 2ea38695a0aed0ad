/** globalavgpool: the average of every position, per channel: [H, W, C] -> [1, 1, C]. */
import type { SimpleLayer } from '../ir/model.js';
import type { OpDef } from './types.js';

export const globalAvgpool: OpDef<SimpleLayer> = {
  kind: 'globalavgpool',
  layerOp: 'globalavgpool',
  arity: 1,
  shape: (_layer, [[, , c]]) => ({ outShape: [1, 1, c] }),
  globalPool: true,
};
