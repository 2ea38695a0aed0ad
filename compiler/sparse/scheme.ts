/**
 * Which parameters train on the device. A layer trains its bias, and/or the weights of
 * the first `weightRatio` fraction of its output channels (0 = frozen weights).
 */
import { hasParams, type Graph } from '../ir/graph.js';

export interface LayerTraining { bias: boolean; weightRatio: number }

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

/** Number of output channels whose weights train. */
export function trainedChannels(t: LayerTraining | undefined, cout: number): number {
  if (!t || t.weightRatio <= 0) return 0;
  return Math.max(1, Math.round(cout * t.weightRatio));
}
