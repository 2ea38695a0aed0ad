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
import { buildGraph, hasParams, weightCount, type Graph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { parseScheme } from '../compiler/scheme/parse.js';
import { getTarget } from '../targets/index.js';
import { readArtifact, writeArtifact } from '../host/artifact.js';
import { profileArtifact, type Phase } from '../host/profile/profile.js';
import { writeFileAtomic } from '../host/io/atomic.js';
import { resolveTraining, summarise, xorshift, type PeerJob, type PeerResult } from './peers/job.js';

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
  { id: 'mbv2-w0.35-128 full', model: 'examples/mbv2-w0.35-128.json', scheme: 'full', target: 'desktop', warmup: 2, steps: 60, maxSeconds: 12 },
  { id: 'mbv2-w0.35-128 99kb', model: 'examples/mbv2-w0.35-128.json', scheme: 'examples/schemes/mbv2-99kb.json', target: 'stm32f746', warmup: 2, steps: 60, maxSeconds: 12 },
];

const LR = 0.01;
/** Times each peer runs (fresh process each time), interleaved with the others. */
const ROUNDS = 3;
const TORCH_INSTALL = 'bash scripts/setup-onnx.sh --torch';

export interface CaseResult {
  case: string;
  model: string;
  scheme: string;
  target: string;
  ours: {
    arenaBytes: number;
    sramPeakBytes: number;
    wasmMemoryBytes: number;
    programSteps: number;
    /** Where our step's time goes (tinytrain report --profile, SIMD module): phases and the heaviest layers. */
    profile: { stepMs: number; phases: Record<Phase, number>; topLayers: Array<{ layer: string; ms: number; share: number }> };
  };
  peers: PeerResult[];
}

export interface SpeedReport {
  bench: 'speed';
  date: string;
  machine: Record<string, string | number>;
  note: string;
  cases: CaseResult[];
}

/** One peer's rounds as one result: all timed steps together, the highest peak RSS. */
export function mergeRounds(rs: PeerResult[]): PeerResult {
  const ok = rs.filter((r) => r.measured && r.timesMs?.length);
  if (!ok.length) return rs[0]!;
  const times = ok.flatMap((r) => r.timesMs!);
  return {
    ...ok[0]!,
    ...summarise(times),
    rounds: ok.length,
    peakRssBytes: Math.max(...ok.map((r) => r.peakRssBytes ?? 0)),
    baseRssBytes: Math.min(...ok.map((r) => r.baseRssBytes ?? Infinity)),
    ...(ok.length < rs.length ? { note: `${rs.length - ok.length} of ${rs.length} rounds failed: ${rs.find((r) => !r.measured)?.note ?? ''}` } : {}),
  };
}

/**
 * A peer must build the same network and train the same tensors: its parameter count and
 * trained-tensor count are checked against the graph and the scheme (a mismatch is noted,
 * never hidden).
 */
export function checkSameNetwork(r: PeerResult, graph: Graph, job: PeerJob): PeerResult {
  if (!r.measured || r.peer.startsWith('tinytrain')) return r;
  const params = graph.nodes.filter(hasParams).reduce((n, x) => n + weightCount(x) + x.outShape[2], 0);
  const tensors = Object.values(job.train).reduce((n, t) => n + (t.bias ? 1 : 0) + (t.channels > 0 ? 1 : 0), 0);
  const bad: string[] = [];
  if (r.info?.params !== undefined && r.info.params !== params) bad.push(`${String(r.info.params)} parameters, ours ${params}`);
  if (r.info?.trainedTensors !== undefined && r.info.trainedTensors !== tensors) bad.push(`${String(r.info.trainedTensors)} trained tensors, ours ${tensors}`);
  return bad.length ? { ...r, note: `${r.note ? r.note + '; ' : ''}NOT THE SAME NETWORK: ${bad.join(', ')}` } : r;
}

/** Runs one peer process; its last stdout line is its PeerResult. Failures become unmeasured rows. */
function runPeer(peer: string, cmd: string, args: string[]): PeerResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 15 * 60 * 1000 });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status === 0) {
    try {
      return JSON.parse(last) as PeerResult;
    } catch {
      /* fall through to the failure row */
    }
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
      graph,
      train: resolveTraining(graph, scheme),
      lr: LR,
      warmup: quick ? Math.min(2, c.warmup) : c.warmup,
      steps: quick ? 5 : Math.ceil(c.steps / ROUNDS),
      minSteps: quick ? 3 : Math.ceil(10 / ROUNDS),
      maxSeconds: quick ? 2 : c.maxSeconds / ROUNDS,
      samples: 8,
      seed: 1,
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
    log(`${c.id}: profiling ours per layer`);
    const prof = await profileArtifact(readArtifact(dir), { variant: 'simd', steps: quick ? 5 : 20, warmup: quick ? 2 : 5 });
    // Rounds: every peer runs once per round, in a rotated order, each time in a fresh
    // process; a peer's figures are over all its rounds' steps. On a shared machine the
    // load drifts, and rounds spread that drift over every peer instead of hitting one.
    const rounds = quick ? 1 : ROUNDS;
    const byPeer = new Map<string, PeerResult[]>(peers.map(([name]) => [name, []]));
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < peers.length; j++) {
        const [name, run] = peers[(j + r) % peers.length]!;
        log(`${c.id}: round ${r + 1}/${rounds}: ${name}`);
        byPeer.get(name)!.push({ ...run(), peer: name });
      }
    }
    const results = peers.map(([name]) => checkSameNetwork(mergeRounds(byPeer.get(name)!), graph, job));
    const m = art.manifest;
    return {
      case: c.id,
      model: spec.name,
      scheme: m.scheme.name,
      target: m.target,
      ours: {
        arenaBytes: m.arena.bytes,
        sramPeakBytes: m.memory.sramPeakBytes,
        wasmMemoryBytes: m.wasmMemoryBytes,
        programSteps: m.program.length,
        profile: {
          stepMs: prof.typicalStepMs,
          phases: prof.phases,
          topLayers: prof.layers.slice(0, 6).map((l) => ({ layer: l.layer, ms: l.totalMs, share: l.share })),
        },
      },
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

const delta = (p: PeerResult): number | undefined => (p.peakRssBytes !== undefined && p.baseRssBytes !== undefined ? p.peakRssBytes - p.baseRssBytes : undefined);

export function renderTable(r: SpeedReport): string {
  const out: string[] = [
    `machine: ${r.machine.cpu} (${r.machine.cores} cores), ${r.machine.memory}, Node ${r.machine.node}, ${r.machine.kernel}; load average (1/5/15 min) ${r.machine.loadAverage} at start, ${r.machine.loadAverageEnd} at end`,
    r.note,
    '',
  ];
  for (const c of r.cases) {
    const ours = c.peers.find((p) => p.peer === 'tinytrain-simd');
    out.push(
      `${c.case} (scheme ${c.scheme}, ours compiled for ${c.target}: arena ${(c.ours.arenaBytes / 1024).toFixed(1)} KB, ` +
        `SRAM ${(c.ours.sramPeakBytes / 1024).toFixed(1)} KB, WASM memory ${MB(c.ours.wasmMemoryBytes)} MB, ${c.ours.programSteps} program steps)`,
    );
    out.push(
      `  ${'peer'.padEnd(24)} ${'ms/step'.padStart(9)} ${'p10-p90'.padStart(17)} ${'n'.padStart(4)} ${'x ours'.padStart(8)} ` +
        `${'peak RSS MB'.padStart(11)} ${'x ours'.padStart(7)} ${'RSS-base MB'.padStart(11)} ${'x SRAM'.padStart(7)}`,
    );
    for (const p of c.peers) {
      if (!p.measured) {
        const fwd = p.info?.forwardOnlyMedianMs;
        out.push(`  ${p.peer.padEnd(24)} not measured: ${p.note ?? ''}${typeof fwd === 'number' ? `; forward pass alone ${fwd.toFixed(2)} ms` : ''}`);
        continue;
      }
      const name = p.peer.startsWith('pytorch default') && p.info?.threads !== undefined ? `pytorch ${p.info.threads} threads` : p.peer;
      out.push(
        `  ${name.padEnd(24)} ${p.medianMs!.toFixed(2).padStart(9)} ${`${p.p10Ms!.toFixed(2)}-${p.p90Ms!.toFixed(2)}`.padStart(17)} ${String(p.steps).padStart(4)} ` +
          `${x(p.medianMs, ours?.medianMs).padStart(8)} ${MB(p.peakRssBytes).padStart(11)} ${x(p.peakRssBytes, ours?.peakRssBytes).padStart(7)} ` +
          `${MB(delta(p)).padStart(11)} ${x(delta(p), c.ours.sramPeakBytes).padStart(7)}`,
      );
    }
    const notes = c.peers.filter((p) => p.measured && p.note).map((p) => `  note (${p.peer}): ${p.note}`);
    // A step whose loss is non-finite skips backward: it would look fast for the wrong reason.
    for (const p of c.peers) {
      if (p.peer.startsWith('tinytrain') && Number(p.info?.skippedSteps ?? 0) > 0)
        notes.push(`  note (${p.peer}): ${String(p.info?.skippedSteps)} steps had a non-finite loss and skipped backward`);
    }
    const t1 = c.peers.find((p) => p.peer === 'pytorch 1 thread');
    const tn = c.peers.find((p) => p.peer === 'pytorch default threads');
    if (t1?.medianMs && tn?.medianMs && tn.medianMs > 2 * t1.medianMs) {
      notes.push(
        `  note: PyTorch with ${String(tn.info?.threads ?? 'its default')} threads is ${(tn.medianMs / t1.medianMs).toFixed(1)}x slower than with 1: ` +
          'its worker threads wait on each other, and on a machine whose cores are busy with other work (see the load average) every wait can cost a time slice',
      );
    }
    const pr = c.ours.profile;
    const ph = (Object.keys(pr.phases) as Phase[]).map((k) => `${k} ${((100 * pr.phases[k]) / pr.stepMs).toFixed(0)}%`).join(', ');
    out.push(
      ...notes,
      `  where our step goes (report --profile, simd, ${pr.stepMs.toFixed(2)} ms): ${ph}; heaviest layers: ` +
        pr.topLayers.map((l) => `${l.layer} ${(100 * l.share).toFixed(0)}%`).join(', '),
      '',
    );
  }
  return out.join('\n');
}

export async function runSpeedBench(opts: { quick?: boolean; cases?: string[]; log?: (s: string) => void; write?: boolean } = {}): Promise<SpeedReport> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`speed: ${s}\n`));
  const root = packageRoot();
  if (!existsSync(join(root, 'dist', 'bench', 'peers', 'ours-step.js'))) throw new Error('bench/speed: build first (npx tsc -p tsconfig.json)');
  const selected = CASES.filter((c) => !opts.cases?.length || opts.cases.some((k) => c.id.includes(k)));
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    node: process.versions.node,
    v8: process.versions.v8,
    kernel: `${process.platform} ${release()}`,
    loadAverage: loadavg()
      .map((v) => v.toFixed(2))
      .join(' '),
  };
  const cases: CaseResult[] = [];
  for (const c of selected) cases.push(await runCase(c, !!opts.quick, log));
  const loadEnd = loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
  const versions = cases.flatMap((c) => c.peers).map((p) => p.info ?? {});
  const torch = versions.find((v) => typeof v.torch === 'string')?.torch;
  const tfjs = versions.find((v) => typeof v.tfjs === 'string')?.tfjs;
  const report: SpeedReport = {
    bench: 'speed',
    date: new Date().toISOString(),
    machine: { ...machine, loadAverageEnd: loadEnd, torch: String(torch ?? 'not installed'), tfjs: String(tfjs ?? 'unknown') },
    note:
      'batch-1 SGD step (forward, softmax cross-entropy, backward, update); median over the timed steps of all rounds ' +
      `(each peer runs ${opts.quick ? 1 : ROUNDS} times in a fresh process, interleaved with the others, each time after its own warm-up); ` +
      '"x ours" = peer / tinytrain-simd (time and peak process RSS); RSS-base = peak RSS minus RSS once the framework is loaded ' +
      '(for ours: before the artifact is loaded); "x SRAM" = RSS-base / the SRAM our manifest says the step needs. ' +
      'Ours is int8 with float32 gradients; the peers are float32 (PyTorch NCHW, TF.js NHWC).' +
      (opts.quick ? ' QUICK RUN: few steps, figures are rough.' : ''),
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
    .catch((e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    });
}
