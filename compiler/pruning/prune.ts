/**
 * Compile-time weight pruning for the pruned kernels (assembly/kernels/sparse.ts), and the
 * choice of which layers run on them.
 *
 * Which layers. Only frozen pointwise layers: 1x1 stride-1 unpadded convs and dense
 * layers whose weights do not train (a trained bias is fine). Trained weights stay unpruned:
 * an update may make a pruned weight non-zero again (and the weight-gradient kernels read
 * the whole, unpruned tensor). Other frozen convs (3x3, depthwise) are not pruned either: there is
 * no pruned kernel for them, so pruning would cost accuracy and save nothing.
 *
 * How. Magnitude pruning of the float weights, before calibration and quantisation (so
 * activation ranges are those of the pruned model; a zero float weight quantises to an
 * exact int8 0 with symmetric scales, and each channel's largest weight, which sets its
 * scale, survives unless the whole channel goes). `layer`: each layer loses the fraction
 * `ratio` of its smallest weights; `global`: one threshold over all those layers' weights
 * (the fraction holds over their total). Ties are broken by position, so the count is
 * exact. Structure `pairs` prunes aligned input-channel pairs (2j, 2j+1) of a row by
 * |w_2j| + |w_2j+1|, for the pair kernels.
 *
 * Imported weights with zeros (e.g. ONNX): a frozen pointwise layer whose int8 weights
 * are at least PRUNED_MIN_ZEROS zero is also stored pruned (as a non-zero list), whether
 * compile --prune zeroed them or not.
 */
import type { Graph, Node } from '../ir/graph.js';
import { opOf } from '../ops/registry.js';
import type { ParamSet } from '../ir/params.js';
import { trainedChannels, type Scheme } from '../scheme/scheme.js';
import { countEntries, type PruneStructure } from './nzlist.js';

export type PruneMode = 'layer' | 'global';

export interface PruneOptions {
  /** Fraction of weights (or pairs) to zero, in [0, 1]. */
  ratio: number;
  mode?: PruneMode;
  structure?: PruneStructure;
}

/** Below this fraction of zero weights the unpruned SIMD forward is as fast (bench/sparse-kernels.ts). */
export const PRUNED_MIN_ZEROS = 0.5;

/**
 * A layer the pruned kernels can run: one [CO, CI] weight matrix applied at every position,
 * i.e. a 1x1 stride-1 unpadded conv that is not depthwise, or a dense layer (a 1x1 conv over
 * its flattened input).
 */
export function isPointwise(n: Node): boolean {
  const view = opOf(n).weights;
  if (!view || view.depthwise) return false;
  const k = view.window(n);
  return k.kh === 1 && k.kw === 1 && k.sh === 1 && k.sw === 1 && k.pads.every((p) => p === 0);
}

/** Pointwise layers whose weights do not train under the scheme. */
export function frozenPointwise(g: Graph, scheme: Scheme): Node[] {
  return g.nodes.filter((n) => isPointwise(n) && trainedChannels(scheme.layers.get(n.name), n) === 0);
}

/** [CO, CI] of a pointwise layer's weights. */
export function pointwiseShape(n: Node): [number, number] {
  return [n.outShape[2], opOf(n).weights!.input(n)[2]];
}

/** A prunable unit: weights [at, at + len) of one layer's weight array. */
interface Unit {
  layer: number;
  at: number;
  len: number;
  mag: number;
}

function unitsOf(w: Float32Array, CO: number, CI: number, structure: PruneStructure, layer: number): Unit[] {
  const out: Unit[] = [];
  const step = structure === 'pairs' ? 2 : 1;
  for (let co = 0; co < CO; co++) {
    for (let c = 0; c < CI; c += step) {
      const at = co * CI + c;
      const len = Math.min(step, CI - c);
      out.push({ layer, at, len, mag: Math.abs(w[at]!) + (len > 1 ? Math.abs(w[at + 1]!) : 0) });
    }
  }
  return out;
}

/**
 * Zeroes the smallest-magnitude weights of `layers` in `params` (copies: the caller's
 * arrays are not touched) and returns the new parameter set.
 */
export function pruneParams(params: ParamSet, layers: Node[], o: PruneOptions): ParamSet {
  const ratio = o.ratio;
  if (!(ratio >= 0 && ratio <= 1)) throw new Error(`prune ratio must be in [0, 1], got ${ratio}`);
  const structure = o.structure ?? 'unstructured';
  const out: ParamSet = new Map(params);
  const weights = layers.map((n) => {
    const p = params.get(n.name)!;
    const w = Float32Array.from(p.weight);
    out.set(n.name, { weight: w, bias: p.bias });
    return w;
  });
  const dropSmallest = (units: Unit[]): void => {
    const k = Math.round(units.length * ratio);
    units.sort((a, b) => a.mag - b.mag || a.layer - b.layer || a.at - b.at);
    for (let i = 0; i < k; i++) weights[units[i]!.layer]!.fill(0, units[i]!.at, units[i]!.at + units[i]!.len);
  };
  const all = layers.map((n, i) => unitsOf(weights[i]!, ...pointwiseShape(n), structure, i));
  if ((o.mode ?? 'layer') === 'global') dropSmallest(all.flat());
  else for (const u of all) dropSmallest(u);
  return out;
}

/** What the compiler decided for one layer that runs on the pruned kernels. */
export interface PrunedLayer {
  structure: PruneStructure;
  /** Fraction of zero int8 weights. */
  sparsity: number;
  /** List entries (non-zeros, or non-zero pairs). */
  entries: number;
  /** true: compile --prune zeroed its smallest weights; false: its zeros came with the model. */
  magnitudePruned: boolean;
}

/**
 * The frozen pointwise layers that run on the pruned kernels: every one compile --prune
 * pruned, and any other whose int8 weights are at least PRUNED_MIN_ZEROS zero. Layers with
 * a -128 weight stay unpruned (the SIMD forward sums two products in 16 bits, which needs
 * |w| <= 127), and so do layers with more input channels than u16 indices reach.
 */
export function choosePrunedLayers(layers: Node[], int8Weights: (n: Node) => Int8Array, pruned: ReadonlySet<string>, structure: PruneStructure): Map<string, PrunedLayer> {
  const out = new Map<string, PrunedLayer>();
  for (const n of layers) {
    const w = int8Weights(n);
    let zeros = 0;
    let min = 0;
    for (let i = 0; i < w.length; i++) {
      if (w[i] === 0) zeros++;
      if (w[i]! < min) min = w[i]!;
    }
    const sparsity = w.length ? zeros / w.length : 0;
    if (min === -128 || (!pruned.has(n.name) && sparsity < PRUNED_MIN_ZEROS)) continue;
    const [CO, CI] = pointwiseShape(n);
    // Imported zeros are unstructured: pairs only where pruning made them.
    const s: PruneStructure = pruned.has(n.name) ? structure : 'unstructured';
    if ((s === 'pairs' ? Math.ceil(CI / 2) : CI) > 0x10000) continue; // indices are at most u16
    out.set(n.name, { structure: s, sparsity, entries: countEntries(w, CO, CI, s), magnitudePruned: pruned.has(n.name) });
  }
  return out;
}
