/**
 * compile(): model spec -> int8 graph -> training program -> memory plan -> WASM.
 * The only entry point the CLI and tests need.
 */
import { createHash } from 'node:crypto';
import { TinytrainError } from './errors.js';
import { buildGraph, hasParams, type Graph } from './ir/graph.js';
import type { ModelSpec } from './ir/model.js';
import { loadParams, type ParamSet } from './ir/params.js';
import { calibrate, quantizeModel, sharesInputQuant, type QuantModel } from './quantize/quantize.js';
import { actKeyOf, buildProgram, type Program, type ProgramOptions } from './autodiff/program.js';
import { planArena, liveAt, type ArenaPlan } from './memory/planner.js';
import { frozenParams, layoutParams, type MemoryLayout } from './memory/layout.js';
import { emitRuntime } from './codegen/emit.js';
import { layoutWithRecords } from './codegen/records.js';
import { buildRuntime } from './codegen/build.js';
import { buildWasiRuntime } from './codegen/wasi.js';
import { nodeTable } from './codegen/labels.js';
import { fullScheme, splitChannels, trainedChannels, type Scheme } from './scheme/scheme.js';
import { SOURCE_FILE, type Manifest } from './manifest.js';
import { choosePrunedLayers, frozenPointwise, pointwiseShape, pruneParams, type PruneOptions, type PrunedLayer } from './pruning/prune.js';
import { nzListBytes, prunedScratchBytes } from './pruning/nzlist.js';
import type { Target } from '../targets/index.js';
import { chooseLoss, targetBufferBytes, targetKind, type LossKind } from './loss.js';

export interface CompileOptions {
  target: Target;
  scheme?: Scheme;
  momentum?: number;
  qas?: boolean;
  /** Calibration inputs (real-valued). Without them the model's stored ranges are used. */
  calibration?: Float32Array[];
  /** false: one buffer per tensor (the planner's safety reference). */
  reuse?: boolean;
  /** false: place the arena by the best constructive order, without the local search over orders. */
  placementSearch?: boolean;
  budgetBytes?: number;
  /**
   * Accept a budgetBytes above the target's SRAM (planning for a part with more memory
   * than the named target). Without it that is an error: it is almost always a typo.
   */
  budgetOverTarget?: boolean;
  /** Rounding of int8/int32 parameter updates (default stochastic). */
  rounding?: 'stochastic' | 'nearest';
  /** Backward pruning / update reordering / bit masks (all on by default). */
  program?: ProgramOptions;
  /**
   * Magnitude pruning of the frozen 1x1 layers' weights at compile time (see
   * compiler/pruning/prune.ts); they then run on the pruned kernels.
   */
  prune?: PruneOptions;
  /**
   * false: keep every layer on the unpruned kernels, even pruned ones (the reference the
   * pruned kernels are checked against). Default true.
   */
  prunedKernels?: boolean;
  /** The training loss (compiler/loss.ts); default: by the model's output (chooseLoss). */
  loss?: LossKind;
  /** Told why the loss is what it is, or what it changed in the model (compile prints it). */
  onNote?: (text: string) => void;
  /** Called as each compile stage finishes (for progress display). */
  onStage?: (stage: 'quantized' | 'planned' | 'generated' | 'built') => void;
}

export interface Artifact {
  manifest: Manifest;
  wasmSimd: Uint8Array;
  wasmScalar: Uint8Array;
  /** WASI command variant (scalar): the job runner for wasmtime, arm64 and other WASI hosts. */
  wasmWasi: Uint8Array;
  image: Uint8Array;
  source: string;
}

/** Everything before code generation; cheap, so tests and the planner bench use it. */
export interface Plan {
  graph: Graph;
  quant: QuantModel;
  program: Program;
  arena: ArenaPlan;
  layout: MemoryLayout;
  scheme: Scheme;
  /** Layers stored as non-zero lists, on the pruned kernels. */
  prunedLayers: Map<string, PrunedLayer>;
  /** The loss's target buffer, right after the arena (0: the loss needs none). */
  targetBytes: number;
}

export function quantizeSpec(
  spec: ModelSpec,
  calibration?: Float32Array[],
  prune?: { options: PruneOptions; scheme?: Scheme },
): { graph: Graph; params: ParamSet; quant: QuantModel; pruned: Set<string> } {
  const graph = buildGraph(spec);
  let params = loadParams(graph, spec);
  // Pruning comes before calibration: the ranges are those of the pruned model.
  const pruned = new Set<string>();
  if (prune && prune.options.ratio > 0) {
    const layers = frozenPointwise(graph, prune.scheme ?? fullScheme(graph));
    params = pruneParams(params, layers, prune.options);
    for (const n of layers) pruned.add(n.name);
  }
  // A model's own int8 quantisation (spec.quantization, from QDQ models) wins; ranges fill the rest.
  const fixed = spec.quantization?.tensors ?? {};
  const needsRange = graph.nodes.filter((n) => !sharesInputQuant(n) && !Object.prototype.hasOwnProperty.call(fixed, n.output));
  let ranges: Map<string, [number, number]>;
  if (calibration && calibration.length > 0) ranges = calibrate(graph, params, calibration);
  else if (spec.calibration) ranges = new Map(Object.entries(spec.calibration));
  else if (needsRange.length === 0) ranges = new Map();
  else {
    throw new TinytrainError(
      `model '${spec.name}' has no calibration ranges`,
      'pass calibration data (--calibrate DATASET), or pretrain the model with tinytrain, which stores its ranges',
    );
  }
  for (const n of needsRange) {
    if (!ranges.has(n.output)) throw new TinytrainError(`calibration: no range for tensor '${n.output}'`, 'recalibrate with --calibrate DATASET');
  }
  return { graph, params, quant: quantizeModel(graph, params, ranges, spec.quantization), pruned };
}

/**
 * `simdScratch` false: plan no tile scratch for the pruned kernels (their SIMD build then
 * walks the lists like the scalar one, bit-identically). compile() passes the target's
 * wasmSimd, so MCU plans, whose firmware runs the scalar build, do not pay for it.
 */
export function planModel(
  quant: QuantModel,
  opts: Pick<CompileOptions, 'scheme' | 'momentum' | 'reuse' | 'placementSearch' | 'program' | 'prune' | 'prunedKernels' | 'loss'> & {
    pruned?: ReadonlySet<string>;
    simdScratch?: boolean;
  },
): Plan {
  const scheme = opts.scheme ?? fullScheme(quant.graph);
  const prunedLayers =
    opts.prunedKernels === false
      ? new Map<string, PrunedLayer>()
      : choosePrunedLayers(frozenPointwise(quant.graph, scheme), (n) => quant.layers.get(n.name)!.wq, opts.pruned ?? new Set(), opts.prune?.structure ?? 'unstructured');
  const scratch = new Map(
    [...prunedLayers.keys()].map((name) => [name, opts.simdScratch === false ? 0 : prunedScratchBytes(pointwiseShape(quant.graph.nodes.find((n) => n.name === name)!)[1])]),
  );
  const loss = opts.loss ?? 'softmax-ce';
  const program = buildProgram(quant.graph, scheme, { ...opts.program, prunedScratch: scratch }, loss);
  const arena = planArena(program, undefined, { reuse: opts.reuse ?? true, search: opts.placementSearch ?? true });
  const layout = layoutWithRecords(quant, program, arena, (recordBytes) => layoutParams(quant, scheme, (opts.momentum ?? 0) > 0, prunedLayers, recordBytes));
  return { graph: quant.graph, quant, program, arena, layout, scheme, prunedLayers, targetBytes: targetBufferBytes(loss, quant.graph.classes) };
}

export async function compile(given: ModelSpec, opts: CompileOptions): Promise<Artifact> {
  checkBudgetOption(opts.target, opts.budgetBytes, opts.budgetOverTarget);
  const { kind: loss, spec, notes } = chooseLoss(given, opts.loss);
  for (const note of notes) opts.onNote?.(note);
  const { quant, pruned } = quantizeSpec(spec, opts.calibration, opts.prune ? { options: opts.prune, scheme: opts.scheme } : undefined);
  opts.onStage?.('quantized');
  const plan = planModel(quant, { ...opts, loss, pruned, simdScratch: opts.target.wasmSimd });
  // Before the (slow) WASM builds, so an infeasible plan fails fast; code size is not known yet.
  checkBudget(plan, opts);
  checkFlash(plan, opts.target, 0);
  opts.onStage?.('planned');
  const arenaBase = plan.layout.trainEnd;
  const layoutId = layoutIdOf(plan);
  const emitOpts = { arenaBase, momentum: opts.momentum ?? 0, qas: opts.qas ?? true, rounding: opts.rounding ?? 'stochastic', layoutId } as const;
  const source = emitRuntime(quant, plan.program, plan.arena, plan.layout, emitOpts);
  const memoryBase = arenaBase + plan.arena.arenaBytes + plan.targetBytes;
  opts.onStage?.('generated');
  const [simd, scalar, wasi] = await Promise.all([
    buildRuntime({ source, memoryBase, simd: true }),
    buildRuntime({ source, memoryBase, simd: false }),
    buildWasiRuntime(source, memoryBase, lossTargets(plan, arenaBase)),
  ]);
  opts.onStage?.('built');
  // asc's own static data (abort messages) sits above the arena and is SRAM too.
  const staticBytes = (await heapBaseOf(scalar.wasm)) - memoryBase;
  checkBudget(plan, opts, staticBytes);
  const codeBytes = opts.target.wasmSimd ? simd.wasm.length : scalar.wasm.length;
  checkFlash(plan, opts.target, codeBytes);
  const files = { wasmSimd: simd.wasm, wasmScalar: scalar.wasm, wasmWasi: wasi.wasm, image: plan.layout.image, source };
  const manifest = makeManifest(spec, opts, plan, emitOpts, simd.pages * 65536, codeBytes, staticBytes, files);
  return { manifest, ...files };
}

/**
 * A checkpoint is only meaningful with the same frozen parameters and quantisation tables
 * around it, so they are part of the identity (the kernel records after them are not:
 * layout.ts frozenParams). Layers are named by
 * their index, not their name: the identity is the byte layout, and names never reach
 * the generated code (where the runtime reports this id through its `layoutId()` export,
 * so a module from another artifact is caught).
 */
export function layoutIdOf(plan: Plan): string {
  const { layout, graph } = plan;
  const index = new Map(graph.nodes.map((n, i) => [n.name, i]));
  const trained = [...plan.scheme.layers].map(([name, l]) => [index.get(name), l]);
  return createHash('sha256')
    .update(
      JSON.stringify({
        scheme: trained,
        base: layout.trainBase,
        bytes: layout.trainEnd - layout.trainBase,
      }),
    )
    .update(frozenParams(layout))
    .digest('hex')
    .slice(0, 16);
}

const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/**
 * SRAM the device needs for training: the arena, the checkpoint region (trained
 * parameters, optimizer and runtime state) and the target's stack/runtime reserve; frozen
 * parameters too, except on MCUs where they stay in Flash.
 */
export function sramNeeded(plan: Plan, t: Target, staticBytes = 0): number {
  const { layout, arena } = plan;
  return arena.arenaBytes + plan.targetBytes + (layout.trainEnd - layout.trainBase) + staticBytes + t.stackReserveBytes + (t.kind === 'mcu' ? 0 : layout.constBytes);
}

/** End of a built module's static data (its exported heapBase()), by instantiating it once. */
async function heapBaseOf(wasm: Uint8Array): Promise<number> {
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>), { env: { abort: () => undefined } });
  return (instance.exports as { heapBase(): number }).heapBase() >>> 0;
}

type EmitSettings = { arenaBase: number; momentum: number; qas: boolean; rounding: 'stochastic' | 'nearest'; layoutId: string };
type ArtifactFiles = Pick<Artifact, 'wasmSimd' | 'wasmScalar' | 'wasmWasi' | 'image' | 'source'>;

function makeManifest(
  spec: ModelSpec,
  opts: CompileOptions,
  plan: Plan,
  emit: EmitSettings,
  wasmMemoryBytes: number,
  codeBytes: number,
  staticBytes: number,
  files: ArtifactFiles,
): Manifest {
  const { layout, arena, program, graph } = plan;
  const t = opts.target;
  const { names, integrity } = artifactFiles(t, files);
  return {
    format: 'tinytrain-artifact@1',
    model: spec.name,
    target: t.name,
    targetKind: t.kind,
    scheme: {
      name: plan.scheme.name,
      layers: graph.nodes.filter(hasParams).map((n) => {
        const l = plan.scheme.layers.get(n.name);
        return { name: n.name, bias: !!l?.bias, weightRatio: l?.weightRatio ?? 0, channels: trainedChannels(l, n), splitChannels: splitChannels(n) };
      }),
    },
    optimizer: { kind: 'sgd', momentum: emit.momentum, qas: emit.qas, rounding: emit.rounding },
    classes: graph.classes,
    ...ports(spec, plan, emit.arenaBase),
    files: names,
    integrity,
    image: { offset: 16, bytes: layout.image.length, sha256: sha256(layout.image) },
    checkpoint: { offset: layout.trainBase, bytes: layout.trainEnd - layout.trainBase },
    state: { offset: layout.stateOffset },
    arena: {
      offset: emit.arenaBase,
      bytes: arena.arenaBytes,
      strategy: arena.strategy,
      candidates: arena.candidates,
      peakLiveBytes: arena.peakLiveBytes,
      reuse: opts.reuse ?? true,
    },
    wasmMemoryBytes,
    memory: memoryFigures(plan, opts, codeBytes, staticBytes),
    buffers: [...arena.buffers.values()].sort((a, b) => a.offset - b.offset).map((b) => ({ key: b.key, offset: b.offset, bytes: b.bytes, first: b.first, last: b.last })),
    nodes: nodeTable(graph),
    program: program.steps.map(describeStep),
    lossStep: program.lossStep,
    loss: { kind: program.loss, targets: lossTargets(plan, emit.arenaBase) },
    layoutId: emit.layoutId,
    ...(plan.prunedLayers.size > 0 || opts.prune ? { sparse: prunedReport(plan, opts.prune) } : {}),
  };
}

/** Where the host writes each sample's K float32 targets (right after the arena), or null when the loss reads the label. */
function lossTargets(plan: Plan, arenaBase: number): { offset: number; count: number } | null {
  const k = plan.graph.classes;
  return targetKind(plan.program.loss, k) === 'values' ? { offset: arenaBase + plan.arena.arenaBytes, count: k } : null;
}

/** The artifact's file names, and the size and sha256 of each (manifest.json lists them all). */
function artifactFiles(t: Target, files: ArtifactFiles): Pick<Manifest, 'integrity'> & { names: Manifest['files'] } {
  const names = {
    wasm: t.wasmSimd ? 'runtime-simd.wasm' : 'runtime-scalar.wasm',
    wasmSimd: 'runtime-simd.wasm',
    wasmScalar: 'runtime-scalar.wasm',
    wasmWasi: 'runtime-wasi.wasm',
    image: 'image.bin',
  };
  const entry = (data: Uint8Array | string): { bytes: number; sha256: string } => ({
    bytes: typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length,
    sha256: sha256(data),
  });
  const integrity = {
    [names.wasmSimd]: entry(files.wasmSimd),
    [names.wasmScalar]: entry(files.wasmScalar),
    [names.wasmWasi]: entry(files.wasmWasi),
    [names.image]: entry(files.image),
    [SOURCE_FILE]: entry(files.source),
  };
  return { names, integrity };
}

/** Where the host writes the input and reads the logits, with their quantisation. */
function ports(spec: ModelSpec, plan: Plan, arenaBase: number): Pick<Manifest, 'inputs' | 'outputs'> {
  const { quant, arena, program, graph } = plan;
  const canon = (x: string): string => program.alias.get(x) ?? x;
  const inQ = quant.tensors.get('input')!;
  const outQ = quant.tensors.get(canon(graph.output))!;
  const at = (t: string): number => arenaBase + arena.buffers.get(actKeyOf(program, t))!.offset;
  return {
    inputs: [{ name: 'input', offset: at('input'), shape: [...graph.inputShape], dtype: 'int8', scale: inQ.scale, zeroPoint: inQ.zp, range: graph.inputRange }],
    outputs: [
      {
        name: canon(graph.output),
        offset: at(graph.output),
        shape: [graph.classes],
        dtype: 'int8',
        scale: outQ.scale,
        zeroPoint: outQ.zp,
        activation: spec.outputActivation ?? 'none',
      },
    ],
  };
}

/** SRAM and Flash the device needs, and where the SRAM goes (at the arena's peak step). */
function memoryFigures(plan: Plan, opts: CompileOptions, codeBytes: number, staticBytes: number): Manifest['memory'] {
  const { layout, arena } = plan;
  const peak = liveAt(arena, arena.peakStep);
  const sum = (...kinds: string[]): number => peak.filter((b) => kinds.some((k) => b.key.startsWith(k))).reduce((a, b) => a + b.bytes, 0);
  const sramPeakBytes = sramNeeded(plan, opts.target, staticBytes);
  return {
    sramPeakBytes,
    flashBytes: codeBytes + layout.image.length,
    ...(opts.budgetBytes !== undefined ? { budgetBytes: opts.budgetBytes } : {}),
    breakdown: {
      savedActivationsBytes: sum('act:', 'save:', 'mask:'),
      gradientBytes: sum('grad:', 'wgrad:', 'bgrad:'),
      arenaBytes: arena.arenaBytes,
      trainedParamsBytes: layout.trainedParamBytes,
      optimizerStateBytes: layout.optimizerBytes,
      // The state record (STATE_BYTES) plus its alignment padding: what the checkpoint holds.
      runtimeStateBytes: layout.trainEnd - layout.stateOffset,
      staticDataBytes: staticBytes,
      frozenParamsBytes: layout.constBytes,
      kernelRecordsBytes: layout.recordBytes,
      runtimeReserveBytes: opts.target.stackReserveBytes,
      codeBytes,
    },
    accounting: memoryAccounting(plan, opts.target, sramPeakBytes),
  };
}

/** The SRAM counted the reference's way and all-inclusive (MemoryAccounting). */
export function memoryAccounting(plan: Plan, t: Target, allInclusiveBytes: number): Manifest['memory']['accounting'] {
  return { referenceStyleBytes: plan.arena.arenaBytes, allInclusiveBytes, stackBytes: t.stackReserveBytes, stackSource: 'target-reserve' };
}

/** Per-layer sparsity and the Flash the non-zero lists save over unpruned int8 weights. */
function prunedReport(plan: Plan, prune: PruneOptions | undefined): NonNullable<Manifest['sparse']> {
  const layers = [...plan.prunedLayers].map(([name, s]) => {
    const [CO, CI] = pointwiseShape(plan.graph.nodes.find((n) => n.name === name)!);
    const listBytes = nzListBytes(CO, CI, s.structure, s.entries);
    return { name, structure: s.structure, sparsity: s.sparsity, entries: s.entries, pruned: s.magnitudePruned, denseBytes: CO * CI, listBytes };
  });
  return {
    prune: prune ? { ratio: prune.ratio, mode: prune.mode ?? 'layer', structure: prune.structure ?? 'unstructured' } : null,
    flashSavedBytes: layers.reduce((a, l) => a + l.denseBytes - l.listBytes, 0),
    layers,
  };
}

function describeStep(s: Program['steps'][number]): string {
  const who = 'node' in s ? ` ${s.node.name}` : '';
  return `${s.kind}${who}${s.kind === 'weightUpdate' ? ` (${s.channels} ch)` : ''}`;
}

function checkBudget(plan: Plan, opts: CompileOptions, staticBytes = 0): void {
  const t = opts.target;
  const budget = opts.budgetBytes ?? t.sramBytes;
  const need = sramNeeded(plan, t, staticBytes);
  if (need <= budget) return;
  const { layout, arena } = plan;
  const peak = liveAt(arena, arena.peakStep)
    .slice(0, 5)
    .map((b) => `    ${b.key.padEnd(28)} ${String(b.bytes).padStart(9)} B`)
    .join('\n');
  const step = plan.program.steps[arena.peakStep];
  const where = step ? `${step.kind}${'node' in step ? ` ${step.node.name}` : ''}` : '?';
  throw new TinytrainError(
    `memory plan needs ${need} B of SRAM but the budget is ${budget} B: ${need - budget} B over (target ${t.name}).\n` +
      `  arena ${arena.arenaBytes} B, trained params ${layout.trainedParamBytes} B, optimizer ${layout.optimizerBytes} B, ` +
      `${t.kind === 'mcu' ? '' : `frozen params ${layout.constBytes} B, `}${staticBytes ? `static data ${staticBytes} B, ` : ''}reserve ${t.stackReserveBytes} B.\n` +
      `  largest buffers live at the arena peak (step ${arena.peakStep}: ${where}):\n${peak}`,
    'train fewer layers (--scheme bias-only or last-k:N), drop momentum, or raise --budget',
  );
}

/** A budget above the target's SRAM cannot be met on that target: refuse it unless asked. */
export function checkBudgetOption(t: Target, budgetBytes: number | undefined, overTarget = false): void {
  if (budgetBytes === undefined || overTarget || budgetBytes <= t.sramBytes) return;
  throw new TinytrainError(
    `budget ${budgetBytes} B is larger than target ${t.name}'s SRAM (${t.sramBytes} B)`,
    "give a budget at most the target's SRAM, choose a larger target (tinytrain targets), or pass --budget-over-target to plan beyond it on purpose",
  );
}

/**
 * Flash the target must hold: the runtime's code and the weights image (frozen weights,
 * quantisation tables and the initial trained parameters). `codeBytes` is 0 before the
 * WASM build, which makes the early check a lower bound.
 */
function checkFlash(plan: Plan, t: Target, codeBytes: number): void {
  const need = codeBytes + plan.layout.image.length;
  if (need <= t.flashBytes) return;
  throw new TinytrainError(
    `the runtime needs ${need} B of Flash but target ${t.name} has ${t.flashBytes} B: ${need - t.flashBytes} B over ` +
      `(weights image ${plan.layout.image.length} B${codeBytes ? `, code ${codeBytes} B` : ', code not yet counted'})`,
    'prune the frozen layers (--prune 0.8), choose a smaller model, or a target with more Flash',
  );
}
