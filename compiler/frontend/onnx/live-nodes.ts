/**
 * Which nodes matter: the producer of every tensor name (each produced once: SSA), the
 * nodes the output depends on (the others are dropped, with a note), and the tensor names
 * those nodes read (a node output nobody reads need not be computed).
 */
import { nodeError } from './ir.js';
import type { GraphIo } from './graph-io.js';
import type { OnnxGraph, OnnxNode } from './proto.js';

export interface LiveNodes {
  /** Index of the node that produces each tensor name. */
  producer: Map<string, number>;
  /** Indices of the nodes the output depends on. */
  needed: Set<number>;
  /** Tensor names read by needed nodes, and the output. */
  consumed: Set<string>;
  /** Nodes the output does not depend on. */
  dropped: number;
}

/** "'name' (OpType)", or "#index (OpType)" for a node without a name: how errors name a node. */
export function nodeLabel(n: OnnxNode, i: number): string {
  return `${n.name ? `'${n.name}'` : `#${i}`} (${n.op_type ?? '?'})`;
}

export function liveNodes(graph: OnnxGraph, io: GraphIo): LiveNodes {
  const producer = producers(graph, io);
  const needed = new Set<number>();
  const stack = [io.outputName];
  const seen = new Set<string>();
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const p = producer.get(t);
    if (p === undefined || needed.has(p)) continue;
    needed.add(p);
    for (const i of graph.node[p]!.input) if (i) stack.push(i);
  }
  const consumed = new Set<string>([io.outputName]);
  for (const i of needed) for (const t of graph.node[i]!.input) consumed.add(t);
  return { producer, needed, consumed, dropped: graph.node.length - needed.size };
}

function producers(graph: OnnxGraph, io: GraphIo): Map<string, number> {
  const producer = new Map<string, number>();
  graph.node.forEach((n, i) => {
    for (const o of n.output) {
      if (!o) continue;
      if (producer.has(o) || o === io.inputName || io.initializers.has(o))
        throw nodeError(nodeLabel(n, i), `output '${o}' is already defined`, 'every tensor name must be produced once (SSA)');
      producer.set(o, i);
    }
  });
  return producer;
}
