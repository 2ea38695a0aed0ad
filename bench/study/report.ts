/** Markdown tables of the accuracy study (stdout, bench/results/study.md, the README). */
import type { SettingResult, StudyConfig, TaskResult } from './run-task.js';

export interface StudyDoc {
  config: StudyConfig;
  machine: { cpu: string; cores: number; node: string };
  minutes: number;
  tasks: TaskResult[];
}

export function meanSd(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
}

const acc = (s: SettingResult | undefined): string => {
  if (!s) return '—';
  const { mean, sd } = meanSd(s.accuracies);
  return `${(100 * mean).toFixed(2)} ± ${(100 * sd).toFixed(2)}`;
};
const kb = (s: SettingResult | undefined): string => (s?.sramBytes !== undefined ? `${(s.sramBytes / 1024).toFixed(1)} KB` : 'desktop');
const mean = (s: SettingResult): number => meanSd(s.accuracies).mean;
const points = (d: number): string => `${d >= 0 ? '+' : ''}${(100 * d).toFixed(2)}`;

function find(t: TaskResult, key: string | null | undefined): SettingResult | undefined {
  return key ? t.settings.find((s) => s.key === key) : undefined;
}

export function renderStudy(doc: StudyDoc): string {
  const { config: c, tasks } = doc;
  const out: string[] = [];
  const head = `| setting | ${tasks.map((t) => `${t.title}: accuracy % (SRAM)`).join(' | ')} |`;
  const rule = `|---|${tasks.map(() => '---').join('|')}|`;

  out.push(
    `Model \`${c.model}\` on \`${c.target}\`; fine-tuning on ${c.deviceSamples} device samples, ${c.steps} SGD steps (batch 1, lr ${c.lr}), ` +
      `seeds ${c.seeds.join(', ')} (sample order and rounding noise); accuracy on the whole test set of the new task (mean ± sample sd over seeds). ` +
      `Measured on ${doc.machine.cpu} (${doc.machine.cores} cores), Node ${doc.machine.node}, ${doc.minutes.toFixed(1)} min.`,
  );
  out.push('');
  out.push('**Full update: int8 with and without QAS against float32**');
  out.push('');
  out.push(head, rule);
  for (const key of ['float', 'torch', 'int8-full', 'int8-full-noqas']) {
    const s = tasks.map((t) => find(t, key));
    const label = s.find((x) => x)?.label;
    if (!label) continue;
    out.push(`| ${label} | ${s.map((x) => (x ? `${acc(x)} (${kb(x)})` : '—')).join(' | ')} |`);
  }
  for (const [key, what] of [
    ['int8-full', 'int8 + QAS minus float32 (points)'],
    ['int8-full-noqas', 'int8 without QAS minus float32 (points)'],
  ] as const) {
    out.push(
      `| *${what}* | ${tasks
        .map((t) => {
          const a = find(t, key),
            f = find(t, 'float');
          return a && f ? points(mean(a) - mean(f)) : '—';
        })
        .join(' | ')} |`,
    );
  }
  const torchNotes = tasks.map((t) =>
    t.torchCheck.available
      ? `${t.task}: per-step losses of the first ${c.compareLosses} steps, max relative difference ${(100 * (t.torchCheck.maxLossRelDiff ?? 0)).toFixed(3)}%` +
        (t.torchCheck.firstDivergence ? ` (first step off by more than 1e-4, per seed: ${t.torchCheck.firstDivergence.map((s) => s ?? 'none').join(', ')})` : '')
      : `${t.task}: PyTorch not installed (${t.torchCheck.hint})`,
  );
  out.push('', `PyTorch check: ${torchNotes.join('; ')}.`);

  out.push('', '**Sparse update at equal memory budgets (SRAM as the compiled artifact states it; — = does not fit)**');
  for (const b of tasks[0]!.budgets.map((x) => x.budgetKB)) {
    out.push('', `*Budget ${b} KB*`, '', head, rule);
    const picks = (t: TaskResult) => t.budgets.find((x) => x.budgetKB === b)!.picks;
    for (const strategy of Object.keys(picks(tasks[0]!))) {
      const cells = tasks.map((t) => {
        const s = find(t, picks(t)[strategy]);
        return s ? `${acc(s)} (${kb(s)}${strategy === 'last-k' ? `, ${s.scheme}` : ''})` : '—';
      });
      out.push(`| ${strategy} | ${cells.join(' | ')} |`);
    }
    out.push(
      `| *auto minus best of bias-only / last-k (points, paired over seeds ± sd)* | ${tasks
        .map((t) => {
          const p = picks(t);
          const base = [find(t, p['bias-only']), find(t, p['last-k'])].filter((s): s is SettingResult => !!s);
          const auto = find(t, p.auto);
          if (!auto || !base.length) return '—';
          // Paired over seeds (same sample order and rounding noise on both sides).
          const best = base.reduce((a, b) => (mean(b) > mean(a) ? b : a));
          const d = meanSd(auto.accuracies.map((a, i) => a - best.accuracies[i]!));
          return `${points(d.mean)} ± ${(100 * d.sd).toFixed(2)} vs ${best.key}`;
        })
        .join(' | ')} |`,
    );
  }
  return out.join('\n');
}
