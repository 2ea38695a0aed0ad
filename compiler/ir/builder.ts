/**
 * A small TS builder for model specs, for when writing the JSON by hand is tedious
 * (e.g. MobileNetV2's 17 blocks). It produces exactly the JSON format of model.ts.
 *
 *   const m = new ModelBuilder('tiny', [28, 28, 1]);
 *   const x = m.conv('c1', 8, 3, { stride: 2, padding: 1, activation: 'relu' });
 *   m.dense('fc', 10, { from: m.gap('pool') });
 *   const spec = m.build();
 */
import type { Activation, Layer, ModelSpec } from './model.js';

export interface ConvOptions {
  stride?: number;
  padding?: number;
  activation?: Activation;
  from?: string;
}

export class ModelBuilder {
  private readonly layers: Layer[] = [];
  private last = 'input';

  constructor(
    readonly name: string,
    readonly input: [number, number, number],
    readonly inputRange: [number, number] = [0, 1],
  ) {}

  private push(layer: Layer & { name: string }, from?: string): string {
    const source = from ?? this.last;
    const previous = this.layers[this.layers.length - 1]?.name ?? 'input';
    // Only say where the input comes from when it is not simply the previous layer.
    if (!layer.inputs && source !== previous) (layer as { inputs?: string[] }).inputs = [source];
    this.layers.push(layer);
    this.last = layer.name;
    return layer.name;
  }

  /** Make `name` the input of the next layer added without `from`. */
  from(name: string): this {
    this.last = name;
    return this;
  }

  conv(name: string, filters: number, kernel: number, o: ConvOptions = {}): string {
    return this.push({ op: 'conv2d', name, filters, kernel, stride: o.stride ?? 1, padding: o.padding ?? 0, activation: o.activation ?? 'none' }, o.from);
  }

  depthwise(name: string, channels: number, kernel: number, o: ConvOptions = {}): string {
    return this.push(
      { op: 'conv2d', name, filters: channels, kernel, groups: 'depthwise', stride: o.stride ?? 1, padding: o.padding ?? 0, activation: o.activation ?? 'none' },
      o.from,
    );
  }

  dense(name: string, units: number, o: { activation?: Activation; from?: string } = {}): string {
    return this.push({ op: 'dense', name, units, activation: o.activation ?? 'none' }, o.from);
  }

  add(name: string, a: string, b: string, activation: Activation = 'none'): string {
    return this.push({ op: 'add', name, inputs: [a, b], activation });
  }

  avgpool(name: string, size: number, stride = size, from?: string): string {
    return this.push({ op: 'avgpool', name, size, stride }, from);
  }

  gap(name: string, from?: string): string {
    return this.push({ op: 'globalavgpool', name }, from);
  }
  flatten(name: string, from?: string): string {
    return this.push({ op: 'flatten', name }, from);
  }
  relu(name: string, from?: string): string {
    return this.push({ op: 'relu', name }, from);
  }
  relu6(name: string, from?: string): string {
    return this.push({ op: 'relu6', name }, from);
  }

  build(extra: Partial<Pick<ModelSpec, 'seed' | 'notes'>> = {}): ModelSpec {
    return { format: 'tinytrain-model@1', name: this.name, input: this.input, inputRange: this.inputRange, layers: this.layers.map((l) => ({ ...l })), ...extra };
  }
}
