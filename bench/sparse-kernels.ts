/**
 * Pruned-kernel benchmark (issue 6): the pruned 1x1 kernels (assembly/kernels/sparse.ts)
 * against our own unpruned kernels (conv2dForwardS8 / conv2dBackwardInputF32 as they are in
 * this checkout) on every pointwise layer of MobileNetV2-w0.35-128, at 50%, 70% and 90%
 * weight sparsity, unstructured and channel-pair lists, forward and input gradient, on
 * the SIMD and the scalar build of the kernel library.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/sparse-kernels.js [--quick]
 *   -> table on stdout, bench/results/sparse-kernels.json
 *
 * Each figure is the median of repeated timed runs after a warm-up; a layer's speed-up is
 * unpruned median / pruned median, the model-level one is the sum over layers of unpruned
 * medians over the sum of pruned medians (the JSON keeps its historical keys: dense = unpruned,
 * sparse = pruned). Timings are reported, never asserted.
 */
import asc from 'assemblyscript/asc';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../compiler/codegen/build.js';
import { kernelRecord, type KernelRecordValues, type RecordKernelName } from '../compiler/formats/kernel-records.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { encodeNzList, nzFormat, prunedScratchBytes, type PruneStructure } from '../compiler/pruning/nzlist.js';
import { writeFileAtomic } from '../host/io/atomic.js';

const SPARSITIES = [0.5, 0.7, 0.9] as const;
const STRUCTURES: PruneStructure[] = ['unstructured', 'pairs'];
const PAGES = 256;

type Fn = (...a: number[]) => void;
interface Kernels {
  memory: WebAssembly.Memory;
  fwdUnpruned: Fn;
  bwdUnpruned: Fn;
  fwdPruned: Fn;
  bwdPruned: Fn;
}

interface Layer {
  name: string;
  P: number;
  CI: number;
  CO: number;
}

export interface PrunedBenchResult {
  machine: { cpu: string; cores: number; node: string; date: string };
  method: string;
  /** Model-level speed-ups: [build][direction][structure][sparsity]. */
  summary: Array<{
    build: 'simd' | 'scalar';
    direction: 'forward' | 'inputGrad';
    structure: PruneStructure;
    sparsity: number;
    denseMs: number;
    sparseMs: number;
    speedup: number;
    minLayerSpeedup: number;
    maxLayerSpeedup: number;
  }>;
  layers: Array<{
    build: 'simd' | 'scalar';
    direction: 'forward' | 'inputGrad';
    layer: string;
    shape: string;
    denseUs: number;
    sparse: Array<{ structure: PruneStructure; sparsity: number; us: number; speedup: number }>;
  }>;
}

async function buildKernels(simd: boolean): Promise<Kernels> {
  const dir = mkdtempSync(join(tmpdir(), 'tinytrain-sparse-bench-'));
  try {
    const out = join(dir, 'k.wasm');
    let log = '';
    const sink = {
      write(c: string | Uint8Array): boolean {
        log += String(c);
        return true;
      },
    };
    const { error } = await asc.main(
      [
        join(packageRoot(), 'assembly', 'testing', 'kernels.ts'),
        '--outFile',
        out,
        '--runtime',
        'stub',
        '-O3',
        '--noAssert',
        '--initialMemory',
        String(PAGES),
        '--maximumMemory',
        String(PAGES),
        ...(simd ? ['--enable', 'simd'] : []),
      ],
      { stdout: sink, stderr: sink },
    );
    if (error) throw new Error(`asc: ${error.message}\n${log}`);
    const { instance } = await WebAssembly.instantiate(readFileSync(out), {
      env: {
        abort: () => {
          throw new Error('kernel abort');
        },
      },
    });
    const e = instance.exports as Record<string, unknown>;
    return {
      memory: e.memory as WebAssembly.Memory,
      fwdUnpruned: e.conv2dForwardS8 as Fn,
      bwdUnpruned: e.conv2dBackwardInputF32 as Fn,
      fwdPruned: e.sparse1x1ForwardS8 as Fn,
      bwdPruned: e.sparse1x1BackwardInputF32 as Fn,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The pointwise (1x1 conv and dense) layers of the model, as P pixels x CI -> CO. */
function pointwiseLayers(spec: ModelSpec): Layer[] {
  return buildGraph(spec)
    .nodes.filter((n) => n.op === 'dense' || (n.op === 'conv2d' && n.conv!.kh === 1 && n.conv!.kw === 1 && n.conv!.sh === 1 && n.conv!.sw === 1))
    .map((n) => {
      const [H, W, C] = n.inShapes[0]!;
      return n.op === 'dense' ? { name: n.name, P: 1, CI: H * W * C, CO: n.outShape[2] } : { name: n.name, P: H * W, CI: C, CO: n.outShape[2] };
    });
}

/** Deterministic pseudo-random numbers (xorshift32). */
function rand(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Random int8 weights [CO, CI], magnitude-pruned to `sparsity` (pairs: by pair magnitude). */
function prunedWeights(CO: number, CI: number, sparsity: number, structure: PruneStructure, r: () => number): Int8Array {
  const w = Int8Array.from({ length: CO * CI }, () => Math.round((r() * 2 - 1) * 127));
  const unit = structure === 'pairs' ? 2 : 1;
  const mags: Array<[number, number]> = [];
  for (let i = 0; i < w.length; i += unit) {
    const co = Math.floor(i / CI);
    const inRow = i - co * CI;
    mags.push([i, Math.abs(w[i]!) + (unit === 2 && inRow + 1 < CI ? Math.abs(w[i + 1]!) : 0)]);
  }
  // Pairs never straddle rows: CI odd gives a unit of 1 at a row's end, handled by inRow above.
  mags.sort((a, b) => a[1] - b[1]);
  const drop = Math.round(mags.length * sparsity);
  for (let k = 0; k < drop; k++) {
    const i = mags[k]![0];
    w[i] = 0;
    if (unit === 2 && (i % CI) + 1 < CI) w[i + 1] = 0;
  }
  return w;
}

class Heap {
  private top = 1 << 16;
  constructor(private readonly mem: WebAssembly.Memory) {}
  alloc(bytes: number): number {
    const p = this.top;
    this.top = (p + bytes + 15) & ~15;
    if (this.top > this.mem.buffer.byteLength) throw new Error('bench heap exhausted');
    return p;
  }
  /** A kernel's parameter record (compiler/formats/kernel-records.ts), written once: kernels never write their records. */
  record<K extends RecordKernelName>(kernel: K, values: KernelRecordValues<K>): number {
    return this.bytes(kernelRecord(kernel, values));
  }
  bytes(a: Uint8Array | Int8Array): number {
    const p = this.alloc(a.length);
    new Uint8Array(this.mem.buffer, p, a.length).set(new Uint8Array(a.buffer, a.byteOffset, a.length));
    return p;
  }
  i32(a: Int32Array | Float32Array): number {
    const p = this.alloc(a.length * 4);
    new Uint8Array(this.mem.buffer, p, a.length * 4).set(new Uint8Array(a.buffer, a.byteOffset, a.length * 4));
    return p;
  }
}

/**
 * Median time of one call in µs for each of `fns`: warm-up, a batch size per function
 * lasting ~`batchMs`, then `runs` rounds that time one batch of every function in turn
 * (round-robin, so that load from other processes hits all of them alike).
 */
function medianUsAll(fns: Array<() => void>, runs: number, batchMs: number): number[] {
  const reps = fns.map((f) => {
    for (let i = 0; i < 3; i++) f();
    let r = 1;
    for (;;) {
      const t0 = performance.now();
      for (let i = 0; i < r; i++) f();
      if (performance.now() - t0 >= batchMs || r >= 1 << 16) return r;
      r *= 2;
    }
  });
  const times = fns.map(() => [] as number[]);
  for (let k = 0; k < runs; k++) {
    fns.forEach((f, j) => {
      const t0 = performance.now();
      for (let i = 0; i < reps[j]!; i++) f();
      times[j]!.push(((performance.now() - t0) * 1000) / reps[j]!);
    });
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!);
}

export async function runPrunedBench(opts: { quick?: boolean; log?: (s: string) => void } = {}): Promise<PrunedBenchResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const runs = opts.quick ? 5 : 11;
  const batchMs = opts.quick ? 2 : 5;
  const spec = JSON.parse(readFileSync(join(packageRoot(), 'examples', 'mbv2-w0.35-128.json'), 'utf8')) as ModelSpec;
  const layers = pointwiseLayers(spec);
  const result: PrunedBenchResult = {
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, date: new Date().toISOString() },
    method:
      `median of ${runs} timed batches (each >= ${batchMs} ms) after warm-up, dense and sparse variants timed round-robin; random int8 weights magnitude-pruned per layer; ` +
      'model speed-up = sum of dense medians / sum of sparse medians over the pointwise layers',
    summary: [],
    layers: [],
  };
  for (const build of ['simd', 'scalar'] as const) {
    const k = await buildKernels(build === 'simd');
    for (const direction of ['forward', 'inputGrad'] as const) {
      for (const L of layers) {
        const h = new Heap(k.memory);
        const r = rand(L.P * 7919 + L.CI * 31 + L.CO);
        const x = h.bytes(Int8Array.from({ length: L.P * L.CI }, () => Math.floor(r() * 256) - 128));
        const bias = h.i32(Int32Array.from({ length: L.CO }, () => Math.floor(r() * 4000) - 2000));
        const mult = h.i32(Int32Array.from({ length: L.CO }, () => 1 << 30));
        const shift = h.i32(Int32Array.from({ length: L.CO }, () => 40));
        const y = h.alloc(L.P * L.CO);
        const gy = h.i32(Float32Array.from({ length: L.P * L.CO }, () => r() * 2 - 1));
        const wScale = h.i32(Float32Array.from({ length: L.CO }, () => 0.01));
        const gx = h.alloc(4 * L.P * L.CI);
        const scratch = build === 'simd' ? h.alloc(prunedScratchBytes(L.CI)) : 0;
        const kernel1x1 = { KH: 1, KW: 1, strideH: 1, strideW: 1, padH: 0, padW: 0, depthwise: false, w2: 0, split: 0 };
        const unpruned = (w: number): (() => void) => {
          const rec =
            direction === 'forward'
              ? h.record('conv2dForwardS8', { x, H: 1, W: L.P, C: L.CI, zx: 3, w, bias, mult, shift, y, OH: 1, OW: L.P, CO: L.CO, zy: -5, lo: -128, hi: 127, ...kernel1x1 })
              : h.record('conv2dBackwardInputF32', { gy, OH: 1, OW: L.P, CO: L.CO, w, wScale, gx, H: 1, W: L.P, C: L.CI, ...kernel1x1, accumulate: false });
          return direction === 'forward' ? () => k.fwdUnpruned(rec) : () => k.bwdUnpruned(rec);
        };
        // Unpruned time does not depend on the weights' values: measured once, on the 50% weights.
        const w50 = h.bytes(prunedWeights(L.CO, L.CI, 0.5, 'unstructured', r));
        const cells: Array<{ structure: PruneStructure; sparsity: number; f: () => void }> = [];
        for (const structure of STRUCTURES) {
          for (const s of SPARSITIES) {
            const nz = h.bytes(encodeNzList(prunedWeights(L.CO, L.CI, s, structure, r), L.CO, L.CI, structure));
            const format = nzFormat(L.CI, structure);
            const rec =
              direction === 'forward'
                ? h.record('sparse1x1ForwardS8', { x, P: L.P, CI: L.CI, zx: 3, nz, format, bias, mult, shift, y, CO: L.CO, zy: -5, lo: -128, hi: 127, scratch })
                : h.record('sparse1x1BackwardInputF32', { gy, P: L.P, CO: L.CO, nz, format, wScale, gx, CI: L.CI, accumulate: false, scratch });
            const f = direction === 'forward' ? () => k.fwdPruned(rec) : () => k.bwdPruned(rec);
            cells.push({ structure, sparsity: s, f });
          }
        }
        const [denseUs, ...us] = medianUsAll([unpruned(w50), ...cells.map((c) => c.f)], runs, batchMs);
        const row: PrunedBenchResult['layers'][number] = {
          build,
          direction,
          layer: L.name,
          shape: `${L.P}px ${L.CI}->${L.CO}`,
          denseUs: denseUs!,
          sparse: cells.map((c, i) => ({ structure: c.structure, sparsity: c.sparsity, us: us[i]!, speedup: denseUs! / us[i]! })),
        };
        result.layers.push(row);
      }
      for (const structure of STRUCTURES) {
        for (const s of SPARSITIES) {
          const rows = result.layers.filter((l) => l.build === build && l.direction === direction);
          const cell = rows.map((l) => l.sparse.find((c) => c.structure === structure && c.sparsity === s)!);
          const denseMs = rows.reduce((a, l) => a + l.denseUs, 0) / 1000;
          const sparseMs = cell.reduce((a, c) => a + c.us, 0) / 1000;
          const ups = cell.map((c) => c.speedup);
          result.summary.push({
            build,
            direction,
            structure,
            sparsity: s,
            denseMs,
            sparseMs,
            speedup: denseMs / sparseMs,
            minLayerSpeedup: Math.min(...ups),
            maxLayerSpeedup: Math.max(...ups),
          });
        }
      }
      log(`${build} ${direction}: done (${layers.length} layers)`);
    }
  }
  log(formatTable(result));
  return result;
}

export function formatTable(r: PrunedBenchResult): string {
  const lines = [
    `MobileNetV2-w0.35-128 pointwise layers: sparse vs dense kernels (${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node})`,
    '| build | pass | structure | 50% | 70% | 90% | dense ms (all layers) | 90%: per-layer min-max |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const build of ['simd', 'scalar'] as const) {
    for (const direction of ['forward', 'inputGrad'] as const) {
      for (const structure of STRUCTURES) {
        const c = (s: number) => r.summary.find((x) => x.build === build && x.direction === direction && x.structure === structure && x.sparsity === s)!;
        const c90 = c(0.9);
        lines.push(
          `| ${build} | ${direction === 'forward' ? 'forward' : 'input grad'} | ${structure} | ${SPARSITIES.map((s) => `${c(s).speedup.toFixed(2)}x`).join(' | ')} | ` +
            `${c90.denseMs.toFixed(2)} | ${c90.minLayerSpeedup.toFixed(2)}-${c90.maxLayerSpeedup.toFixed(2)}x |`,
        );
      }
    }
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runPrunedBench({ quick: process.argv.includes('--quick') });
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, 'sparse-kernels.json'), JSON.stringify(result, null, 1) + '\n');
}
