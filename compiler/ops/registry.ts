/**
 * The one table of ops: one OpDef per OpKind. A kind without a module does not type-check.
 * Every stage finds an op's rules here (opOf) instead of switching on its name.
 */
import type { Node } from '../ir/graph.js';
import type { Activation, Layer } from '../ir/model.js';
import { add } from './add.js';
import { avgpool } from './avgpool.js';
import { conv2d } from './conv2d.js';
import { dense } from './dense.js';
import { depthwiseConv2d } from './depthwise-conv2d.js';
import { flatten } from './flatten.js';
import { globalAvgpool } from './global-avgpool.js';
import { relu, relu6 } from './relu.js';
import type { OpDef, OpKind } from './types.js';

type OpTable = { readonly [K in OpKind]: OpDef };

let table: OpTable | undefined;

/**
 * Built on first use rather than when this module loads: op modules import compiler
 * helpers that themselves dispatch through this registry, so while the import graph is
 * still loading, an op's binding may not exist yet.
 */
function ops(): OpTable {
  return (table ??= {
    conv2d,
    depthwiseConv2d,
    dense,
    add,
    avgpool,
    globalavgpool: globalAvgpool,
    relu,
    relu6,
    flatten,
  });
}

/** The op of a kind. */
export function opDef(kind: OpKind): OpDef {
  return ops()[kind];
}

/** The op of a node. */
export function opOf(n: Pick<Node, 'op'>): OpDef {
  return ops()[n.op];
}

/** Every op, in the table's order. */
export function allOps(): OpDef[] {
  return Object.values(ops());
}

/** The op a model layer is (the schema has checked the layer, so exactly one op matches). */
export function opForLayer(layer: Layer): OpDef {
  const found = allOps().filter((d) => d.layerOp === layer.op && (d.matches?.(layer) ?? true));
  if (found.length !== 1) throw new Error(`internal: layer op '${layer.op}' is ${found.length} ops of the registry`);
  return found[0]!;
}

/** The clamp after a node: its own (relu, relu6) or its fused activation. */
export function clampOf(n: Node): Activation {
  return opOf(n).clamp ?? n.activation;
}
