/**
 * The cost side of `--scheme auto`: the SRAM a scheme needs, by the planner compile()
 * uses (sramNeeded(planModel(...))) without its placement order search, never an
 * estimate: compile()'s figure is at most this one (the search starts from these orders
 * and keeps no worse one). A plan then takes milliseconds and the searches ask for the
 * same scheme many times, so plans are memoised by scheme, and the number of distinct
 * plans made is kept for the result; `exact` gives compile()'s own figure.
 */
import type { Node } from '../ir/graph.js';
import type { QuantModel } from '../quantize/quantize.js';
import { planModel, sramNeeded } from '../index.js';
import type { Target } from '../../targets/index.js';
import type { LayerTraining } from './scheme.js';

export class PlanCosts {
  /** Distinct schemes planned so far (cache misses). */
  evaluated = 0;
  private readonly cache = new Map<string, number>();

  constructor(
    private readonly quant: QuantModel,
    private readonly target: Target,
    /** The trainable layers, in graph order: a scheme's cache key lists them in this order. */
    private readonly layers: Node[],
    private readonly momentum: number,
  ) {}

  /** sramNeeded() of the plan that trains `layers` as given. */
  cost(layers: Map<string, LayerTraining>): number {
    const key = this.keyOf(layers);
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    this.evaluated++;
    const bytes = this.sram(layers, false);
    this.cache.set(key, bytes);
    return bytes;
  }

  /** sramNeeded() of the plan compile() makes for `layers` (with the placement search). */
  exact(layers: Map<string, LayerTraining>): number {
    return this.sram(layers, true);
  }

  private sram(layers: Map<string, LayerTraining>, placementSearch: boolean): number {
    return sramNeeded(planModel(this.quant, { scheme: { name: 'auto', layers }, momentum: this.momentum, placementSearch }), this.target);
  }

  private keyOf(m: Map<string, LayerTraining>): string {
    return this.layers
      .map((n) => {
        const t = m.get(n.name)!;
        return `${t.bias ? 1 : 0}${t.weightRatio}`;
      })
      .join(',');
  }
}
