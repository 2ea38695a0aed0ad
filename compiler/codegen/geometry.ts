/**
 * Shapes as the kernels' records name them. Pure functions of a node: the same node
 * always gives the same fields, whichever step emits them.
 */
import type { Node } from '../ir/graph.js';

/** Elements of the node's output. */
export function count(n: Node): number {
  return n.outShape[0] * n.outShape[1] * n.outShape[2];
}

/** The input as H, W, C. Dense is a 1x1 conv over a 1x1 image whose channels are the flattened input. */
export function inGeom(n: Node): [number, number, number] {
  const [H, W, C] = n.inShapes[0]!;
  return n.op === 'dense' ? [1, 1, H * W * C] : [H, W, C];
}

/** The input's record fields H, W, C (inGeom). */
export function inShape(n: Node): { H: number; W: number; C: number } {
  const [H, W, C] = inGeom(n);
  return { H, W, C };
}

/** The output's record fields OH, OW, CO. */
export function outShape(n: Node): { OH: number; OW: number; CO: number } {
  return { OH: n.outShape[0], OW: n.outShape[1], CO: n.outShape[2] };
}

/** The kernel's shape without its placement: KH, KW, depthwise (dense: a 1x1 kernel). */
export function kernelSize(n: Node): { KH: number; KW: number; depthwise: boolean } {
  return n.conv ? { KH: n.conv.kh, KW: n.conv.kw, depthwise: n.conv.depthwise } : { KH: 1, KW: 1, depthwise: false };
}

/** KH, KW, stride, pad, depthwise (dense: a 1x1 kernel). */
export function kernelShape(n: Node): { KH: number; KW: number; stride: number; pad: number; depthwise: boolean } {
  return { ...kernelSize(n), stride: n.conv?.stride ?? 1, pad: n.conv?.pad ?? 0 };
}

/** Pool window and stride; a global pool is one window over the whole input. */
export function poolGeom(n: Node): { ph: number; pw: number; stride: number } {
  return n.op === 'avgpool' ? { ph: n.pool!.size, pw: n.pool!.size, stride: n.pool!.stride } : { ph: n.inShapes[0]![0], pw: n.inShapes[0]![1], stride: 1 };
}
