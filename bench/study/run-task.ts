/**
 * One task of the accuracy study: pretrain once (float32, desktop), then fine-tune every
 * setting from the same starting point for each seed (the seed picks the sample order and
 * the runtime's rounding noise), and evaluate on the task's whole test set.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, planModel, quantizeSpec, sramNeeded } from '../../compiler/index.js';
import { packageRoot } from '../../compiler/codegen/build.js';
import { cloneParams } from '../../compiler/ir/params.js';
import type { ModelSpec } from '../../compiler/ir/model.js';
import { normaliseImage } from '../../compiler/float/network.js';
import { biasOnlyScheme, lastKScheme, schemeFromJson } from '../../compiler/scheme/parse.js';
import { fullScheme, trainedChannels, type Scheme } from '../../compiler/scheme/scheme.js';
import { autoScheme, describeScheme, schemeToJson } from '../../compiler/scheme/auto.js';
import { hasParams } from '../../compiler/ir/graph.js';
import { getTarget } from '../../targets/index.js';
import { imageAt } from '../../host/data/dataset.js';
import { pretrain } from '../../host/pretrain.js';
import { readArtifact, writeArtifact } from '../../host/artifact.js';
import { Runtime } from '../../host/runtime.js';
import { evaluateFloat, evaluateRuntime, sampleOrder, trainFloat, trainRuntime } from '../../host/train.js';
import { loadTask, type TaskId } from './tasks.js';
import { torchAvailable, torchFinetune, TORCH_HINT } from './torch-check.js';

export interface StudyConfig {
  model: string;
  anchorScheme: string;
  target: string;
  budgetsKB: number[];
  seeds: number[];
  pretrainSteps: number;
  steps: number;
  deviceSamples: number;
  lr: number;
  /** Device samples (with labels) the automatic scheme search may look at. */
  autoSamples: number;
  /** Per-step losses kept for the PyTorch comparison. */
  compareLosses: number;
}

/** A trained configuration: one scheme (or the float path) and its accuracy per seed. */
export interface SettingResult {
  key: string;
  label: string;
  kind: 'float' | 'torch' | 'int8';
  scheme?: string;
  schemeJson?: unknown;
  qas?: boolean;
  /** SRAM the compiled artifact states (manifest sramPeakBytes); undefined for desktop float. */
  sramBytes?: number;
  accuracies: number[];
  seconds: number;
}

/** Which setting stands for which strategy at a budget (null: nothing of that kind fits). */
export interface BudgetPick {
  budgetKB: number;
  picks: Record<string, string | null>;
  auto: { strategy: string; value: number; candidates: unknown; ms: number };
}

export interface TaskResult {
  task: TaskId;
  title: string;
  deviceSamples: number;
  testSamples: number;
  pretrainAccuracySource: number;
  settings: SettingResult[];
  budgets: BudgetPick[];
  torchCheck: { available: boolean; hint?: string; maxLossRelDiff?: number; losses?: number; firstDivergence?: (number | null)[] };
}

const STATIC_RESERVE = 1024;

export async function runTask(id: TaskId, c: StudyConfig, log: (s: string) => void): Promise<TaskResult> {
  const root = packageRoot();
  const task = loadTask(id, c.deviceSamples);
  const spec = JSON.parse(readFileSync(join(root, c.model), 'utf8')) as ModelSpec;
  const target = getTarget(c.target);
  log(`[${id}] pretraining float32 on ${task.source.count} source samples (${c.pretrainSteps} steps)`);
  const pre = pretrain(spec, task.source, { steps: c.pretrainSteps, lr: c.lr, momentum: 0, seed: 1 });
  const { graph, params, quant } = quantizeSpec(pre.spec);
  const settings: SettingResult[] = [];

  // float32 full update: our desktop engine, and PyTorch as the independent check.
  const floatRun: SettingResult = { key: 'float', label: 'float32 full update (tinytrain float path)', kind: 'float', accuracies: [], seconds: 0 };
  const torchRun: SettingResult = { key: 'torch', label: 'float32 full update (PyTorch, same weights and order)', kind: 'torch', accuracies: [], seconds: 0 };
  let maxLossRelDiff = 0;
  let comparedLosses = 0;
  /** Per seed: the first step whose losses differ by more than 1e-4 relative (null: none). */
  const firstDivergence: (number | null)[] = [];
  const haveTorch = torchAvailable();
  for (const seed of c.seeds) {
    let t0 = performance.now();
    const p = cloneParams(params);
    const losses: number[] = [];
    trainFloat(graph, p, task.device, {
      steps: c.steps,
      lr: c.lr,
      seed,
      momentum: 0,
      every: 1,
      onProgress: (done, loss) => {
        if (done <= c.compareLosses) losses.push(loss);
      },
    });
    floatRun.accuracies.push(evaluateFloat(graph, p, task.test));
    floatRun.seconds += (performance.now() - t0) / 1000;
    if (haveTorch) {
      t0 = performance.now();
      const order = [...sampleOrder(task.device.count, c.steps, seed)];
      const r = torchFinetune(graph, pre.spec.params!, task.device, task.test, order, c.lr, c.compareLosses);
      torchRun.accuracies.push(r.accuracy);
      torchRun.seconds += (performance.now() - t0) / 1000;
      // Relative to the loss, floored at 0.05: below that, float32 log-softmax rounding alone
      // makes relative differences meaningless.
      const rel = r.losses.map((l, i) => Math.abs(l - losses[i]!) / Math.max(0.05, Math.abs(l)));
      rel.forEach((d) => {
        maxLossRelDiff = Math.max(maxLossRelDiff, d);
        comparedLosses++;
      });
      const off = rel.findIndex((d) => d > 1e-4);
      firstDivergence.push(off < 0 ? null : off);
    }
    log(`[${id}] seed ${seed}: float ${pct(floatRun.accuracies.at(-1)!)}${haveTorch ? `, torch ${pct(torchRun.accuracies.at(-1)!)}` : ''}`);
  }
  settings.push(floatRun);
  if (haveTorch) settings.push(torchRun);

  // Schemes: the fixed ones, then per budget the largest last-k and the automatic search.
  const g = quant.graph;
  const sram = (s: Scheme): number => sramNeeded(planModel(quant, { scheme: s }), target) + STATIC_RESERVE;
  const paramLayers = g.nodes.filter(hasParams);
  /**
   * What a scheme really trains: per layer, the bias and the number of weight channels
   * (ratio 1/8 of a 1-channel stem trains that channel, as ratio 1 does), so two schemes
   * with equal keys train bit-identically and are run once.
   */
  const effectiveKey = (scheme: Scheme, qas: boolean): string =>
    paramLayers
      .map((n) => {
        const t = scheme.layers.get(n.name);
        return `${t?.bias ? 1 : 0}:${trainedChannels(t, n)}`;
      })
      .join(',') + (qas ? '' : ':noqas');
  const schemes = new Map<string, { label: string; scheme: Scheme; qas: boolean; effective: string }>();
  const add = (key: string, label: string, scheme: Scheme, qas = true): string => {
    const effective = effectiveKey(scheme, qas);
    for (const [k, v] of schemes) if (v.effective === effective) return k;
    schemes.set(key, { label, scheme, qas, effective });
    return key;
  };
  add('int8-full-noqas', 'int8 full update, no QAS', fullScheme(g), false);
  const fullKey = add('int8-full', 'int8 full update, QAS', fullScheme(g));
  const biasKey = add('bias-only', 'int8 + QAS, bias-only', biasOnlyScheme(g));
  const anchor = schemeFromJson(g, JSON.parse(readFileSync(join(root, c.anchorScheme), 'utf8')), c.anchorScheme);
  const anchorKey = add('anchor', `int8 + QAS, anchor-style (${anchor.name})`, anchor);
  const layerCount = paramLayers.length;
  const calib = Array.from({ length: Math.min(c.autoSamples, task.device.count) }, (_, i) => normaliseImage(imageAt(task.device, i), g.inputRange));
  const calibLabels = Array.from(calib, (_, i) => task.device.labels[i]!);
  const budgets: BudgetPick[] = [];
  for (const kb of c.budgetsKB) {
    const bytes = kb * 1024;
    let lastK: string | null = null;
    for (let k = layerCount; k >= 1; k--) {
      const s = lastKScheme(g, k);
      if (sram(s) <= bytes) {
        lastK = add(`last-k:${k}`, `int8 + QAS, last-k:${k}`, s);
        break;
      }
    }
    const perByte = autoScheme(quant, params, calib, calibLabels, target, bytes, { strategy: 'per-byte' });
    const byValue = autoScheme(quant, params, calib, calibLabels, target, bytes, { strategy: 'value' });
    const evolved = autoScheme(quant, params, calib, calibLabels, target, bytes, { strategy: 'evolution' });
    // What `--scheme auto` (strategy 'best') picks: the highest value of the three, the
    // first on ties, as autoScheme orders them; derived here rather than searched again.
    const runs = [perByte, byValue, evolved];
    const auto = runs.reduce((a, b) => (b.value > a.value ? b : a));
    const fits = (s: Scheme): boolean => sram(s) <= bytes;
    budgets.push({
      budgetKB: kb,
      picks: {
        'bias-only': fits(schemes.get(biasKey)!.scheme) ? biasKey : null,
        'last-k': lastK,
        anchor: fits(anchor) ? anchorKey : null,
        full: fits(fullScheme(g)) ? fullKey : null,
        auto: add(`auto-${kb}`, `int8 + QAS, auto @ ${kb} KB`, { ...auto.scheme, name: `auto-${kb}kb` }),
        'auto per-byte greedy': add(`auto-${kb}-per-byte`, `int8 + QAS, auto @ ${kb} KB (per-byte greedy)`, { ...perByte.scheme, name: `auto-${kb}kb-per-byte` }),
        'auto value greedy': add(`auto-${kb}-value`, `int8 + QAS, auto @ ${kb} KB (value greedy)`, { ...byValue.scheme, name: `auto-${kb}kb-value` }),
        'auto evolution': add(`auto-${kb}-evolution`, `int8 + QAS, auto @ ${kb} KB (evolution)`, { ...evolved.scheme, name: `auto-${kb}kb-evolution` }),
      },
      auto: { strategy: auto.strategy, value: auto.value, candidates: runs.map((r) => ({ strategy: r.strategy, value: r.value, sramBytes: r.sramBytes })), ms: evolved.ms },
    });
    log(`[${id}] budget ${kb} KB: auto ${describeScheme(auto.scheme, auto.sramBytes)} (${evolved.ms.toFixed(0)} ms)`);
  }

  const work = mkdtempSync(join(tmpdir(), `tinytrain-study-${id}-`));
  try {
    for (const [key, s] of schemes) {
      const t0 = performance.now();
      const dir = join(work, key.replace(/[^\w.-]+/g, '_'));
      await writeArtifact(dir, await compile(pre.spec, { target, scheme: s.scheme, qas: s.qas }));
      const art = readArtifact(dir);
      const r: SettingResult = {
        key,
        label: s.label,
        kind: 'int8',
        scheme: s.scheme.name,
        schemeJson: schemeToJson(s.scheme),
        qas: s.qas,
        sramBytes: art.manifest.memory.sramPeakBytes,
        accuracies: [],
        seconds: 0,
      };
      for (const seed of c.seeds) {
        const rt = await Runtime.load(art);
        rt.reset(seed);
        trainRuntime(rt, task.device, { steps: c.steps, lr: c.lr, seed });
        r.accuracies.push(evaluateRuntime(rt, task.test));
      }
      r.seconds = (performance.now() - t0) / 1000;
      settings.push(r);
      log(`[${id}] ${s.label}: ${r.accuracies.map(pct).join(' ')} (${(r.sramBytes! / 1024).toFixed(1)} KB, ${r.seconds.toFixed(0)} s)`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return {
    task: id,
    title: task.title,
    deviceSamples: task.device.count,
    testSamples: task.test.count,
    pretrainAccuracySource: pre.summary.accuracy,
    settings,
    budgets,
    torchCheck: haveTorch ? { available: true, maxLossRelDiff, losses: comparedLosses, firstDivergence } : { available: false, hint: TORCH_HINT },
  };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}
