/**
 * Step time and memory of one batch-1 training step, ours beside PyTorch and TF.js on the
 * same network in the same run (issue 6):
 *
 *   node dist/bench/speed.js [--quick] [CASE...]   -> table on stdout, bench/results/speed.json
 *
 * Cases: mnist-cnn (full update) and MobileNetV2-w0.35-128 (full update, and the anchor's
 * sparse "99kb" scheme). Every peer runs in its own child process (so peak RSS is that
 * peer's alone), does its warm-up steps, then timed steps; figures are medians over the
 * timed steps with 10th/90th percentiles. PyTorch runs at 1 thread (our WASM is single-
 * threaded) and at its default thread count. Nothing here asserts a timing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compile } from '../compiler/index.js';
import { packageRoot } from '../compiler/codegen/build.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { parseScheme } from '../compiler/sparse/parse.js';
import { getTarget } from '../targets/index.js';
import { writeArtifact } from '../host/artifact.js';
import { writeFileAtomic } from '../host/io/atomic.js';
import { resolveTraining, xorshift, type PeerJob, type PeerResult } from './peers/job.js';

interface Case {
  id: string;
  model: string;
  scheme: string;
  /** Ours is compiled for this target (its budget is checked); MBV2's full update only fits `desktop`. */
  target: string;
  warmup: number;
  steps: number;
  maxSeconds: number;
}

export const CASES: readonly Case[] = [
  { id: 'mnist-cnn full', model: 'examples/mnist-cnn.json', scheme: 'full', target: 'stm32f746', warmup: 20, steps: 300, maxSeconds: 6 },
  { id: 'mbv2-w0.35-128 full', model: 'examples/mbv2-w0.35-128.json', scheme: 'full', target: 'desktop', warmup: 3, steps: 60, maxSeconds: 12 },
  { id: 'mbv2-w0.35-128 99kb', model: 'examples/mbv2-w0.35-128.json', scheme: 'examples/schemes/mbv2-99kb.json', target: 'stm32f746', warmup: 3, steps: 60, maxSeconds: 12 },
];

const LR = 0.01;
const TORCH_INSTALL = 'bash scripts/setup-onnx.sh --torch';

export interface CaseResult {
  case: string;
  model: string;
  scheme: string;
  target: string;
  ours: { arenaBytes: number; sramPeakBytes: number; wasmMemoryBytes: number; programSteps: number };
  peers: PeerResult[];
}

export interface SpeedReport {
  bench: 'speed';
  date: string;
  machine: Record<string, string | number>;
  note: string;
  cases: CaseResult[];
}

/** Runs one peer process; its last stdout line is its PeerResult. Failures become unmeasured rows. */
function runPeer(peer: string, cmd: string, args: string[]): PeerResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 15 * 60 * 1000 });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status === 0) {
    try { return JSON.parse(last) as PeerResult; } catch { /* fall through to the failure row */ }
  }
  const why = r.error ? r.error.message : (r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
  return { peer, measured: false, note: `peer process failed (exit ${r.status}): ${why}` };
}

/** Pseudo-random inputs over the model's range: the plan and the timing do not depend on values. */
function calibration(spec: ModelSpec): Float32Array[] {
  const g = buildGraph(spec);
  const n = g.inputShape.reduce((a, b) => a * b, 1);
  const rnd = xorshift(7);
  const [lo, hi] = g.inputRange;
  return Array.from({ length: 4 }, () => Float32Array.from({ length: n }, () => lo + (hi - lo) * rnd()));
}

async function runCase(c: Case, quick: boolean, log: (s: string) => void): Promise<CaseResult> {
  const root = packageRoot();
  const spec = JSON.parse(readFileSync(join(root, c.model), 'utf8')) as ModelSpec;
  const graph = buildGraph(spec);
  const scheme = parseScheme(graph, c.scheme === 'full' ? 'full' : join(root, c.scheme));
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-speed-'));
  try {
    log(`${c.id}: compiling ours for ${c.target}`);
    const art = await compile(spec, { target: getTarget(c.target), scheme, calibration: calibration(spec) });
    const dir = join(work, 'artifact');
    await writeArtifact(dir, art);
    const job: PeerJob = {
      graph, train: resolveTraining(graph, scheme), lr: LR,
      warmup: quick ? Math.min(2, c.warmup) : c.warmup, steps: quick ? 5 : c.steps, minSteps: quick ? 3 : 10,
      maxSeconds: quick ? 2 : c.maxSeconds, samples: 8, seed: 1,
    };
    const jobPath = join(work, 'job.json');
    writeFileSync(jobPath, JSON.stringify(job));
    const node = process.execPath;
    const here = join(root, 'dist', 'bench', 'peers');
    const torchPy = join(root, '.cache', 'torch-venv', 'bin', 'python');
    const torchScript = join(root, 'bench', 'peers', 'torch_step.py');
    const peers: Array<[string, () => PeerResult]> = [
      ['tinytrain-simd', () => runPeer('tinytrain-simd', node, [join(here, 'ours-step.js'), dir, 'simd', jobPath])],
      ['tinytrain-scalar', () => runPeer('tinytrain-scalar', node, [join(here, 'ours-step.js'), dir, 'scalar', jobPath])],
      ['pytorch 1 thread', () => torchPeer(torchPy, torchScript, jobPath, 1)],
      ['pytorch default threads', () => torchPeer(torchPy, torchScript, jobPath, 0)],
      ['tfjs-cpu', () => runPeer('tfjs-cpu', node, [join(here, 'tfjs-step.js'), 'cpu', jobPath])],
      ['tfjs-wasm', () => runPeer('tfjs-wasm', node, [join(here, 'tfjs-step.js'), 'wasm', jobPath])],
    ];
    const results: PeerResult[] = [];
    for (const [name, run] of peers) {
      log(`${c.id}: ${name}`);
      results.push({ ...run(), peer: name });
    }
    const m = art.manifest;
    return {
      case: c.id, model: spec.name, scheme: m.scheme.name, target: m.target,
      ours: { arenaBytes: m.arena.bytes, sramPeakBytes: m.memory.sramPeakBytes, wasmMemoryBytes: m.wasmMemoryBytes, programSteps: m.program.length },
      peers: results,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function torchPeer(py: string, script: string, jobPath: string, threads: number): PeerResult {
  const peer = threads === 1 ? 'pytorch 1 thread' : 'pytorch default threads';
  if (!existsSync(py)) return { peer, measured: false, note: `PyTorch is not installed (no ${py}): install it with \`${TORCH_INSTALL}\`` };
  return runPeer(peer, py, [script, jobPath, String(threads)]);
}

const MB = (b: number | undefined): string => (b === undefined ? '-' : (b / 1048576).toFixed(1));
const x = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`);

export function renderTable(r: SpeedReport): string {
  const out: string[] = [
    `machine: ${r.machine.cpu} (${r.machine.cores} cores), ${r.machine.memory}, Node ${r.machine.node}, ${r.machine.kernel}; load average at start ${r.machine.loadAverage}`,
    r.note, '',
  ];
  for (const c of r.cases) {
    const ours = c.peers.find((p) => p.peer === 'tinytrain-simd');
    out.push(`${c.case} (scheme ${c.scheme}, ours compiled for ${c.target}: arena ${(c.ours.arenaBytes / 1024).toFixed(1)} KB, ` +
      `SRAM ${(c.ours.sramPeakBytes / 1024).toFixed(1)} KB, WASM memory ${MB(c.ours.wasmMemoryBytes)} MB, ${c.ours.programSteps} program steps)`);
    out.push(`  ${'peer'.padEnd(24)} ${'ms/step'.padStart(9)} ${'p10-p90'.padStart(17)} ${'n'.padStart(4)} ${'x ours'.padStart(8)} ` +
      `${'peak RSS MB'.padStart(11)} ${'x ours'.padStart(7)} ${'RSS-base MB'.padStart(11)}`);
    for (const p of c.peers) {
      if (!p.measured) {
        const fwd = p.info?.forwardOnlyMedianMs;
        out.push(`  ${p.peer.padEnd(24)} not measured: ${p.note ?? ''}${typeof fwd === 'number' ? `; forward pass alone ${fwd.toFixed(2)} ms` : ''}`);
        continue;
      }
      out.push(`  ${p.peer.padEnd(24)} ${p.medianMs!.toFixed(2).padStart(9)} ${`${p.p10Ms!.toFixed(2)}-${p.p90Ms!.toFixed(2)}`.padStart(17)} ${String(p.steps).padStart(4)} ` +
        `${x(p.medianMs, ours?.medianMs).padStart(8)} ${MB(p.peakRssBytes).padStart(11)} ${x(p.peakRssBytes, ours?.peakRssBytes).padStart(7)} ` +
        `${MB(p.peakRssBytes !== undefined && p.baseRssBytes !== undefined ? p.peakRssBytes - p.baseRssBytes : undefined).padStart(11)}`);
    }
    const notes = c.peers.filter((p) => p.measured && p.note).map((p) => `  note (${p.peer}): ${p.note}`);
    out.push(...notes, '');
  }
  return out.join('\n');
}

export async function runSpeedBench(opts: { quick?: boolean; cases?: string[]; log?: (s: string) => void; write?: boolean } = {}): Promise<SpeedReport> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`speed: ${s}\n`));
  const root = packageRoot();
  if (!existsSync(join(root, 'dist', 'bench', 'peers', 'ours-step.js'))) throw new Error('bench/speed: build first (npx tsc -p tsconfig.json)');
  const selected = CASES.filter((c) => !opts.cases?.length || opts.cases.some((k) => c.id.includes(k)));
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    node: process.versions.node, v8: process.versions.v8, kernel: `${process.platform} ${release()}`,
    loadAverage: loadavg().map((v) => v.toFixed(2)).join(' '),
  };
  const cases: CaseResult[] = [];
  for (const c of selected) cases.push(await runCase(c, !!opts.quick, log));
  const versions = cases.flatMap((c) => c.peers).map((p) => p.info ?? {});
  const torch = versions.find((v) => typeof v.torch === 'string')?.torch;
  const tfjs = versions.find((v) => typeof v.tfjs === 'string')?.tfjs;
  const report: SpeedReport = {
    bench: 'speed', date: new Date().toISOString(),
    machine: { ...machine, torch: String(torch ?? 'not installed'), tfjs: String(tfjs ?? 'unknown') },
    note: 'batch-1 SGD step (forward, softmax cross-entropy, backward, update); median over timed steps after warm-up; ' +
      '"x ours" = peer / tinytrain-simd (time and peak process RSS); RSS-base = peak RSS minus RSS once the framework is loaded. ' +
      'Ours is int8 with float32 gradients; the peers are float32 (PyTorch NCHW, TF.js NHWC).' + (opts.quick ? ' QUICK RUN: few steps, figures are rough.' : ''),
    cases,
  };
  if (opts.write ?? true) {
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileAtomic(join(root, 'bench', 'results', 'speed.json'), JSON.stringify(report, null, 2) + '\n');
  }
  return report;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  runSpeedBench({ quick: args.includes('--quick'), cases: args.filter((a) => !a.startsWith('--')) })
    .then((r) => process.stdout.write(renderTable(r) + '\nwrote bench/results/speed.json\n'))
    .catch((e: unknown) => { process.stderr.write(`${(e as Error).stack ?? String(e)}\n`); process.exit(1); });
}
