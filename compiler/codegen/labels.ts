/**
 * Generated code never contains a name from the model: a layer is known there by a label
 * made from its position and op (`n12_conv2d`), which is what comments in runtime.ts say.
 * The manifest's `nodes` table maps labels back to the user's names, for reports and the
 * profiler (host/profile/), which read runtime.ts's comments.
 */
import type { Graph } from '../ir/graph.js';
import { opOf } from '../ops/registry.js';
import type { LayerOp } from '../ops/types.js';

export interface NodeLabel {
  label: string;
  name: string;
  /** The layer op of the model file (a depthwise conv is a `conv2d`). */
  op: LayerOp;
}

/** `n<index>_<op>`: made only of the node's index in forward order and its layer op. */
export function nodeLabel(index: number, op: LayerOp): string {
  return `n${index}_${op}`;
}

/** What a label looks like in generated text (LABEL.source, for matching it there). */
export const LABEL = /\bn\d+_[a-z0-9]+\b/g;

/** Every node's label, in forward order (the manifest's `nodes`). */
export function nodeTable(g: Graph): NodeLabel[] {
  return g.nodes.map((n, i) => ({ label: nodeLabel(i, opOf(n).layerOp), name: n.name, op: opOf(n).layerOp }));
}

/** Label of each node, by node name (for the emitter). */
export function labelsByName(g: Graph): Map<string, string> {
  return new Map(g.nodes.map((n, i) => [n.name, nodeLabel(i, opOf(n).layerOp)]));
}
