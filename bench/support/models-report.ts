/**
 * bench:models' results as Markdown: one row per model (package, import, compile, the
 * checks against the reference, training), the walls (each operator the importer has no
 * handler for: how many models use it, and how many it alone blocks), and each refused
 * model's exact refusal.
 */
import { ARGMAX_AGREEMENT, FLOAT_TOLERANCE, type ModelResult } from './models-evaluate.js';
import type { TrainResult } from './models-train.js';

const kb = (b: number): string => `${(b / 1024).toFixed(1)} KB`;
const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
/** A refusal without the file's path (the cache directory is the reader's own). */
const shortError = (e: string, file: string): string => cell(e.replace(new RegExp(`(TFLite|ONNX) model \\S*${file.replace(/[.+]/g, '\\$&')}: `), ''));

/** The model file's name: the archive member's, or the file inside it. */
const fileName = (r: ModelResult): string => (r.inner ?? r.member).split('/').pop()!;

function importCell(r: ModelResult): string {
  if (r.import.ok) return `imported: ${r.import.layers.split(' ').length} layers, ${r.import.parameters.toLocaleString('en-US')} parameters`;
  return `refused: ${shortError(r.import.error, fileName(r))}`;
}

function compileCell(r: ModelResult): string {
  const c = r.compile;
  if (!c) return '—';
  if (c.ok)
    return `\`${c.scheme}\`: SRAM ${kb(c.sramPeakBytes)}, Flash ${kb(c.flashBytes)}${c.tried.length ? ` (${c.tried.map((t) => `${t.scheme}: ${cell(t.error)}`).join('; ')})` : ''}`;
  return `no scheme fits: ${c.tried.map((t) => `${t.scheme}: ${cell(t.error)}`).join('; ')}`;
}

function checksCell(r: ModelResult): string {
  if (!r.float) return '—';
  const verdict = r.float.int8Model ? 'an int8 model: checked in int8 only' : `${r.float.pass ? 'within' : 'OVER'} ${FLOAT_TOLERANCE}`;
  const f = `float: max rel. error ${r.float.maxRelError.toExponential(1)} (${verdict})${r.float.referenceAccuracy !== undefined ? `; the file's own accuracy on these inputs ${(100 * r.float.referenceAccuracy).toFixed(0)}%` : ''}`;
  const q = r.int8;
  if (!q) return `on ${cell(r.inputs ?? '')}: ${f}`;
  const on = `on ${cell(r.inputs ?? '')}: `;
  if (q.kind === 'regression') return `${on}${f}; int8: max abs. difference ${q.maxAbsDiff.toFixed(3)} (output range ${q.referenceRange.toFixed(3)})`;
  const peer = q.peer ? `; the same file quantised by ${q.peer.tool} ${q.peer.version} (${q.peer.settings}) on the same calibration: ${(100 * q.peer.agreement).toFixed(1)}%` : '';
  return `${on}${f}; int8 argmax agreement ${(100 * q.agreement).toFixed(1)}% (${q.pass ? 'at least' : 'BELOW'} ${100 * ARGMAX_AGREEMENT}%; margin bound ${(100 * q.marginBound).toFixed(1)}%)${peer}`;
}

export function trainCell(t: TrainResult): string {
  if (t.status !== 'trained') return t.reason;
  const loss = `${t.steps} steps: loss ${t.firstMean.toFixed(3)} → ${t.lastMean.toFixed(3)} (first vs last 50${t.falling ? ', falling' : ', NOT falling'})`;
  if (!t.sweep) return loss;
  const accuracy = t.accuracyFirst !== undefined && t.accuracyLast !== undefined ? `; accuracy ${(100 * t.accuracyFirst).toFixed(0)}% → ${(100 * t.accuracyLast).toFixed(0)}%` : '';
  return `${loss}${accuracy}; fine-tuned on the true labels at lr ${t.lr}, the best of ${t.sweep.map((r) => r.lr).join(', ')}`;
}

function modelsTable(results: ModelResult[]): string[] {
  const rows = results.map((r) => {
    const name = `\`${r.package}\` ${r.version} (${r.source === 'npm' ? 'npm' : 'PyPI'}) \`${fileName(r)}\``;
    return `| ${name} | ${r.domain}, ${r.format}, ${kb(r.bytes)} | ${importCell(r)} | ${compileCell(r)} | ${checksCell(r)} | ${trainCell(r.train)}${r.relearn ? `; new mapping (the reference's class moved one along) at lr ${r.relearn.status === 'trained' ? r.relearn.lr : '-'}: ${trainCell(r.relearn)}` : ''} |`;
  });
  return ['| model (package, version, file) | kind | import | compile for stm32f746 | against the reference | training |', '|---|---|---|---|---|---|', ...rows];
}

function headTable(results: ModelResult[]): string[] {
  const heads = results.filter((r) => r.head);
  if (!heads.length) return [];
  return [
    '',
    'Transfer learning on a pretrained body (the last layer replaced by a new dense classifier head, trained with softmax cross-entropy on a new task):',
    '',
    '| model | task | compile for stm32f746 | training |',
    '|---|---|---|---|',
    ...heads.map((r) => {
      const h = r.head!;
      const compile = h.compile.ok ? `\`${h.compile.scheme}\`: SRAM ${kb(h.compile.sramPeakBytes)}, Flash ${kb(h.compile.flashBytes)}` : 'no scheme fits';
      const acc =
        h.train.status === 'trained' && h.train.accuracyFirst !== undefined && h.train.accuracyLast !== undefined
          ? `; accuracy ${(100 * h.train.accuracyFirst).toFixed(0)}% → ${(100 * h.train.accuracyLast).toFixed(0)}%`
          : '';
      return `| ${h.id} (${h.layers}) | ${cell(h.task)}; ${h.inputs} | ${compile} | ${trainCell(h.train)}${acc} |`;
    }),
  ];
}

/** Each operator without a handler: models using it, occurrences, and models it alone blocks (their only unknown operator). */
export function walls(results: ModelResult[]): { op: string; models: number; occurrences: number; aloneBlocks: number; ids: string[] }[] {
  const byOp = new Map<string, { op: string; models: number; occurrences: number; aloneBlocks: number; ids: string[] }>();
  for (const r of results) {
    const unknown = r.inventory.ops.filter((o) => !o.known);
    for (const o of unknown) {
      const w = byOp.get(o.op) ?? { op: o.op, models: 0, occurrences: 0, aloneBlocks: 0, ids: [] };
      w.models++;
      w.occurrences += o.count;
      if (unknown.length === 1) w.aloneBlocks++;
      w.ids.push(r.id);
      byOp.set(o.op, w);
    }
  }
  return [...byOp.values()].sort((a, b) => b.models - a.models || b.occurrences - a.occurrences || a.op.localeCompare(b.op));
}

/** Where a model's structure differs from what tinytrain takes (one input, one output, one graph). */
function structureCell(r: ModelResult): string {
  const i = r.inventory;
  const parts = [i.inputs !== 1 ? `${i.inputs} inputs` : '', i.outputs !== 1 ? `${i.outputs} outputs` : '', i.subgraphs ? `${i.subgraphs} subgraph(s)` : ''].filter(Boolean);
  return parts.join(', ') || 'one input, one output';
}

/** Per refused model: the operator types it lacks (fewest first: the closest to importing), its structure, the importer's first refusal. */
function wallsByModel(results: ModelResult[]): string[] {
  const refused = results.filter((r) => !r.import.ok);
  const missing = (r: ModelResult): string[] => r.inventory.ops.filter((o) => !o.known).map((o) => `${o.op} x${o.count}`);
  refused.sort((x, y) => missing(x).length - missing(y).length || x.id.localeCompare(y.id));
  return [
    "What stands in the way of each refused model (closest to importing first): the operator types the importer has no handler for, the structure, and the importer's first refusal word for word:",
    '',
    '| model | operators | missing operator types | structure | first refusal |',
    '|---|---|---|---|---|',
    ...refused.map((r) => {
      const m = missing(r);
      const error = r.import.ok ? '' : shortError(r.import.error, fileName(r));
      return `| ${r.id} | ${r.inventory.operators} | ${m.length ? `${m.length}: ${cell(m.join(', '))}` : 'none'} | ${structureCell(r)} | ${error} |`;
    }),
  ];
}

/** The README's part: what was run, and the per-model tables. */
export function summaryMarkdown(results: ModelResult[], meta: { date: string; samples: number; steps: number }): string {
  const imported = results.filter((r) => r.import.ok).length;
  return [
    `${results.length} pretrained models from ${new Set(results.map((r) => r.package)).size} packages; ${imported} imported, ${results.length - imported} refused. ` +
      `Checks: the float engine against the reference (LiteRT's interpreter with its reference kernels for .tflite, onnxruntime for .onnx) within ${FLOAT_TOLERANCE} relative; ` +
      `the int8 runtime compiled for stm32f746 against the same reference (classifiers: argmax agreement at least ${100 * ARGMAX_AGREEMENT}%, ` +
      `with the margin bound: the share of inputs whose reference top-two margin exceeds twice the largest output difference, on which the runtime must agree); ` +
      `${meta.samples} inputs per model; ${meta.steps} training steps where the model's loss exists. Run ${meta.date} by \`npm run bench:models\`; ` +
      'what blocks each refused model, operator by operator: `bench/results/models.md`.',
    '',
    ...modelsTable(results),
    ...headTable(results),
  ].join('\n');
}

/** bench/results/models.md: the summary, then the walls by operator and by model. */
export function modelsMarkdown(results: ModelResult[], meta: { date: string; samples: number; steps: number }): string {
  const w = walls(results);
  return [
    summaryMarkdown(results, meta),
    '',
    'Operators the importer has no handler for (an operator it has a handler for may still be refused for an attribute or shape: see each first refusal below):',
    '',
    '| operator | models using it | occurrences | models it alone blocks | models |',
    '|---|---|---|---|---|',
    ...w.map((x) => `| ${cell(x.op)} | ${x.models} | ${x.occurrences} | ${x.aloneBlocks} | ${x.ids.join(', ')} |`),
    '',
    ...wallsByModel(results),
  ].join('\n');
}
