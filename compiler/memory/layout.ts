/**
 * The runtime's linear-memory map, fixed at compile time:
 *
 *   [16 .. constEnd)    frozen parameters and quantisation tables, then the kernels'
 *                       parameter records (read-only: Flash on an MCU)
 *   [trainBase .. )     trained parameters, optimizer state, runtime state (the checkpoint)
 *   [arenaBase .. )     the activation/gradient arena planned by planner.ts
 *
 * The first 16 bytes stay unused so that no tensor lives at address 0. Everything in
 * [16 .. trainEnd) is the initial image the host (or firmware) loads.
 */
import { hasParams, isDepthwise, weightShape, type Graph, type Node } from '../ir/graph.js';
import { opOf } from '../ops/registry.js';
import type { QuantModel } from '../quantize/quantize.js';
import { splitChannels, trainedChannels, type Scheme } from '../scheme/scheme.js';
import { encodeNzList, nzFormat } from '../pruning/nzlist.js';
import { pointwiseShape, type PrunedLayer } from '../pruning/prune.js';
import { RUNTIME_STATE } from '../formats/runtime-state.js';

export const IMAGE_BASE = 16;
/**
 * Runtime state: rng (u32), completed steps (u32), skipped steps (u32), last prediction
 * (i32), steps with a non-finite parameter gradient (u32); the record is described in
 * compiler/formats/runtime-state.ts (field offsets: RUNTIME_STATE.offset).
 */
export const STATE_BYTES = RUNTIME_STATE.bytes;

export interface ParamSlots {
  /**
   * Weights. When only the first `split` channels train, they are stored apart (at `wq`,
   * in the trained region) from the frozen rest (at `wq2`, read-only); split = 0 means
   * the whole tensor is at `wq`.
   */
  wq: number;
  wq2: number;
  split: number;
  bq: number;
  wScale: number;
  mult: number;
  shift: number;
  /** Momentum buffers; 0 when the optimizer has none or the parameter is frozen. */
  velW: number;
  velB: number;
  wTrained: boolean;
  bTrained: boolean;
  /**
   * Frozen pruned 1x1 layers: their non-zero list (compiler/pruning/nzlist.ts) replaces
   * the unpruned weights in the frozen region (wq = 0 then); nzFormat: the kernels' format
   * argument (structure and index width).
   */
  nz?: number;
  nzFormat?: number;
}

export interface MemoryLayout {
  slots: Map<string, ParamSlots>;
  /** The addresses of each op's constant tables (OpDef.constants), by node name; nodes without any are absent. */
  constants: Map<string, number[]>;
  /** The frozen region's bytes: parameters, quantisation tables and kernel records. */
  constBytes: number;
  /**
   * Where the kernels' parameter records go (compiler/codegen/records.ts writes them into
   * the image): the end of the frozen region, recordBytes long.
   */
  recordsOffset: number;
  recordBytes: number;
  trainBase: number;
  trainedParamBytes: number;
  optimizerBytes: number;
  stateOffset: number;
  trainEnd: number;
  /** Initial contents of [IMAGE_BASE, trainEnd). */
  image: Uint8Array;
}

const align16 = (n: number): number => Math.ceil(n / 16) * 16;

class Allocator {
  constructor(public cursor: number) {}
  take(bytes: number): number {
    const at = this.cursor;
    this.cursor = align16(this.cursor + bytes);
    return at;
  }
}

/** What a layout writes into the image, by address, placed by an allocator. */
class ImageWrites {
  readonly list: Array<[number, Uint8Array]> = [];
  /** Room for `a` from `region`, with `a` to be written there; its address. */
  place(region: Allocator, a: ArrayBufferView): number {
    const at = region.take(a.byteLength);
    this.list.push([at, new Uint8Array(a.buffer, a.byteOffset, a.byteLength)]);
    return at;
  }
  image(base: number, end: number): Uint8Array {
    const image = new Uint8Array(end - base);
    for (const [at, bytes] of this.list) image.set(bytes, at - base);
    return image;
  }
}

/** One layer's frozen parts (scales, requantisation, frozen weights, a frozen bias), placed in the frozen region. */
function placeFrozen(q: QuantModel, n: Node, scheme: Scheme, pruned: ReadonlyMap<string, PrunedLayer>, ro: Allocator, w: ImageWrites): { slot: ParamSlots; trained: Int8Array } {
  const l = q.layers.get(n.name)!;
  const t = scheme.layers.get(n.name);
  const k = trainedChannels(t, n);
  const wTrained = k > 0;
  const bTrained = !!t?.bias;
  const split = wTrained && k < splitChannels(n) ? k : 0;
  const s: ParamSlots = { wq: 0, wq2: 0, split, bq: 0, wScale: 0, mult: 0, shift: 0, velW: 0, velB: 0, wTrained, bTrained };
  const parts = splitWeights(n, l.wq, split);
  s.wScale = w.place(ro, l.wScale);
  s.mult = w.place(ro, l.mult);
  s.shift = w.place(ro, l.shift);
  const sp = pruned.get(n.name);
  if (sp && !wTrained) {
    s.nz = w.place(ro, encodeNzList(l.wq, ...pointwiseShape(n), sp.structure));
    s.nzFormat = nzFormat(pointwiseShape(n)[1], sp.structure);
  } else if (!wTrained) {
    s.wq = w.place(ro, l.wq);
  } else if (split > 0) {
    s.wq2 = w.place(ro, parts.frozen);
  }
  if (!bTrained) s.bq = w.place(ro, l.bq);
  return { slot: s, trained: parts.trained };
}

/** Every op's constant tables (OpDef.constants, from its prepare data), node by node, in the frozen region. */
function placeConstants(q: QuantModel, ro: Allocator, w: ImageWrites): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const n of q.graph.nodes) {
    const tables = opOf(n).constants?.(q.opData.get(n.name));
    if (tables?.length)
      out.set(
        n.name,
        tables.map((t) => w.place(ro, t)),
      );
  }
  return out;
}

/** Trained weights and biases, layer by layer, then (with momentum) their optimizer state, in the trained region. */
function placeTrained(q: QuantModel, g: Graph, slots: Map<string, ParamSlots>, trainedWeights: Map<string, Int8Array>, momentum: boolean, rw: Allocator, w: ImageWrites): number {
  for (const n of g.nodes) {
    const s = slots.get(n.name);
    if (!s) continue;
    if (s.wTrained) s.wq = w.place(rw, trainedWeights.get(n.name)!);
    if (s.bTrained) s.bq = w.place(rw, q.layers.get(n.name)!.bq);
  }
  const optBase = rw.cursor;
  if (momentum) {
    for (const n of g.nodes) {
      const s = slots.get(n.name);
      if (!s) continue;
      if (s.wTrained) s.velW = rw.take(4 * trainedWeights.get(n.name)!.length);
      if (s.bTrained) s.velB = rw.take(4 * q.layers.get(n.name)!.bq.length);
    }
  }
  return optBase;
}

/** `recordBytes`: room to keep for the kernel records at the end of the frozen region (records.ts knows how much). */
export function layoutParams(q: QuantModel, scheme: Scheme, momentum: boolean, pruned: ReadonlyMap<string, PrunedLayer> = new Map(), recordBytes = 0): MemoryLayout {
  const g: Graph = q.graph;
  const slots = new Map<string, ParamSlots>();
  const trainedWeights = new Map<string, Int8Array>();
  const w = new ImageWrites();

  // Frozen region first: everything the device only reads.
  const ro = new Allocator(IMAGE_BASE);
  for (const n of g.nodes) {
    if (!hasParams(n)) continue;
    const { slot, trained } = placeFrozen(q, n, scheme, pruned, ro, w);
    slots.set(n.name, slot);
    trainedWeights.set(n.name, trained);
  }
  const constants = placeConstants(q, ro, w);
  const recordsOffset = ro.take(recordBytes);
  const constBytes = ro.cursor - IMAGE_BASE;

  // Trained region: parameters, then optimizer state, then runtime state.
  const rw = new Allocator(ro.cursor);
  const trainBase = rw.cursor;
  const optBase = placeTrained(q, g, slots, trainedWeights, momentum, rw, w);
  const trainedParamBytes = optBase - trainBase;
  const optimizerBytes = rw.cursor - optBase;
  const stateOffset = rw.take(STATE_BYTES);
  const trainEnd = rw.cursor;
  const image = w.image(IMAGE_BASE, trainEnd);
  return { slots, constants, constBytes, recordsOffset, recordBytes, trainBase, trainedParamBytes, optimizerBytes, stateOffset, trainEnd, image };
}

/**
 * The frozen parameters and quantisation tables as the image holds them, without the
 * kernel records after them: what a checkpoint depends on (records hold arena addresses,
 * which two plans of the same parameters may place differently).
 */
export function frozenParams(layout: MemoryLayout): Uint8Array {
  return layout.image.subarray(0, layout.recordsOffset - IMAGE_BASE);
}

/**
 * Splits int8 weights [CO, KH, KW, CI] into the slice of the first `split` input channels
 * ([CO, KH, KW, split]) and the rest ([CO, KH, KW, CI - split]); depthwise weights
 * [C, KH, KW, 1] split along C. split = 0: everything is "trained".
 */
export function splitWeights(n: Node, wq: Int8Array, split: number): { trained: Int8Array; frozen: Int8Array } {
  if (split === 0) return { trained: wq, frozen: new Int8Array(0) };
  const [cout, kh, kw, cin] = weightShape(n);
  if (isDepthwise(n)) {
    const per = kh * kw * cin;
    return { trained: wq.slice(0, split * per), frozen: wq.slice(split * per) };
  }
  const rows = cout * kh * kw;
  const trained = new Int8Array(rows * split);
  const frozen = new Int8Array(rows * (cin - split));
  for (let r = 0; r < rows; r++) {
    trained.set(wq.subarray(r * cin, r * cin + split), r * split);
    frozen.set(wq.subarray(r * cin + split, (r + 1) * cin), r * (cin - split));
  }
  return { trained, frozen };
}

/** Inverse of splitWeights. */
export function joinWeights(n: Node, trained: Int8Array, frozen: Int8Array, split: number): Int8Array {
  if (split === 0) return trained;
  const [cout, kh, kw, cin] = weightShape(n);
  if (isDepthwise(n)) {
    const out = new Int8Array(trained.length + frozen.length);
    out.set(trained);
    out.set(frozen, trained.length);
    return out;
  }
  const rows = cout * kh * kw;
  const out = new Int8Array(rows * cin);
  for (let r = 0; r < rows; r++) {
    out.set(trained.subarray(r * split, (r + 1) * split), r * cin);
    out.set(frozen.subarray(r * (cin - split), (r + 1) * (cin - split)), r * cin + split);
  }
  return out;
}
