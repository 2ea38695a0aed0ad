/**
 * AVERAGE_POOL_2D -> avgpool and MAX_POOL_2D -> maxpool (filter_height x filter_width
 * windows, strides per axis, SAME or VALID as TFLite pads them; a SAME average divides by
 * the inputs each window holds, as TFLite's kernel does), and MEAN over height and width ->
 * globalavgpool.
 */
import { addOp, type Activation, type IrOp, type MapShape } from '../../onnx/ir.js';
import { actInput, actQuant, checkSameDomain, constInput, opError, outputTensor, produce, setActQuant, windowInput, type OpCall } from '../context.js';
import { BuiltinOptions, Padding, POOL_2D_OPTIONS } from '../schema.js';
import { intConst } from '../tensors.js';
import { fusedActivation, options } from './options.js';
import type { Options } from './options.js';
import { foldPad, windowOf, type Window } from './window.js';

/** A pool's input, its Pool2DOptions and its window's rows and columns. */
function poolInput(c: OpCall) {
  const x = windowInput(c);
  const o = options(c, BuiltinOptions.Pool2DOptions, 'Pool2DOptions');
  const fh = o.int32(POOL_2D_OPTIONS.filterHeight),
    fw = o.int32(POOL_2D_OPTIONS.filterWidth);
  if (fh < 1 || fw < 1) throw opError(c, `the ${fh}x${fw} window is not supported`, 'a pool window has at least one row and one column');
  return { x, o, fh, fw };
}

/** The pool's window (through a folded PAD) with its strides per axis, as the pools take it. */
function poolWindowOf(c: OpCall, o: Options, x: ReturnType<typeof windowInput>, fh: number, fw: number): Window & { window: { ph: number; pw: number; sh: number; sw: number } } {
  const win = windowOf(c, o, POOL_2D_OPTIONS, x.shape, fh, fw, x.pre);
  return { ...win, window: { ph: fh, pw: fw, sh: win.sh, sw: win.sw } };
}

export function averagePool2d(c: OpCall): void {
  if (wholeMapPool(c)) return;
  const { x, o, fh, fw } = poolInput(c);
  const win = poolWindowOf(c, o, x, fh, fw);
  if (x.pre) foldPad(c, 'avgpool', x.pre, win.ownPads);
  const activation = fusedActivation(c, o.int8(POOL_2D_OPTIONS.fusedActivation));
  const out = outputTensor(c);
  checkSameDomain(c, [x.tensor], out);
  const pool = {
    kind: 'avgpool' as const,
    inputs: [x.act],
    activation: 'none' as const,
    pool: { ...win.window, padding: win.pads, ...(x.pre && { countIncludePad: true }) },
  };
  producePool(c, pool, { kind: 'map', h: win.oh, w: win.ow, c: x.shape.c }, activation);
}

/**
 * AVERAGE_POOL_2D whose one VALID window is the whole input (DS-CNN keyword spotters end in
 * a 25x5 one) -> globalavgpool: the same pool kernel over one H x W window, every tap
 * valid, so it divides as TFLite's average pool does. False when the window is not that.
 */
function wholeMapPool(c: OpCall): boolean {
  const x = windowInput(c);
  const o = options(c, BuiltinOptions.Pool2DOptions, 'Pool2DOptions');
  const fh = o.int32(POOL_2D_OPTIONS.filterHeight),
    fw = o.int32(POOL_2D_OPTIONS.filterWidth);
  if (x.pre || fh !== x.shape.h || fw !== x.shape.w || o.int8(POOL_2D_OPTIONS.padding) !== Padding.VALID || fh === fw) return false;
  checkSameDomain(c, [x.tensor], outputTensor(c));
  const pool = { kind: 'globalavgpool' as const, inputs: [x.act], activation: 'none' as const };
  producePool(c, pool, { kind: 'map', h: 1, w: 1, c: x.shape.c }, fusedActivation(c, o.int8(POOL_2D_OPTIONS.fusedActivation)));
  return true;
}

/**
 * MAX_POOL_2D -> maxpool: a filter_height x filter_width window, strides per axis, TFLite's SAME padding (asymmetric
 * too: padded positions are never the max) or VALID. The output is on the input's grid
 * (the int8 kernel has no requantisation), as TFLite's int8 MAX_POOL_2D requires.
 */
export function maxPool2d(c: OpCall): void {
  const { x, o, fh, fw } = poolInput(c);
  const win = poolWindowOf(c, o, x, fh, fw);
  if (x.pre) foldPad(c, 'maxpool', x.pre, win.ownPads);
  const out = outputTensor(c);
  checkSameDomain(c, [x.tensor], out);
  const qIn = actQuant(c, x.tensor, ''),
    qOut = actQuant(c, out, '');
  if (qIn && qOut && (qIn.scale !== qOut.scale || qIn.zp !== qOut.zp)) {
    throw opError(c, `requantises from (${qIn.scale}, ${qIn.zp}) to (${qOut.scale}, ${qOut.zp})`, "tinytrain's maxpool keeps its input's (scale, zero point)");
  }
  // TFLite's SAME is the layer's 'same' (the word model files said before per-side padding).
  const padding = x.pre ? win.pads : o.int8(POOL_2D_OPTIONS.padding) === Padding.SAME ? ('same' as const) : ('valid' as const);
  const pool = { kind: 'maxpool' as const, inputs: [x.act], activation: 'none' as const, pool: { ...win.window, padding } };
  producePool(c, pool, { kind: 'map', h: win.oh, w: win.ow, c: x.shape.c }, fusedActivation(c, o.int8(POOL_2D_OPTIONS.fusedActivation)));
}

/** A pool's op, and its fused activation as a layer of its own (tinytrain's pools carry none). */
function producePool(c: OpCall, pool: Omit<IrOp, 'output' | 'node' | 'name'>, shape: MapShape, activation: Activation): void {
  const out = outputTensor(c);
  if (activation === 'none') {
    produce(c, pool, shape);
    return;
  }
  // A separate relu/relu6 layer on the same int8 grid.
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
