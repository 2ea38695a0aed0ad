import { InvalidArgumentError, type Command } from 'commander';
import { TinytrainError } from '../../compiler/errors.js';
import { Rng } from '../../compiler/ir/rng.js';
import { checkBudgetOption, compile, quantizeSpec } from '../../compiler/index.js';
import { autoScheme, describeScheme, schemeToJson } from '../../compiler/scheme/auto.js';
import { buildGraph, type Graph } from '../../compiler/ir/graph.js';
import type { ModelSpec } from '../../compiler/ir/model.js';
import { manifestLoss, type Manifest } from '../../compiler/manifest.js';
import { chooseLoss, LOSS_KINDS, type LossKind } from '../../compiler/loss.js';
import { parseScheme, schemeFromJson } from '../../compiler/scheme/parse.js';
import { fullScheme } from '../../compiler/scheme/scheme.js';
import { normaliseImage } from '../../compiler/float/network.js';
import { getTarget, parseByteSize, type Target } from '../../targets/index.js';
import { loadDataset, imageAt } from '../data/dataset.js';
import { sampleOrder } from '../train.js';
import { writeArtifact } from '../artifact.js';
import { startProgress } from '../io/progress.js';
import { checkOutputFolder } from '../io/output-paths.js';
import { emit, floatOption, intOption, kb, note, readModelFile } from './common.js';
import { inputOptions, type InputCliOptions } from './input-options.js';

export function registerCompile(program: Command): void {
  program
    .command('compile')
    .description('compile a model into a WASM training runtime for a device')
    .argument('<model>', 'model file: tinytrain JSON (see examples/), ONNX (.onnx, float or int8 QDQ) or TFLite (.tflite, float or int8)')
    .requiredOption('--target <name>', 'device target (see `tinytrain targets`)')
    .requiredOption('--out <dir>', 'artifact folder to write: new (parents are created), empty, or an artifact tinytrain wrote (replaced atomically)')
    .option('--input-shape <dims>', "pin an ONNX model's dynamic input dimensions, in the file's order (e.g. 1,3,96,96)")
    .option('--model-output <name>', "for an imported model with several outputs: the one to train (its tensor name; the others' layers are dropped)")
    .option('--input-range <lo,hi>', "the real values a 0 and a 255 input byte stand for (imported models; default: the model's, else 0,1)")
    .option('--input-norm <mean,std>', 'the model was trained on (x - mean) / std with x in [0, 1] (imported models; sets the input range)')
    .option(
      '--scheme <scheme>',
      "what trains: full | bias-only | last-k:N | FILE.json | auto (best value within --budget; needs --calibrate) (default: the model file's scheme, else full)",
    )
    .option(
      '--loss <loss>',
      'training loss: softmax-ce | bce (sigmoid binary cross-entropy; one output: 0/1 labels, K outputs: multi-label targets) | mse (default: bce for a model that ends in a sigmoid or has one output, else softmax-ce)',
      choiceOption('--loss', LOSS_KINDS),
    )
    .option('--momentum <m>', 'SGD momentum (0 = plain SGD, no optimizer state)', floatOption('--momentum', 0, 0.999), 0)
    .option('--no-qas', 'disable Quantization-Aware Scaling of int8 gradients (for comparisons)')
    .option('--rounding <mode>', 'rounding of int8 updates: stochastic | nearest', 'stochastic')
    .option('--budget <size>', "SRAM budget, e.g. 256KB (default: the target's SRAM; more than the target has is refused)")
    .option('--budget-over-target', "accept a --budget larger than the target's SRAM (planning for a bigger part on purpose)")
    .option(
      '--calibrate <dataset>',
      'recalibrate activation ranges on this dataset\'s training split; "random" = uniform noise over the input range (memory planning only: the plan is exact, accuracy is not)',
    )
    .option('--calibration-samples <n>', 'samples used with --calibrate', intOption('--calibration-samples', 1), 200)
    .option(
      '--prune <ratio>',
      "magnitude-prune the frozen 1x1/dense layers' weights to this fraction of zeros (0-1); they then run on sparse kernels",
      floatOption('--prune', 0, 1),
    )
    .option('--prune-mode <mode>', 'with --prune: layer (each layer to the ratio) | global (one threshold over those layers)', choiceOption('--prune-mode', ['layer', 'global']))
    .option('--prune-structure <s>', 'with --prune: unstructured | pairs (whole aligned input-channel pairs)', choiceOption('--prune-structure', ['unstructured', 'pairs']))
    .option('--json', 'print one JSON object (the manifest summary) on stdout')
    .action(compileCommand);
}

interface CompileCliOptions extends InputCliOptions {
  target: string;
  out: string;
  scheme?: string;
  loss?: LossKind;
  momentum: number;
  qas: boolean;
  budget?: string;
  calibrate?: string;
  calibrationSamples: number;
  json?: boolean;
  rounding: string;
  budgetOverTarget?: boolean;
  prune?: number;
  pruneMode?: 'layer' | 'global';
  pruneStructure?: 'unstructured' | 'pairs';
}

async function compileCommand(modelPath: string, o: CompileCliOptions): Promise<void> {
  if (o.prune === undefined && (o.pruneMode || o.pruneStructure)) throw new TinytrainError('--prune-mode and --prune-structure need --prune <ratio>', 'add e.g. --prune 0.8');
  if (o.rounding !== 'stochastic' && o.rounding !== 'nearest') throw new TinytrainError(`--rounding must be stochastic or nearest, got '${o.rounding}'`);
  // Before calibration and compiling; writeArtifact checks again before its final rename.
  checkOutputFolder(o.out, '--out');
  const spec = readModelFile(modelPath, inputOptions(o));
  const target = getTarget(o.target);
  const graph = buildGraph(spec);
  const auto = o.scheme === 'auto';
  if (auto && chooseLoss(spec, o.loss).kind !== 'softmax-ce') {
    throw new TinytrainError(
      '--scheme auto measures what is worth training with softmax cross-entropy only',
      'give a scheme (full, bias-only, last-k:N or a file) for a bce or mse model',
    );
  }
  if (auto && !o.calibrate) {
    throw new TinytrainError(
      '--scheme auto needs calibration data to measure what is worth training',
      'add --calibrate DATASET (its labels are used), or --calibrate random (pseudo-labels; memory-only)',
    );
  }
  let scheme = auto ? undefined : o.scheme !== undefined ? parseScheme(graph, o.scheme) : spec.scheme ? schemeFromJson(graph, spec.scheme, 'model-file-scheme') : fullScheme(graph);
  const { calibration, labels } = calibrationFor(o, graph, spec);
  const budgetBytes = o.budget !== undefined ? parseByteSize(o.budget) : target.sramBytes;
  checkBudgetOption(target, budgetBytes, o.budgetOverTarget);
  const extra: Record<string, string> = {};
  if (!scheme) {
    const { quant, params } = quantizeSpec(spec, calibration);
    const r = autoScheme(quant, params, calibration!, labels, target, budgetBytes, { momentum: o.momentum });
    scheme = r.scheme;
    note(
      `scheme auto (${r.strategy} greedy, ${r.evaluated} plans, ${(r.ms / 1000).toFixed(1)} s): ${describeScheme(r.scheme, r.sramBytes)}; value ${r.value.toFixed(3)} of a full update`,
    );
    extra['scheme.json'] = JSON.stringify(schemeToJson(r.scheme), null, 2) + '\n';
  }
  const bar = startProgress(`compile ${spec.name} for ${target.name} (scheme ${scheme.name})`, 4);
  const artifact = await compile(spec, {
    onStage: (stage) => bar.tick(1, { stage }),
    onNote: note,
    target,
    ...(o.loss && { loss: o.loss }),
    scheme,
    momentum: o.momentum,
    qas: o.qas,
    rounding: o.rounding,
    calibration,
    ...(o.prune !== undefined ? { prune: { ratio: o.prune, mode: o.pruneMode ?? 'layer', structure: o.pruneStructure ?? 'unstructured' } } : {}),
    ...(o.budget !== undefined ? { budgetBytes, budgetOverTarget: !!o.budgetOverTarget } : {}),
  });
  bar.stop();
  await writeArtifact(o.out, artifact, extra);
  const m = artifact.manifest;
  if (o.prune !== undefined && o.prune > 0 && !m.sparse?.layers.some((l) => l.pruned)) {
    note(`--prune: scheme ${m.scheme.name} leaves no frozen 1x1 or dense layer to prune (only those run on the sparse kernels)`);
  }
  const json = {
    out: o.out,
    target: m.target,
    model: m.model,
    scheme: m.scheme.name,
    loss: manifestLoss(m),
    memory: m.memory,
    files: m.files,
    ...(m.sparse ? { sparse: m.sparse } : {}),
  };
  emit(!!o.json, json, () => summary(o.out, target, m));
}

/**
 * Calibration inputs (real-valued) and their labels, from --calibrate. Without it: none
 * (the model's stored ranges are used), except for a model that has neither trained
 * weights nor ranges (an architecture file such as examples/mnist-cnn.json), whose
 * seeded random weights have no data-specific ranges to find: it is calibrated on random
 * inputs, as --calibrate random would, and the note says so.
 */
function calibrationFor(o: CompileCliOptions, graph: Graph, spec: ModelSpec): { calibration?: Float32Array[]; labels?: number[] } {
  const untrained = !o.calibrate && !spec.params && !spec.calibration && !spec.quantization;
  if (o.calibrate === 'random' || untrained) {
    const rng = new Rng(0);
    const [lo, hi] = graph.inputRange;
    const n = graph.inputShape.reduce((a, b) => a * b, 1);
    note(
      untrained
        ? `model '${spec.name}' has no trained weights and no calibration ranges: it starts from its seeded random weights, calibrated on random inputs over [${lo}, ${hi}] (the memory plan is exact; pretrain it with \`tinytrain pretrain\`, or pass --calibrate DATASET, for a useful start)`
        : 'calibrating on random inputs: the memory plan is exact, the quantisation is not meaningful for accuracy',
    );
    return { calibration: Array.from({ length: Math.min(o.calibrationSamples, 8) }, () => Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform())) };
  }
  if (!o.calibrate) return {};
  const ds = loadDataset(o.calibrate, 'train');
  if (ds.shape.join('x') !== graph.inputShape.join('x')) {
    throw new TinytrainError(
      `calibration dataset ${o.calibrate} has samples of shape ${ds.shape.join('x')}, the model takes ${graph.inputShape.join('x')}`,
      "calibrate with data of the model's input shape",
    );
  }
  const order = [...sampleOrder(ds.count, o.calibrationSamples, 0)];
  return { calibration: order.map((i) => normaliseImage(imageAt(ds, i), graph.inputRange)), labels: order.map((i) => ds.labels[i]!) };
}

/** What `compile` prints without --json. */
function summary(out: string, target: Target, m: Manifest): string {
  const b = m.memory.breakdown;
  const sp = m.sparse;
  return [
    `wrote ${out}`,
    `  target        ${m.target} (${kb(target.sramBytes)} SRAM, ${kb(target.flashBytes)} Flash)`,
    `  SRAM needed   ${kb(m.memory.sramPeakBytes)}  (arena ${kb(b.arenaBytes)}, trained params ${kb(b.trainedParamsBytes)}, ` +
      `optimizer ${kb(b.optimizerStateBytes)}, reserve ${kb(b.runtimeReserveBytes)}${target.kind === 'mcu' ? '' : `, frozen params ${kb(b.frozenParamsBytes)}`})`,
    `  Flash needed  ${kb(m.memory.flashBytes)}  (code ${kb(b.codeBytes)}, weights image ${kb(m.image.bytes)})`,
    ...(sp
      ? [
          `  sparse        ${sp.layers.length} frozen 1x1 layers on sparse kernels, ${kb(sp.flashSavedBytes)} Flash saved` +
            (sp.layers.length ? `, sparsity ${sparsityRange(sp.layers.map((l) => l.sparsity))} (per layer: manifest.json "sparse")` : ''),
        ]
      : []),
  ].join('\n');
}

/** A commander parser accepting one of `choices` (a bad value is a usage error, exit 2). */
function choiceOption<T extends string>(name: string, choices: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(choices as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} must be ${choices.join(' or ')}, got '${v}'`);
    return v as T;
  };
}

const sparsityRange = (xs: number[]): string => {
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)].map((x) => `${(100 * x).toFixed(0)}%`);
  return lo === hi ? lo! : `${lo}-${hi}`;
};
