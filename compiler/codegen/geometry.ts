/**
 * Shapes as the kernels' parameter records name them (compiler/formats/kernel-records.ts).
 * Pure functions of a node: the same node always gives the same fields, whichever step
 * emits them.
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

/** The input's record fields H, W, C (inGeom). */
export function inShape(n: Node): { H: number; W: number; C: number } {
  const [H, W, C] = inGeom(n);
  return { H, W, C };
}

/** The output's record fields OH, OW, CO. */
export function outShape(n: Node): { OH: number; OW: number; CO: number } {
  return { OH: n.outShape[0], OW: n.outShape[1], CO: n.outShape[2] };
}

/** The kernel's shape without its placement: KH, KW and the depthwise flag (dense: a 1x1 kernel). */
export function kernelSize(n: Node): { KH: number; KW: number; depthwise: boolean } {
  const k = opOf(n).weights!.window(n);
  return { KH: k.kh, KW: k.kw, depthwise: isDepthwise(n) };
}

/**
 * KH, KW, strideH, strideW, padH, padW (the leading pads, rows above and columns on the left:
 * the trailing ones only size the output), depthwise (dense: a 1x1 kernel, stride 1, no padding).
 */
export function kernelShape(n: Node): { KH: number; KW: number; strideH: number; strideW: number; padH: number; padW: number; depthwise: boolean } {
  const k = opOf(n).weights!.window(n);
  return { ...kernelSize(n), strideH: k.sh, strideW: k.sw, padH: k.pads[0], padW: k.pads[1] };
}
