/** The artifact manifest: what a host or firmware needs to drive a compiled runtime. */
import { labelLimit, targetBufferBytes, type LossKind } from './loss.js';

/** The file an artifact keeps its generated source in (the profiler rebuilds from it). */
export const SOURCE_FILE = 'runtime.ts';

export interface TensorPort {
  name: string;
  offset: number;
  shape: number[];
  dtype: 'int8';
  scale: number;
  zeroPoint: number;
  /** Real-valued range the input quantisation covers. */
  range?: [number, number];
  /** Outputs only: what inference applies to the logits (training uses raw logits). */
  activation?: 'none' | 'softmax' | 'logsoftmax' | 'sigmoid';
}

export interface MemoryBreakdown {
  /** Arena bytes holding int8 activations saved for backward, at the arena's peak step. */
  savedActivationsBytes: number;
  /** Arena bytes holding float32 gradients at the peak step. */
  gradientBytes: number;
  /** Arena size including alignment and fragmentation. */
  arenaBytes: number;
  trainedParamsBytes: number;
  optimizerStateBytes: number;
  runtimeStateBytes: number;
  /** The compiler's static data above the arena (abort messages). */
  staticDataBytes: number;
  /** Frozen weights and quantisation tables: Flash on MCU targets, RAM elsewhere. */
  frozenParamsBytes: number;
  /** Of frozenParamsBytes: the kernels' parameter records (shapes, addresses, quantisation of every kernel call). */
  kernelRecordsBytes: number;
  /** The target's reserve for the C stack and the runtime itself. */
  runtimeReserveBytes: number;
  /** Size of the runtime code (the WASM module the target runs). */
  codeBytes: number;
}

/**
 * The same SRAM counted two ways (README "Memory accounting"). The reference's way (the Tiny
 * Training Engine's TinyEngine code counts its peak so): the activation arena with its kernel
 * scratch, which tinytrain plans inside the arena. All-inclusive: everything the device's SRAM
 * holds while it trains, = sramPeakBytes.
 */
export interface MemoryAccounting {
  referenceStyleBytes: number;
  allInclusiveBytes: number;
  /** Of allInclusiveBytes: the reserve for the C stack, and where its size comes from. */
  stackBytes: number;
  stackSource: 'target-reserve';
}

export interface Manifest {
  format: 'tinytrain-artifact@1';
  model: string;
  target: string;
  targetKind: 'mcu' | 'mobile' | 'desktop';
  scheme: { name: string; layers: Array<{ name: string; bias: boolean; weightRatio: number; channels: number; splitChannels: number }> };
  optimizer: { kind: 'sgd'; momentum: number; qas: boolean; rounding: 'stochastic' | 'nearest' };
  classes: number;
  inputs: TensorPort[];
  outputs: TensorPort[];
  files: { wasm: string; wasmSimd: string; wasmScalar: string; wasmWasi: string; image: string };
  /** Size and sha256 of every other file of the artifact folder (see Integrity). */
  integrity: Integrity;
  /** Initial image: [offset, offset+bytes) of linear memory. */
  image: { offset: number; bytes: number; sha256: string };
  /** The trained parameters + optimizer + runtime state: what a checkpoint holds. */
  checkpoint: { offset: number; bytes: number };
  state: { offset: number };
  arena: { offset: number; bytes: number; strategy: string; candidates: Array<{ strategy: string; arenaBytes: number }>; peakLiveBytes: number; reuse: boolean };
  /** Fixed size of the WASM linear memory (initial = maximum). */
  wasmMemoryBytes: number;
  memory: {
    sramPeakBytes: number;
    flashBytes: number;
    budgetBytes?: number;
    breakdown: MemoryBreakdown;
    accounting: MemoryAccounting;
  };
  /** Every arena buffer, for reports: lifetime in program steps. */
  buffers: Array<{ key: string; offset: number; bytes: number; first: number; last: number }>;
  /**
   * Every graph node in forward order: the label runtime.ts calls it by (generated code
   * never contains the model's own names) and the model's name for it.
   */
  nodes: Array<{ label: string; name: string; op: string }>;
  /** The training program, one line per step. */
  program: string[];
  lossStep: number;
  /**
   * The training loss (compile --loss; compiler/loss.ts). `targets`: where the host writes
   * each sample's K float32 targets before trainStep (multi-label bce, mse), or null when
   * the loss reads trainStep's label. Absent in older manifests: softmax-ce.
   */
  loss?: { kind: LossKind; targets: { offset: number; count: number } | null };
  /** Identity of the artifact's trainable layout; checkpoints carry it. */
  layoutId: string;
  /**
   * Frozen 1x1 layers stored pruned, on the pruned kernels (compile --prune, or weights that
   * arrive with zeros): per layer the fraction of zero int8 weights and the Flash of its
   * non-zero list against the unpruned weights; flashSavedBytes sums the difference. The
   * field names are historical (docs/glossary.md): `sparse` = pruned layers, `denseBytes` =
   * the unpruned weights' bytes, `pruned` = compile --prune zeroed them (not imported zeros).
   */
  sparse?: {
    prune: { ratio: number; mode: string; structure: string } | null;
    flashSavedBytes: number;
    layers: Array<{ name: string; structure: string; sparsity: number; entries: number; pruned: boolean; denseBytes: number; listBytes: number }>;
  };
}

/**
 * What an artifact folder's files must be: every file a host or firmware reads, with its
 * size and sha256. manifest.json itself is not listed (it holds the list). A host reads
 * no file of an artifact that is not named here.
 */
export type Integrity = Record<string, { bytes: number; sha256: string }>;

/** The manifest's loss; an older manifest without one trains softmax cross-entropy on labels. */
export function manifestLoss(m: Pick<Manifest, 'loss'>): NonNullable<Manifest['loss']> {
  return m.loss ?? { kind: 'softmax-ce', targets: null };
}

/** Labels a label-trained artifact accepts are 0 .. this - 1 (0 for one that trains on target values: its labels are not read). */
export function manifestLabelLimit(m: Pick<Manifest, 'loss' | 'classes'>): number {
  const loss = manifestLoss(m);
  return loss.targets ? 0 : labelLimit(loss.kind, m.classes);
}

/** Where the module's own static data starts: after the arena and the loss's target buffer (compile() builds the runtime so; a rebuild from its source must too). */
export function staticDataBase(m: Pick<Manifest, 'loss' | 'classes' | 'arena'>): number {
  return m.arena.offset + m.arena.bytes + targetBufferBytes(manifestLoss(m).kind, m.classes);
}
