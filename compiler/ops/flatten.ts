/**
 * flatten: [H, W, C] seen as [1, 1, H*W*C] (HWC order is already flat). A view: its tensor
 * is an alias of its input's (autodiff/context.ts graphFacts), so it has no step, no buffer,
 * no kernel and no code. Tests: test/ops/flatten.test.ts.
 */
import { plainLayer, type PlainLayer } from './layer-fields.js';
import type { OpDef } from './types.js';

export const flatten: OpDef<PlainLayer<'flatten'>> = {
  kind: 'flatten',
  layerOp: 'flatten',
  layer: plainLayer('flatten'),
  arity: 1,
  shape: (_layer, [[h, w, c]]) => ({ outShape: [1, 1, h * w * c] }),
  view: true,
  sharesInputQuant: true,
  float: {
    forward: (_n, [x]) => x!,
    backward: (_n, { gy, wantInputGrad }) => ({ inputs: [wantInputGrad ? gy.slice() : null] }),
  },
  // A view: its gradient is its input's (one buffer), so it emits no step at all.
  program: { forward: [], backward: [] },
  codegen: {},
};
