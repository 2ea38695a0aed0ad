/**
 * The training losses, and which one a model trains with (compile --loss):
 *
 *   softmax-ce  softmax cross-entropy against a class label (the default for several outputs)
 *   bce         sigmoid binary cross-entropy on the logits, the mean over K outputs as
 *               PyTorch's BCEWithLogitsLoss: one output trains on the u8 label (0 or 1),
 *               K > 1 outputs (multi-label) on K targets in {0, 1} per sample
 *   mse         mean squared error on the dequantised outputs against K real targets
 *
 * A model whose last layer is a sigmoid defaults to bce, and for bce that sigmoid is not
 * run in training (the loss is computed stably from the logit before it, as Softmax is
 * dropped for softmax-ce); it is recorded as the output's activation for inference.
 * A one-output model without a sigmoid defaults to bce too: softmax over one class is
 * constant, so nothing would train.
 */
import { TinytrainError } from './errors.js';
import { buildGraph } from './ir/graph.js';
import type { ModelSpec } from './ir/model.js';
import { layerName } from './ir/model-schema.js';

export const LOSS_KINDS = ['softmax-ce', 'bce', 'mse'] as const;
export type LossKind = (typeof LOSS_KINDS)[number];

/** How a loss gets its target: a class label (trainStep's `label`), or K real values the host writes into the target buffer. */
export type TargetKind = 'label' | 'values';

export interface LossChoice {
  kind: LossKind;
  /** The model to train: the spec given, less a final sigmoid that bce takes over. */
  spec: ModelSpec;
  /** Why the loss or the model changed, for the user (compile prints it). */
  notes: string[];
}

/** The loss and how its targets arrive, for a model with `outputs` outputs. */
export function targetKind(kind: LossKind, outputs: number): TargetKind {
  return kind === 'softmax-ce' || (kind === 'bce' && outputs === 1) ? 'label' : 'values';
}

/** Labels a label-trained loss accepts: 0 .. limit - 1 (classes, or 0/1 for one-output bce). */
export function labelLimit(kind: LossKind, outputs: number): number {
  return kind === 'bce' ? 2 : outputs;
}

/**
 * Bytes of the loss's target buffer, which the runtime keeps right after the arena: K
 * float32 targets the host writes (values), or the one-output bce label as a float32
 * (the runtime stores it); none for softmax-ce. 16-aligned like every region.
 */
export function targetBufferBytes(kind: LossKind, outputs: number): number {
  if (kind === 'softmax-ce') return 0;
  return Math.ceil((4 * outputs) / 16) * 16;
}

export function parseLoss(text: string): LossKind {
  if ((LOSS_KINDS as readonly string[]).includes(text)) return text as LossKind;
  throw new TinytrainError(`unknown loss '${text}'`, `choose one of ${LOSS_KINDS.join(', ')}`);
}

/** The loss a model trains with (requested, or the default rule above) and the spec it trains. */
export function chooseLoss(spec: ModelSpec, requested: LossKind | undefined): LossChoice {
  const outputs = buildGraph(spec).classes;
  const last = spec.layers[spec.layers.length - 1];
  const endsInSigmoid = last?.op === 'sigmoid' && spec.layers.length > 1;
  const kind: LossKind = requested ?? (endsInSigmoid || outputs === 1 ? 'bce' : 'softmax-ce');
  const notes: string[] = requested ? [] : [`loss ${kind} (the default for ${endsInSigmoid ? 'a model that ends in a sigmoid' : `${outputs} output${outputs === 1 ? '' : 's'}`})`];
  if (spec.outputActivation && kind !== 'softmax-ce') {
    throw new TinytrainError(`model '${spec.name}' ends in ${spec.outputActivation}, which only the softmax-ce loss trains`, 'compile with --loss softmax-ce');
  }
  if (kind === 'softmax-ce' && outputs === 1) {
    throw new TinytrainError(`model '${spec.name}' has one output: softmax cross-entropy over one class is constant`, 'compile with --loss bce (a 0/1 label) or --loss mse');
  }
  if (kind !== 'bce' || !endsInSigmoid) return { kind, spec, notes };
  return { kind, spec: withoutFinalSigmoid(spec), notes: [...notes, `the final sigmoid is not run in training (bce is computed from the logit before it); inference applies it`] };
}

function withoutFinalSigmoid(spec: ModelSpec): ModelSpec {
  const layers = spec.layers.slice(0, -1);
  const sigmoid = spec.layers[spec.layers.length - 1]!;
  const before = layers[layers.length - 1]!;
  const reads = sigmoid.inputs?.[0];
  if (reads !== undefined && reads !== layerName(before, layers.length - 1)) {
    throw new TinytrainError(
      `model '${spec.name}': the final sigmoid reads '${reads}', not the layer before it`,
      'end the model with the layer whose output the sigmoid takes, then the sigmoid',
    );
  }
  // The sigmoid's tensor is gone with it: so are its calibrated range and fixed quantisation.
  const name = layerName(sigmoid, layers.length);
  const without = <T>(table: Record<string, T> | undefined): Record<string, T> | undefined => table && Object.fromEntries(Object.entries(table).filter(([t]) => t !== name));
  const out: ModelSpec = { ...spec, layers, outputActivation: 'sigmoid' };
  if (spec.calibration) out.calibration = without(spec.calibration);
  if (spec.quantization?.tensors) out.quantization = { ...spec.quantization, tensors: without(spec.quantization.tensors) };
  return out;
}
