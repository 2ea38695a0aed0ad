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

/** The kernels' depthwise flag, as the AssemblyScript literal (spelled out: these are words the emitter writes). */
export function depthwiseFlag(n: Node): string {
  return isDepthwise(n) ? 'true' : 'false';
}

/** kh, kw, stride, pad, depthwise (dense: a 1x1 kernel). */
export function kGeom(n: Node): string {
  const k = opOf(n).weights!.window(n);
  return `${k.kh}, ${k.kw}, ${k.stride}, ${k.pad}, ${depthwiseFlag(n)}`;
}

/** kh, kw, depthwise: the kernel's shape without its placement. */
export function kShape(n: Node): string {
  const k = opOf(n).weights!.window(n);
  return `${k.kh}, ${k.kw}, ${depthwiseFlag(n)}`;
}

/** The output as H, W, C. */
export function outGeom(n: Node): string {
  return `${n.outShape[0]}, ${n.outShape[1]}, ${n.outShape[2]}`;
}
