/**
 * The project's own model description: what `examples/<name>.json` holds and what the
 * TS builder (builder.ts) produces. It is deliberately close to a Keras Sequential list:
 * every layer reads the previous layer's output unless it names its `inputs`.
 *
 * Layouts (batch 1): activations HWC; conv weights [Cout, KH, KW, Cin/groups];
 * dense weights [Cout, Cin]. Float parameters travel as base64 little-endian float32.
 */
import type { RegisteredLayer } from '../ops/registry.js';

export type Activation = 'none' | 'relu' | 'relu6';

/**
 * One layer: its `op` is a layer op of the registry (compiler/ops/registry.ts), and each
 * op's module documents the interface of its layers and holds their schema (e.g.
 * DenseLayer in compiler/ops/dense.ts; a layer with nothing but its op is a PlainLayer,
 * compiler/ops/layer-fields.ts).
 */
export type Layer = RegisteredLayer;

export interface FloatParams {
  /** base64 of little-endian float32, in the layouts above. */
  weight: string;
  bias: string;
}

export interface ModelSpec {
  format: 'tinytrain-model@1';
  name: string;
  /** [H, W, C] of one sample. */
  input: [number, number, number];
  /** Range of the real-valued input, used to pick the input quantisation. */
  inputRange?: [number, number];
  layers: Layer[];
  /** Seed for deterministic He-normal initialisation of layers with no stored params. */
  seed?: number;
  /** Trained float parameters, by layer name. */
  params?: Record<string, FloatParams>;
  /** Calibrated real-valued range of every tensor, by tensor name (set by pretraining). */
  calibration?: Record<string, [number, number]>;
  /**
   * Fixed int8 quantisation (from an imported int8 QDQ model), used instead of what
   * calibration would choose. Optional; every entry is optional.
   */
  quantization?: QuantizationSpec;
  /**
   * What inference applies to the logits (an imported model's final Softmax/LogSoftmax;
   * a final sigmoid the bce loss took over, compiler/loss.ts). Training never applies it:
   * the loss is computed from the logits, and the prediction is the same either way.
   */
  outputActivation?: 'softmax' | 'logsoftmax' | 'sigmoid';
  /**
   * The scheme `tinytrain compile` uses when it is given no --scheme: a scheme object in
   * either form a scheme file takes (compiler/scheme/parse.ts schemeFromJson), checked
   * against the model's layers when compiling. Lets a model file ship with the scheme that
   * fits its device (examples/mbv2-w0.35-128.json carries the reference's 99 KB scheme).
   */
  scheme?: Record<string, unknown>;
  /** Free-form provenance: how the params were produced. */
  notes?: string;
  /** Set to "tinytrain pretrain" in files `pretrain` writes, which a later `pretrain --out` may replace; hand-written models have none. */
  generator?: string;
}

export interface QuantizationSpec {
  /** Per-tensor activation quantisation by tensor name ('input' or a layer name): real = scale * (q - zeroPoint), q int8. */
  tensors?: Record<string, { scale: number; zeroPoint: number }>;
  /** Per-output-channel symmetric weight scales of conv2d/dense layers, by layer name. */
  weights?: Record<string, number[]>;
}
