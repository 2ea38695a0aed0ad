/**
 * Regenerates the README's MobileNetV2 memory table: the exact SRAM the planner assigns
 * (the same plan compile() emits) for MobileNetV2-w0.35 at 128x128 on stm32f746, beside
 * the Tiny Training Engine's measurements (Lin et al. 2022, Fig. 10a).
 *
 *   npm run bench:memory      -> table on stdout, bench/results/memory-mbv2.json
 */
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { compile, planModel, quantizeSpec, sramNeeded, type Plan } from '../compiler/index.js';
import { packageRoot } from '../compiler/codegen/build.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import type { ProgramOptions } from '../compiler/autodiff/program.js';
import { fullScheme, type Scheme } from '../compiler/scheme/scheme.js';
import { schemeFromJson } from '../compiler/scheme/parse.js';
import { getTarget } from '../targets/index.js';
import { writeFileAtomic } from '../host/io/atomic.js';

/** MobileNetV2's 99 KB scheme as golden.test.ts trains it (examples/schemes/mbv2-99kb.json). */
export const ANCHOR_99KB: unknown = JSON.parse(readFileSync(join(packageRoot(), 'examples', 'schemes', 'mbv2-99kb.json'), 'utf8'));

interface Row {
  setting: string;
  scheme: string;
  program: ProgramOptions;
  referenceKB: number | null;
}

const ROWS: Row[] = [
  { setting: 'full update, no reordering, no streaming', scheme: 'full', program: { reorder: false, stream: false, bitMasks: false }, referenceKB: 2939 },
  { setting: 'full update (all our optimizations)', scheme: 'full', program: {}, referenceKB: null },
  { setting: 'sparse "99kb" scheme, no reordering', scheme: '99kb', program: { reorder: false }, referenceKB: 335 },
  { setting: 'sparse "99kb" scheme, reordered (default)', scheme: '99kb', program: {}, referenceKB: 141 },
  { setting: '  ablation: reordered, no row streaming', scheme: '99kb', program: { stream: false }, referenceKB: null },
  { setting: '  ablation: reordered, int8 outputs instead of 1-bit masks', scheme: '99kb', program: { bitMasks: false }, referenceKB: null },
  { setting: '  ablation: nothing in place, no fused pool/head backward', scheme: '99kb', program: { inPlace: false }, referenceKB: null },
];

const kb = (b: number): string => (b / 1024).toFixed(1);

async function main(): Promise<void> {
  const root = packageRoot();
  const spec = JSON.parse(readFileSync(join(root, 'examples', 'mbv2-w0.35-128.json'), 'utf8')) as ModelSpec;
  const graph = buildGraph(spec);
  // The plan depends on shapes, not on values: one synthetic calibration image suffices.
  const x = Float32Array.from({ length: 128 * 128 * 3 }, (_, i) => Math.sin(i * 0.37));
  const { quant } = quantizeSpec(spec, [x]);
  const target = getTarget('stm32f746');
  const schemes: Record<string, Scheme> = { full: fullScheme(graph), '99kb': schemeFromJson(graph, ANCHOR_99KB, '99kb') };
  const results = ROWS.map((r) => {
    const t0 = performance.now();
    const plan: Plan = planModel(quant, { scheme: schemes[r.scheme]!, program: r.program });
    const ms = performance.now() - t0;
    const sram = sramNeeded(plan, target);
    return {
      ...r,
      sramPeakBytes: sram,
      arenaBytes: plan.arena.arenaBytes,
      peakLiveBytes: plan.arena.peakLiveBytes,
      placements: plan.arena.candidates,
      trainedParamsBytes: plan.layout.trainedParamBytes,
      reserveBytes: target.stackReserveBytes,
      fitsSram: sram <= target.sramBytes,
      planMs: Math.round(ms),
    };
  });
  // The compiled artifact of the default row: its manifest adds asc's static data (~0.5 KB).
  const compiled = await compile(spec, { target, scheme: schemes['99kb']!, calibration: [x] });
  const head = `${'setting'.padEnd(58)} ${'all-incl'.padStart(8)} ${'ref-style'.padStart(8)} ${'params'.padStart(8)}  ${'TTE (paper) KB'.padStart(14)}`;
  process.stdout.write(`MobileNetV2-w0.35, 128x128x3, 10 classes, batch 1, target stm32f746 (${kb(target.sramBytes)} KB SRAM)\n${head}\n`);
  for (const r of results) {
    process.stdout.write(
      `${r.setting.padEnd(58)} ${kb(r.sramPeakBytes).padStart(8)} ${kb(r.arenaBytes).padStart(8)} ${kb(r.trainedParamsBytes).padStart(8)}  ${(r.referenceKB ?? '').toString().padStart(14)}\n`,
    );
  }
  process.stdout.write(
    `\ncompiled default row: manifest sramPeakBytes ${compiled.manifest.memory.sramPeakBytes} B (${kb(compiled.manifest.memory.sramPeakBytes)} KB, incl. ${compiled.manifest.memory.breakdown.staticDataBytes} B static data), flashBytes ${compiled.manifest.memory.flashBytes} B\n`,
  );
  process.stdout.write(
    '\narena placement (first-fit order): ' +
      results
        .map((r) => `\n  ${r.setting.trim()}: ${r.placements.map((c) => `${c.strategy} ${kb(c.arenaBytes)} KB`).join(', ')} (lower bound: peak live ${kb(r.peakLiveBytes)} KB)`)
        .join('') +
      '\n',
  );
  const out = join(root, 'bench', 'results', 'memory-mbv2.json');
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileAtomic(
    out,
    JSON.stringify(
      {
        model: spec.name,
        target: target.name,
        reference: 'Lin et al. 2022, Fig. 10a (Tiny Training Engine, measured on STM32F746)',
        note: "sramPeakBytes (all-inclusive) = arena + trained parameters + optimizer/runtime state + 16 KiB stack/runtime reserve; arenaBytes = the reference's accounting (arena with its kernel scratch); frozen weights stay in Flash",
        results,
        compiledDefault: { sramPeakBytes: compiled.manifest.memory.sramPeakBytes, flashBytes: compiled.manifest.memory.flashBytes, breakdown: compiled.manifest.memory.breakdown },
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(`wrote ${out}\n`);
}

if (process.argv[1]?.endsWith('memory-mbv2.js')) await main();
