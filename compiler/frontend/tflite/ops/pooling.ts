/**
 * AVERAGE_POOL_2D -> avgpool (square window, no padding), and MEAN over height and width
 * -> globalavgpool.
 */
import { addOp } from '../../onnx/ir.js';
import { actInput, actQuant, checkSameDomain, constInput, opError, outputTensor, produce, setActQuant, type OpCall } from '../context.js';
import { BuiltinOptions, POOL_2D_OPTIONS } from '../schema.js';
import { intConst } from '../tensors.js';
import { fusedActivation, options } from './options.js';
import { windowOf } from './window.js';

export function averagePool2d(c: OpCall): void {
  const x = actInput(c, 0);
  const o = options(c, BuiltinOptions.Pool2DOptions, 'Pool2DOptions');
  const fh = o.int32(POOL_2D_OPTIONS.filterHeight),
    fw = o.int32(POOL_2D_OPTIONS.filterWidth);
  if (fh !== fw || fh < 1) throw opError(c, `the ${fh}x${fw} window is not supported`, 'tinytrain pools over square windows');
  const win = windowOf(c, o, POOL_2D_OPTIONS, x.shape, fh, fw);
  if (win.pad !== 0) throw opError(c, `SAME padding pads this pool by ${win.pad}`, 'tinytrain pools without padding (VALID, or SAME where it adds nothing)');
  const activation = fusedActivation(c, o.int8(POOL_2D_OPTIONS.fusedActivation));
  const out = outputTensor(c);
  checkSameDomain(c, [x.tensor], out);
  const pool = { kind: 'avgpool' as const, inputs: [x.act], activation: 'none' as const, pool: { size: fh, stride: win.stride } };
  const shape = { kind: 'map' as const, h: win.oh, w: win.ow, c: x.shape.c };
  if (activation === 'none') {
    produce(c, pool, shape);
    return;
  }
  // tinytrain's pools carry no activation: a separate relu/relu6 layer on the same int8 grid.
  const pooled = addOp(c.ctx, { ...pool, node: c.label, name: `${out.name.split(';')[0] || `op_${c.op.index}`}_pool` }, shape);
  const q = actQuant(c, out, '');
  if (q) setActQuant(c, pooled, q);
  produce(c, { kind: activation, inputs: [pooled], activation: 'none' }, shape);
}

/** MEAN over axes 1 and 2 of [1, H, W, C] (keep_dims either way). */
export function mean(c: OpCall): void {
  const x = actInput(c, 0);
  const axesT = constInput(c, 1, 'axes');
  if (!axesT) throw opError(c, 'the axes (input 1) are missing');
  const axes = [...new Set(intConst(c, axesT, 'axes').map((a) => (a < 0 ? a + 4 : a)))].sort();
  if (x.tensor.shape.length !== 4 || axes.join(',') !== '1,2') {
    throw opError(
      c,
      `averages [${x.tensor.shape}] over axes [${intConst(c, axesT, 'axes')}]`,
      'tinytrain averages feature maps over height and width (axes 1, 2): global average pooling',
    );
  }
  checkSameDomain(c, [x.tensor], outputTensor(c));
  produce(c, { kind: 'globalavgpool', inputs: [x.act], activation: 'none' }, { kind: 'map', h: 1, w: 1, c: x.shape.c });
}
