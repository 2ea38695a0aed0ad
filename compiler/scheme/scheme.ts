/**
 * Which parameters train on the device. A layer trains its bias, and/or the weights that
 * read the first `weightRatio` fraction of its *input* channels (depthwise: of its
 * channels); 0 = frozen weights. Input channels, because the weight gradient of input
 * channel c needs only channel c of the saved input: a partially trained layer then saves
 * only that fraction of its input for backward (Lin et al. 2022, sparse update).
 */
import { hasParams, type Graph, type Node } from '../ir/graph.js';
import { opOf } from '../ops/registry.js';

export interface LayerTraining {
  bias: boolean;
  weightRatio: number;
}

export interface Scheme {
  name: string;
  layers: Map<string, LayerTraining>;
}

export function fullScheme(g: Graph): Scheme {
  const layers = new Map<string, LayerTraining>();
  for (const n of g.nodes) if (hasParams(n)) layers.set(n.name, { bias: true, weightRatio: 1 });
  return { name: 'full', layers };
}

export function trainsAnything(t: LayerTraining | undefined): boolean {
  return !!t && (t.bias || t.weightRatio > 0);
}

/**
 * Channels a layer's weights can be split along: the input channels as the kernels read
 * them (dense: its flattened input; depthwise: its channels, one filter each).
 */
export function splitChannels(n: Node): number {
  return (opOf(n).weights?.input(n) ?? n.inShapes[0]!)[2];
}

/** Number of leading (input) channels whose weights train. */
export function trainedChannels(t: LayerTraining | undefined, n: Node): number {
  if (!t || t.weightRatio <= 0) return 0;
  return Math.max(1, Math.round(splitChannels(n) * t.weightRatio));
}
