/**
 * The memory table of the Tiny Training Engine's own comparison (Lin et al. 2022, Fig. 10a),
 * on the same work: its three networks (examples/tte-*.json, layer for layer from its
 * architecture tables) and its five shipped sparse schemes per network
 * (examples/schemes/tte-<network>-<scheme>.json, read as the reference reads them), each
 * planned exactly as compile() plans it, on stm32f746, in both accountings:
 *
 * - the reference's: the activation arena with its kernel scratch (TinyEngine counts its peak
 *   so; trained weight slices, biases and the stack sit elsewhere and are not counted);
 * - all-inclusive: everything the device's SRAM holds (arena, trained parameters, optimizer
 *   and runtime state, static data, stack reserve) = the manifest's sramPeakBytes;
 * - for the reordered sparse schemes (the ones that fit the part), the firmware's own: each
 *   is compiled and built as firmware, and its SRAM is .data + .bss + the stack it links
 *   (the call graph's worst case, host/firmware/stack-bound.ts) instead of the reserve.
 *
 *   npm run bench:memory   -> stdout, bench/results/memory.{json,md}
 *
 * Static data (asc's strings above the arena) comes from compiling each network once with
 * its own scheme; it is the same few hundred bytes whatever the scheme.
 */
import { readFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, planModel, quantizeSpec, sramNeeded } from '../compiler/index.js';
import { packageRoot } from '../compiler/codegen/build.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import type { ProgramOptions } from '../compiler/autodiff/program.js';
import { fullScheme, type Scheme } from '../compiler/scheme/scheme.js';
import { schemeFromJson } from '../compiler/scheme/parse.js';
import { getTarget } from '../targets/index.js';
import { writeFileAtomic } from '../host/io/atomic.js';
import { writeArtifact } from '../host/artifact.js';
import { buildFirmware } from '../host/firmware/build.js';

/** The reference's measured peaks on STM32F746, KB (Fig. 10a; shared/anchors/README.md). */
export const NETWORKS = [
  { model: 'mbv2-w0.35', label: 'MobileNetV2-w0.35', reference: { full: 2939, sparse: 335, reorder: 141 }, schemes: ['49kb', '73kb', '99kb', '123kb', '138kb'] },
  { model: 'proxyless-w0.3', label: 'ProxylessNAS-w0.3', reference: { full: 2745, sparse: 326, reorder: 135 }, schemes: ['49kb', '74kb', '98kb', '120kb', '148kb'] },
  { model: 'mcunet-5fps', label: 'MCUNet-5FPS', reference: { full: 3650, sparse: 560, reorder: 173 }, schemes: ['49kb', '74kb', '99kb', '124kb', '148kb'] },
] as const;

/** The settings of the reference's three bars, and ours with every optimisation. */
const SETTINGS: Array<{ setting: string; full: boolean; program: ProgramOptions; column: 'full' | 'sparse' | 'reorder' | null }> = [
  { setting: 'full update, no reordering, no streaming, int8 outputs for masks', full: true, program: { reorder: false, stream: false, bitMasks: false }, column: 'full' },
  { setting: 'full update, all our optimisations', full: true, program: {}, column: null },
  { setting: 'sparse, no reordering', full: false, program: { reorder: false }, column: 'sparse' },
  { setting: 'sparse, reordered (default)', full: false, program: {}, column: 'reorder' },
];

export interface MemoryRow {
  network: string;
  setting: string;
  scheme: string;
  referenceStyleBytes: number;
  allInclusiveBytes: number;
  parts: { arenaBytes: number; trainedParamsBytes: number; optimizerAndStateBytes: number; staticDataBytes: number; stackBytes: number };
  peakLiveBytes: number;
  referenceKB: number | null;
  /** The built firmware (reordered sparse schemes only): .data + .bss + the stack it links. */
  firmware?: { sramBytes: number; stackBytes: number; stackSource: string };
}

const kb = (b: number): string => (b / 1024).toFixed(1);

async function network(n: (typeof NETWORKS)[number]): Promise<MemoryRow[]> {
  const root = packageRoot();
  const spec = JSON.parse(readFileSync(join(root, 'examples', `tte-${n.model}.json`), 'utf8')) as ModelSpec;
  const graph = buildGraph(spec);
  // The plan depends on shapes, not on values: one synthetic calibration image suffices.
  const x = Float32Array.from({ length: graph.inputShape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37));
  const { quant } = quantizeSpec(spec, [x]);
  const target = getTarget('stm32f746');
  const own = schemeFromJson(graph, spec.scheme, 'own');
  const compiled = await compile(spec, { target, scheme: own, calibration: [x] });
  const staticDataBytes = compiled.manifest.memory.breakdown.staticDataBytes;
  const schemes: Array<[string, Scheme]> = n.schemes.map((s) => [
    s,
    schemeFromJson(graph, JSON.parse(readFileSync(join(root, 'examples', 'schemes', `tte-${n.model}-${s}.json`), 'utf8')), `tte-${n.model}-${s}`),
  ]);
  const rows: MemoryRow[] = [];
  for (const st of SETTINGS) {
    for (const [name, scheme] of st.full ? ([['full', fullScheme(graph)]] as Array<[string, Scheme]>) : schemes) {
      const plan = planModel(quant, { scheme, program: st.program });
      const { layout, arena } = plan;
      const firmware = st.column === 'reorder' ? await firmwareSram(spec, scheme, x, name) : undefined;
      rows.push({
        network: n.label,
        setting: st.setting,
        scheme: name,
        referenceStyleBytes: arena.arenaBytes,
        allInclusiveBytes: sramNeeded(plan, target, staticDataBytes),
        parts: {
          arenaBytes: arena.arenaBytes,
          trainedParamsBytes: layout.trainedParamBytes,
          optimizerAndStateBytes: layout.trainEnd - layout.trainBase - layout.trainedParamBytes,
          staticDataBytes,
          stackBytes: target.stackReserveBytes,
        },
        peakLiveBytes: arena.peakLiveBytes,
        referenceKB: st.column ? n.reference[st.column] : null,
        ...(firmware && { firmware }),
      });
    }
  }
  // The bench's arithmetic is the manifest's: the compiled row states the same two figures.
  const m = compiled.manifest.memory.accounting;
  const plan = planModel(quant, { scheme: own });
  if (m.referenceStyleBytes !== plan.arena.arenaBytes || m.allInclusiveBytes !== sramNeeded(plan, target, staticDataBytes)) {
    throw new Error(`${n.model}: the compiled manifest's accounting differs from the plan's`);
  }
  return rows;
}

/** The scheme compiled (default program) and built as stm32f746 firmware: what its SRAM really holds. */
async function firmwareSram(spec: ModelSpec, scheme: Scheme, x: Float32Array, name: string): Promise<NonNullable<MemoryRow['firmware']>> {
  const target = getTarget('stm32f746');
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-bench-memory-'));
  try {
    const dir = join(work, name);
    await writeArtifact(dir, await compile(spec, { target, scheme, calibration: [x] }));
    const b = await buildFirmware(dir, target, join(work, 'firmware.elf'));
    return { sramBytes: b.sramUsedBytes, stackBytes: b.stack.bytes, stackSource: b.stack.source };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function markdown(rows: MemoryRow[]): string {
  const out: string[] = [
    "# Peak SRAM for training, the reference's three networks (stm32f746, batch 1, 128x128x3, 10 classes)",
    '',
    "Generated by `npm run bench:memory` (bench/memory.ts). Each cell: the reference's accounting (arena + kernel scratch) / all-inclusive (arena, trained parameters, optimizer and runtime state, static data, 16 KiB stack reserve: the manifest's figure), KB; for the reordered schemes, / the built firmware's SRAM (.data + .bss + the stack it links, from gcc's call graph). TTE: the reference's measured peak (Lin et al. 2022, Fig. 10a).",
    '',
  ];
  for (const n of NETWORKS) {
    const mine = rows.filter((r) => r.network === n.label);
    const cell = (setting: string, scheme: string): string => {
      const r = mine.find((x) => x.setting === setting && x.scheme === scheme)!;
      return `${kb(r.referenceStyleBytes)} / ${kb(r.allInclusiveBytes)}${r.firmware ? ` / ${kb(r.firmware.sramBytes)}` : ''}`;
    };
    out.push(`## ${n.label}`, '', '| scheme | sparse, no reordering | sparse, reordered |', '|---|---|---|');
    for (const s of n.schemes) out.push(`| ${s} | ${cell('sparse, no reordering', s)} | ${cell('sparse, reordered (default)', s)} |`);
    out.push(`| TTE (paper) | ${n.reference.sparse} | ${n.reference.reorder} |`, '');
    out.push(
      `Full update: ${cell(SETTINGS[0]!.setting, 'full')} KB with no reordering, streaming or 1-bit masks (TTE ${n.reference.full} KB); ${cell(SETTINGS[1]!.setting, 'full')} KB with all our optimisations.`,
      '',
    );
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const rows: MemoryRow[] = [];
  for (const n of NETWORKS) rows.push(...(await network(n)));
  process.stdout.write(
    `${'network'.padEnd(18)} ${'setting'.padEnd(66)} ${'scheme'.padEnd(6)} ${'ref-style'.padStart(9)} ${'all-incl'.padStart(9)} ${'firmware'.padStart(9)} ${'TTE KB'.padStart(7)}\n`,
  );
  for (const r of rows) {
    process.stdout.write(
      `${r.network.padEnd(18)} ${r.setting.padEnd(66)} ${r.scheme.padEnd(6)} ${kb(r.referenceStyleBytes).padStart(9)} ${kb(r.allInclusiveBytes).padStart(9)} ${(r.firmware ? kb(r.firmware.sramBytes) : '').padStart(9)} ${String(r.referenceKB ?? '').padStart(7)}\n`,
    );
  }
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const note =
    "referenceStyleBytes = the arena with its kernel scratch (the reference's accounting); allInclusiveBytes = arena + trained parameters + optimizer/runtime state + static data + the target's 16 KiB stack reserve (the manifest's sramPeakBytes); firmware.sramBytes = the built stm32f746 firmware's .data + .bss + the stack it links (gcc's call-graph worst case); frozen weights stay in Flash. Channels: the reference's kept counts, trained as the leading channels (see README).";
  writeFileAtomic(join(dir, 'memory.json'), JSON.stringify({ target: 'stm32f746', reference: 'Lin et al. 2022, Fig. 10a (measured on STM32F746)', note, rows }, null, 2) + '\n');
  writeFileAtomic(join(dir, 'memory.md'), markdown(rows));
  process.stdout.write(`wrote ${join(dir, 'memory.json')} and memory.md\n`);
}

if (process.argv[1]?.endsWith('memory.js')) await main();
