/**
 * The one table of ops: one OpDef per op kind. The table's keys are the closed set OpKind,
 * and its ops' layer interfaces make up the model format's Layer type, so registering an
 * op here is all it takes for the compiler to know it: its kind, its layer in a model file
 * (model-schema.ts builds the schema from layerFormats()), its rules. Every stage finds an
 * op's rules here (opOf) instead of switching on its name.
 */
import type { Node } from '../ir/graph.js';
import type { Activation, Layer } from '../ir/model.js';
import { add } from './add.js';
import { avgpool } from './avgpool.js';
import { concat } from './concat.js';
import { conv2d } from './conv2d.js';
import { dense } from './dense.js';
import { depthwiseConv2d } from './depthwise-conv2d.js';
import { flatten } from './flatten.js';
import { globalAvgpool } from './global-avgpool.js';
import { maxpool } from './maxpool.js';
import { mul } from './mul.js';
import { padChannels } from './pad-channels.js';
import { prelu } from './prelu.js';
import { relu, relu6 } from './relu.js';
import { clampmin, hardsigmoid, hardswish, leakyrelu, sigmoid, silu } from './table-activation.js';
import type { LayerFields, LayerOp, LayerSchema, OpDef } from './types.js';

/**
 * The table. A function, called on first use rather than when this module loads: op
 * modules import compiler helpers that themselves dispatch through this registry, so while
 * the import graph is still loading, an op's binding may not exist yet.
 */
function table() {
  return {
    conv2d,
    depthwiseConv2d,
    dense,
    add,
    avgpool,
    globalavgpool: globalAvgpool,
    relu,
    relu6,
    flatten,
    maxpool,
    sigmoid,
    hardsigmoid,
    hardswish,
    silu,
    leakyrelu,
    clampmin,
    mul,
    concat,
    prelu,
    padchannels: padChannels,
  };
}

type Table = ReturnType<typeof table>;

/** The op kinds: the table's keys (an op's `kind` is its key; test/ops/registry.test.ts checks it). */
export type OpKind = keyof Table;

type LayerOf<D> = D extends OpDef<infer L, infer _D> ? L : never;

/** The layers of a model file: every registered op's layer interface (model.ts calls it Layer). */
export type RegisteredLayer = LayerOf<Table[OpKind]>;

let ops: { readonly [K in OpKind]: OpDef } | undefined;

/**
 * Ops added for the length of one withExtraOps call. Empty outside tests; a test uses it to
 * try the interface on an op the table does not have (test/ops/fake-ops.test.ts).
 */
let extra: readonly OpDef[] = [];

/** The op of a kind. */
export function opDef(kind: OpKind): OpDef {
  return opOf({ op: kind });
}

/** The op of a node. */
export function opOf(n: Pick<Node, 'op'>): OpDef {
  ops ??= table();
  return ops[n.op] ?? extra.find((d) => d.kind === n.op)!;
}

/** Every op, in the table's order. */
export function allOps(): OpDef[] {
  ops ??= table();
  return [...Object.values(ops), ...extra];
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

/** A layer op of the model format and the schema of its layers. */
export interface LayerFormat {
  op: LayerOp;
  schema: LayerSchema<Layer>;
}

let formats: { ops: readonly OpDef[]; list: readonly LayerFormat[] } | undefined;

/**
 * Each layer op once, in the table's order, with its schema (ops sharing a layer op share
 * its schema). The same array until the set of ops changes, so a caller may keep what it
 * builds from it for as long as it gets the same array back.
 */
export function layerFormats(): readonly LayerFormat[] {
  const all = allOps();
  if (formats && formats.ops.length === all.length && formats.ops.every((d, i) => d === all[i])) return formats.list;
  const list: LayerFormat[] = [];
  for (const d of all) {
    const seen = list.find((f) => f.op === d.layerOp);
    if (!seen) list.push({ op: d.layerOp as LayerOp, schema: d.layer as LayerSchema<Layer> });
    else if (seen.schema !== d.layer) throw new Error(`internal: ops of layer op '${d.layerOp}' have different schemas`);
  }
  formats = { ops: all, list };
  return list;
}

/**
 * Runs `body` with `added` registered after the table's, then forgets them: for tests of the
 * interface itself (a fake op with a backward no op has yet, or any number of inputs).
 * Their kinds and layer ops must be new.
 */
export function withExtraOps<T>(added: ReadonlyArray<OpDef<LayerFields>>, body: () => T): T {
  const before = extra;
  // Their layers are not in the Layer type (that is the table's), only in the schema while they are here.
  extra = [...before, ...(added as readonly OpDef[])];
  try {
    return body();
  } finally {
    extra = before;
  }
}
