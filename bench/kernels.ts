/**
 * Kernel benchmark: int8 multiply-accumulates per second of the main conv kernels on
 * MobileNetV2-w0.35-128 layer shapes, for the SIMD and the scalar module, against the
 * roofline (the best int8 MAC rate WASM SIMD reaches here: register-blocked
 * i32x4.dot_i16x8_s over data in L1) and against the kernels of a baseline revision
 * (before the SIMD kernels), built from git in the same run.
 *
 *   npm run build && node dist/bench/kernels.js [--baseline <git rev>] [--quick] [--only <name part>]
 *   -> table on stdout, bench/results/kernels.json
 *
 * Every figure is the median over repeated timed runs after a warm-up. Timings are
 * reported, never asserted.
 */
import { cpus } from 'node:os';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../compiler/codegen/build.js';
import { writeFileAtomic } from '../host/io/atomic.js';
import { type WasmKernels, compileAsModule, currentKernelsEntry, instantiateKernels, kernelsAtRevision } from './support/wasm-kernels.js';
import { KERNEL_CASES, type KernelCase } from './support/kernel-cases.js';
import { TIMING_CLOCK, medianRate, pairedRates } from './support/timing.js';

/** The commit before the SIMD kernels (issue 6): what "before" means in the table. */
export const DEFAULT_BASELINE = 'ebdff40';

/**
 * Rates are medians over runs; ratios (ofRoofline, simdOverScalar, speed-ups) are medians
 * of per-run ratios of two calls timed in alternating batches. ofRoofline is the median ratio of the kernel's rate to the roofline probe's, timed in
 * alternating batches (robust to the machine's load changing during the run); the
 * scalar fraction uses the same reference.
 */
export interface KernelRow {
  name: string;
  shape: string;
  macs: number;
  simd: { macPerS: number; ofRoofline: number };
  scalar: { macPerS: number; ofRoofline: number };
  simdOverScalar: number;
  /** The same kernel at the baseline revision (null when the baseline could not be built). */
  before: { simd: number; scalar: number } | null;
  /** SIMD now / SIMD before. */
  speedupSimd: number | null;
  speedupScalar: number | null;
}

export interface KernelBenchResult {
  machine: { cpu: string; cores: number; node: string; v8: string; platform: string };
  date: string;
  timing: string;
  baseline: string | null;
  roofline: { macPerS: number; variants: Record<string, number> };
  kernels: KernelRow[];
}

interface Options {
  baseline?: string;
  quick?: boolean;
  out?: string | null;
  log?: (line: string) => void;
  /** Only the cases whose name contains this (for quick comparisons; no JSON is written). */
  only?: string;
}

const ROOFLINE_VARIANTS = [
  // [export, MACs per call per element of n, label]
  ['rooflineDot2x4S16', 8, '2x4 block, int16 operands'],
  ['rooflineDot3x4S16', 12, '3x4 block, int16 operands'],
  ['rooflineDot2x4S8', 8, '2x4 block, int8 operands widened on load'],
] as const;

interface Roofline {
  result: KernelBenchResult['roofline'];
  call: () => unknown;
  work: number;
}

async function measureRoofline(quick: boolean): Promise<Roofline> {
  const k = await instantiateKernels(await compileAsModule(join(packageRoot(), 'assembly', 'kernels', 'roofline.ts'), true));
  const n = 256;
  const x = k.alloc(4 * n * 2);
  const w = k.alloc(4 * n * 2);
  const bytes = new Uint8Array(k.memory.buffer);
  for (let i = x; i < w + 4 * n * 2; i++) bytes[i] = (i * 37) & 0x7f;
  const variants: Record<string, number> = {};
  let best: Roofline | null = null;
  for (const [name, perN, label] of ROOFLINE_VARIANTS) {
    const f = k.fn(name);
    const reps = 200;
    const call = (): unknown => f(x, w, n, reps);
    const work = reps * perN * n;
    variants[label] = medianRate(call, work, quick);
    if (!best || variants[label]! > best.result.macPerS) best = { result: { macPerS: variants[label]!, variants }, call, work };
  }
  return best!;
}

/** The timed call of a case in a module (its buffers freshly allocated and filled). */
function callOf(k: WasmKernels, c: KernelCase): () => unknown {
  k.reset();
  return c.setup(k);
}

export async function runKernelBench(opts: Options = {}): Promise<KernelBenchResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const quick = opts.quick ?? false;
  const baselineRev = opts.baseline ?? DEFAULT_BASELINE;
  const entry = currentKernelsEntry();
  const [simd, scalar] = [await instantiateKernels(await compileAsModule(entry, true)), await instantiateKernels(await compileAsModule(entry, false))];
  const rev = kernelsAtRevision(baselineRev);
  let before: { simd: WasmKernels; scalar: WasmKernels } | null = null;
  if (rev) {
    try {
      before = { simd: await instantiateKernels(await compileAsModule(rev.entry, true)), scalar: await instantiateKernels(await compileAsModule(rev.entry, false)) };
    } finally {
      rev.cleanup();
    }
  } else {
    log(`(baseline ${baselineRev} not available: no before/after columns)`);
  }
  const roof = await measureRoofline(quick);
  const roofline = roof.result;
  const rows: KernelRow[] = [];
  for (const c of KERNEL_CASES.filter((k) => !opts.only || k.name.includes(opts.only))) {
    // Every ratio comes from alternating batches of the two calls (see pairedRates).
    const now = { simd: callOf(simd, c), scalar: callOf(scalar, c) };
    const vsRoof = pairedRates(now.simd, c.macs, roof.call, roof.work, quick);
    const vsScalar = pairedRates(now.simd, c.macs, now.scalar, c.macs, quick);
    let b: KernelRow['before'] = null;
    let speedupSimd: number | null = null;
    let speedupScalar: number | null = null;
    if (before) {
      const simdAB = pairedRates(now.simd, c.macs, callOf(before.simd, c), c.macs, quick);
      const scalarAB = pairedRates(now.scalar, c.macs, callOf(before.scalar, c), c.macs, quick);
      b = { simd: simdAB.refRate, scalar: scalarAB.refRate };
      speedupSimd = simdAB.ratio;
      speedupScalar = scalarAB.ratio;
    }
    rows.push({
      name: c.name,
      shape: c.shape,
      macs: c.macs,
      simd: { macPerS: vsRoof.rate, ofRoofline: vsRoof.ratio },
      scalar: { macPerS: vsScalar.refRate, ofRoofline: vsRoof.ratio / vsScalar.ratio },
      simdOverScalar: vsScalar.ratio,
      before: b,
      speedupSimd,
      speedupScalar,
    });
  }
  const cpu = cpus();
  const result: KernelBenchResult = {
    machine: { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, node: process.version, v8: process.versions.v8, platform: `${process.platform}-${process.arch}` },
    date: new Date().toISOString(),
    timing: TIMING_CLOCK,
    baseline: before ? baselineRev : null,
    roofline,
    kernels: rows,
  };
  for (const line of formatTable(result)) log(line);
  if (opts.out !== null && !opts.only) {
    const out = opts.out ?? join(packageRoot(), 'bench', 'results', 'kernels.json');
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileAtomic(out, JSON.stringify(result, null, 2) + '\n');
    log(`wrote ${out}`);
  }
  return result;
}

const g = (v: number): string => (v / 1e9).toFixed(2);
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const x = (v: number | null): string => (v === null ? '-' : `${v.toFixed(1)}x`);

export function formatTable(r: KernelBenchResult): string[] {
  const lines = [
    `machine: ${r.machine.cpu}, ${r.machine.cores} cores, node ${r.machine.node}`,
    `roofline (best int8 MAC rate of WASM SIMD here): ${g(r.roofline.macPerS)} GMAC/s`,
    ...Object.entries(r.roofline.variants).map(([k, v]) => `  ${k}: ${g(v)} GMAC/s`),
    '',
    '| kernel | shape | SIMD GMAC/s | % roofline | scalar GMAC/s | SIMD/scalar | before SIMD | before scalar | speed-up SIMD | speed-up scalar |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const k of r.kernels) {
    lines.push(
      `| ${k.name} | ${k.shape} | ${g(k.simd.macPerS)} | ${pct(k.simd.ofRoofline)} | ${g(k.scalar.macPerS)} | ${x(k.simdOverScalar)} | ` +
        `${k.before ? g(k.before.simd) : '-'} | ${k.before ? g(k.before.scalar) : '-'} | ${x(k.speedupSimd)} | ${x(k.speedupScalar)} |`,
    );
  }
  return lines;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--baseline') o.baseline = argv[++i];
    else if (argv[i] === '--quick') o.quick = true;
    else if (argv[i] === '--only') o.only = argv[++i];
    else throw new Error(`unknown argument ${argv[i]} (use --baseline <rev>, --quick, --only <name part>)`);
  }
  return o;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runKernelBench(parseArgs(process.argv.slice(2))).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
