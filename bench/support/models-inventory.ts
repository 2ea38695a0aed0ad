/**
 * The operator inventory of a model file: every operator type its main graph uses, how
 * many times, and whether tinytrain's importer has a handler for it. The importer stops
 * at its first refusal; this lists every wall at once, so the bench can say which
 * operator would unlock how many models. It reads the importer's own tables (HANDLERS,
 * isKnownOp), so it follows whatever the importer supports.
 */
import { isKnownOp } from '../../compiler/frontend/onnx/opsets.js';
import { decodeModel } from '../../compiler/frontend/onnx/proto.js';
import { builtinName } from '../../compiler/frontend/tflite/operator-names.js';
import { TfliteModel } from '../../compiler/frontend/tflite/model.js';
import { HANDLERS } from '../../compiler/frontend/tflite/ops/index.js';

export interface OpCount {
  op: string;
  count: number;
  /** The importer has a handler for this operator type (it may still refuse some of its attributes or shapes). */
  known: boolean;
}

export interface Inventory {
  /** Operators of the main graph (subgraph 0 for TFLite, the top-level graph for ONNX). */
  operators: number;
  ops: OpCount[];
  /** Further TFLite subgraphs / ONNX nodes holding subgraphs (If, Loop, Scan). */
  subgraphs: number;
  /** The graph's inputs (ONNX: not counting initializers) and outputs: tinytrain takes one of each. */
  inputs: number;
  outputs: number;
}

function tally(names: { op: string; known: boolean }[]): OpCount[] {
  const counts = new Map<string, OpCount>();
  for (const { op, known } of names) {
    const c = counts.get(op) ?? { op, count: 0, known };
    c.count++;
    counts.set(op, c);
  }
  return [...counts.values()].sort((a, b) => Number(a.known) - Number(b.known) || b.count - a.count || a.op.localeCompare(b.op));
}

export function tfliteInventory(bytes: Uint8Array, where: string): Inventory {
  const model = new TfliteModel(bytes, where);
  const graph = model.subgraph(0);
  const names = Array.from({ length: graph.operatorCount }, (_, i) => {
    const op = graph.operator(i);
    const name = op.code.builtin === 32 && op.code.custom ? `CUSTOM '${op.code.custom}'` : builtinName(op.code.builtin);
    return { op: name, known: HANDLERS[op.code.builtin] !== undefined && !op.hasOptions2 };
  });
  return { operators: names.length, ops: tally(names), subgraphs: model.subgraphCount - 1, inputs: graph.inputs.length, outputs: graph.outputs.length };
}

const STANDARD_DOMAINS = new Set(['', 'ai.onnx']);

export function onnxInventory(bytes: Uint8Array, where: string): Inventory {
  const graph = decodeModel(bytes, where).graph;
  const nodes = graph?.node ?? [];
  const initializers = new Set((graph?.initializer ?? []).map((t) => t.name));
  const names = nodes.map((n) => {
    const domain = n.domain ?? '';
    const op = STANDARD_DOMAINS.has(domain) ? (n.op_type ?? '') : `${domain}.${n.op_type ?? ''}`;
    return { op, known: STANDARD_DOMAINS.has(domain) && isKnownOp(n.op_type ?? '') };
  });
  const subgraphs = nodes.filter((n) => (n.attribute ?? []).some((a) => a.g || a.graphs.length > 0)).length;
  const inputs = (graph?.input ?? []).filter((i) => !initializers.has(i.name)).length;
  return { operators: names.length, ops: tally(names), subgraphs, inputs, outputs: graph?.output.length ?? 0 };
}
