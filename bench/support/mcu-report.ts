/**
 * bench:mcu's results file and Markdown: one row per (firmware variant, core, model), so
 * a later run with another firmware build (e.g. native kernels) adds its rows beside
 * the earlier ones and the tables show them side by side.
 */
import type { McuMeasurement, StepGroup } from './mcu-measure.js';

export interface McuRow extends McuMeasurement {
  /** The firmware build measured (bench:mcu --variant). */
  variant: string;
  commit: string;
  date: string;
  core: string;
  machine: string;
  model: string;
  scheme: string;
  /** The part the artifact and its firmware were built for (its SRAM/Flash, its stack reserve). */
  target: string;
}

export interface McuResults {
  bench: 'mcu';
  note: string;
  reference: { source: string; ms: number; mhz: number; cycles: number; model: string; core: string };
  tools: Record<string, string>;
  /** By QEMU machine: a loop of known length timed with SysTick (bench/support/mcu-calibrate.ts). */
  tickChecks: Record<string, { loopInstructions: number; ticks: number; measuredInstructionsPerTick: number }>;
  rows: McuRow[];
}

/** Lin et al. 2022 (TTE), Fig. 10c: 373 ms per training step of MobileNetV2-w0.35 on STM32F746 at 216 MHz. */
export const REFERENCE = {
  source: 'Lin et al. 2022, "On-Device Training Under 256KB Memory" (TTE), Fig. 10c',
  ms: 373,
  mhz: 216,
  cycles: 373e-3 * 216e6,
  model: 'mbv2-w0.35-128',
  core: 'cortex-m7',
};

const key = (r: McuRow): string => `${r.variant}|${r.core}|${r.model}`;

/** `old` rows, less those `fresh` measures again, then `fresh`. */
export function mergeRows(old: McuRow[], fresh: McuRow[]): McuRow[] {
  const replaced = new Set(fresh.map(key));
  return [...old.filter((r) => !replaced.has(key(r))), ...fresh];
}

const M = (n: number): string => (n / 1e6).toFixed(1);
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const signedPct = (x: number): string => `${x >= 0 ? '+' : '-'}${Math.abs(100 * x).toFixed(2)}%`;
const unique = <T>(xs: T[]): T[] => [...new Set(xs)];

export function renderMarkdown(res: McuResults): string {
  const rows = res.rows;
  const variants = unique(rows.map((r) => r.variant));
  const cases = unique(rows.map((r) => `${r.model}|${r.core}`));
  const find = (c: string, v: string): McuRow | undefined => rows.find((r) => `${r.model}|${r.core}` === c && r.variant === v);
  const out: string[] = [];
  out.push(
    `Millions of instructions per training step (QEMU -icount; mean of steps 2..K+1, exact). Reference: ${M(res.reference.cycles)} M cycles per step (${res.reference.source}: ${res.reference.ms} ms at ${res.reference.mhz} MHz).`,
    '',
  );
  out.push(`| model | core (QEMU board) | ${variants.map((v) => `${v}: M instr/step | ${v}: / reference`).join(' | ')} |`);
  out.push(`|---|---|${variants.map(() => '---:|---:').join('|')}|`);
  for (const c of cases) {
    const any = rows.find((r) => `${r.model}|${r.core}` === c)!;
    const cells = variants.map((v) => {
      const r = find(c, v);
      if (!r) return '- | -';
      const ratio = r.model === res.reference.model ? `${(r.instructionsPerStep / res.reference.cycles).toFixed(1)}x` : '-';
      return `${M(r.instructionsPerStep)} | ${ratio}`;
    });
    out.push(`| ${any.model} (${any.scheme}) | ${any.core} (${any.machine}) | ${cells.join(' | ')} |`);
  }
  out.push(
    '',
    "The profiling firmware (per-step counts below): its trainStep against the shipped figure (which also holds the loop's sample reads, so it can be the larger), " +
      'the share of its trainStep inside the marks, whether a repeated run gave the same ticks and Flash, and whether its checkpoint equals the shipped one.',
    '',
  );
  out.push('| variant | model | core | steps | profiled M instr/step | overhead | coverage | runs agree | checkpoint = shipped |');
  out.push('|---|---|---|---:|---:|---:|---:|---|---|');
  for (const r of rows) {
    const p = r.profiled;
    out.push(
      `| ${r.variant} | ${r.model} | ${r.core} | ${r.measuredSteps} | ${M(p.instructionsPerStep)} | ${signedPct(p.overhead)} | ${pct(p.coverage)} | ${r.deterministic ? 'yes' : 'NO'} | ${p.checkpointEqualsShipped ? 'yes' : 'NO'} |`,
    );
  }
  out.push('', ...groupTable(rows), '');
  for (const r of rows.filter((x) => x.model === res.reference.model)) out.push(...topSteps(r, 10), '');
  return out.join('\n');
}

const GROUPS: StepGroup[] = ['forward', 'input grad', 'weight grad+update', 'loss', 'other'];

function groupTable(rows: McuRow[]): string[] {
  const out = ['Where the step goes: M instructions (share) by kind of program step.', ''];
  out.push(`| variant | model | core | ${GROUPS.join(' | ')} |`, `|---|---|---|${GROUPS.map(() => '---:').join('|')}|`);
  for (const r of rows) {
    const total = GROUPS.reduce((s, g) => s + r.profiled.groups[g], 0);
    out.push(`| ${r.variant} | ${r.model} | ${r.core} | ${GROUPS.map((g) => `${M(r.profiled.groups[g])} (${pct(r.profiled.groups[g] / total)})`).join(' | ')} |`);
  }
  return out;
}

function topSteps(r: McuRow, n: number): string[] {
  const top = [...r.profiled.steps].sort((a, b) => b.instructions - a.instructions).slice(0, n);
  const out = [`Top ${n} program steps, ${r.model} (${r.scheme}) on ${r.core}, ${r.variant}:`, ''];
  out.push('| # | program step | layer | phase | M instr | share |', '|---:|---|---|---|---:|---:|');
  for (const s of top) out.push(`| ${s.step} | ${s.what} | ${s.layer} | ${s.phase} | ${M(s.instructions)} | ${pct(s.share)} |`);
  return out;
}
