/**
 * Shapes as the kernels take them, as argument text. Pure functions of a node: the
 * same node always gives the same arguments, whichever step emits them.
 */
import { isDepthwise, type Node } from '../ir/graph.js';
import { opOf } from '../ops/registry.js';

/** Elements of the node's output. */
export function count(n: Node): number {
  return n.outShape[0] * n.outShape[1] * n.outShape[2];
}

/** The input as H, W, C. Dense is a 1x1 conv over a 1x1 image whose channels are the flattened input. */
export function inGeom(n: Node): [number, number, number] {
  const [H, W, C] = opOf(n).weights?.input(n) ?? n.inShapes[0]!;
  return [H, W, C];
}

/** kh, kw, stride, pad, depthwise (dense: a 1x1 kernel). */
export function kGeom(n: Node): string {
  const c = n.conv;
  return c ? `${c.kh}, ${c.kw}, ${c.stride}, ${c.pad}, ${isDepthwise(n)}` : '1, 1, 1, 0, false';
}

/** kh, kw, depthwise: the kernel's shape without its placement. */
export function kShape(n: Node): string {
  return n.conv ? `${n.conv.kh}, ${n.conv.kw}, ${isDepthwise(n)}` : '1, 1, false';
}

/** The output as H, W, C. */
export function outGeom(n: Node): string {
  return `${n.outShape[0]}, ${n.outShape[1]}, ${n.outShape[2]}`;
}

/** Pool window and stride; a global pool is one window over the whole input. */
export function poolGeom(n: Node): { ph: number; pw: number; stride: number } {
  return n.op === 'avgpool' ? { ph: n.pool!.size, pw: n.pool!.size, stride: n.pool!.stride } : { ph: n.inShapes[0]![0], pw: n.inShapes[0]![1], stride: 1 };
}
