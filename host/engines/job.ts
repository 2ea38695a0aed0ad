/**
 * The training-job folder a WASI engine runs (assembly/wasi/main.ts reads it): this file
 * writes it; the header's layout is compiler/formats/job.ts. Everything an engine needs is in files, so any WASI host (node:wasi,
 * wasmtime, Node under qemu, later wasm2c firmware) runs the same bytes and only has to
 * preopen the folder.
 *
 *   job.bin          64-byte header: 16 little-endian u32 slots (lr is an f32)
 *   image.bin        the artifact's initial image
 *   checkpoint.bin   checkpoint payload to restore (only with FLAG_LOAD)
 *   samples.bin      every sample, int8, quantised here exactly like Runtime.setInputPixels
 *   labels.bin       one u8 per sample
 *   order.bin        one u32 sample index per step, from host/train.ts sampleOrder
 *   targets.bin      K float32 per sample, only for a loss on target values (manifest loss.targets)
 *   checkpoint-out.bin, stdout   written by the runtime
 */
import { statsWindowStart } from '../train.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TinytrainError } from '../../compiler/errors.js';
import { manifestLabelLimit, type Manifest } from '../../compiler/manifest.js';
import { checkDatasetTargets } from '../data/targets.js';
import type { LoadedArtifact } from '../artifact.js';
import { decodeCheckpoint, encodeCheckpoint } from '../checkpoint.js';
import type { Dataset } from '../data/dataset.js';
import { sampleOrder } from '../train.js';
import { quantiseImages } from './input-lut.js';

import { JOB_HEADER } from '../../compiler/formats/job.js';

export const JOB_FILES = {
  header: 'job.bin',
  image: 'image.bin',
  checkpoint: 'checkpoint.bin',
  samples: 'samples.bin',
  labels: 'labels.bin',
  order: 'order.bin',
  targets: 'targets.bin',
  checkpointOut: 'checkpoint-out.bin',
} as const;

export interface JobOptions {
  steps: number;
  lr: number;
  seed: number;
  load?: Uint8Array;
}

export interface EngineResult {
  /** Same file format as Runtime.exportCheckpoint. */
  checkpoint: Uint8Array;
  loss: number;
  accuracy: number;
  steps: number;
  skipped: number;
}

export function jobHeader(m: Manifest, ds: Dataset, o: JobOptions): Uint8Array {
  const sampleBytes = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const port = m.inputs[0]!;
  const inputBytes = port.shape.reduce((a, b) => a * b, 1);
  if (sampleBytes !== inputBytes) {
    throw new TinytrainError(
      `dataset ${ds.name} has ${sampleBytes} values per sample, the model takes ${inputBytes} (shape ${port.shape.join('x')})`,
      "use a dataset with the model's input shape",
    );
  }
  checkDatasetTargets(m, ds);
  const values: Record<keyof typeof JOB_HEADER.offset, number> = {
    magic: JOB_HEADER.value.MAGIC,
    version: JOB_HEADER.value.VERSION,
    steps: o.steps,
    lr: o.lr, // the runtime takes lr as f32, as Runtime.trainStep passes it
    seed: o.seed >>> 0,
    sampleBytes,
    sampleCount: ds.count,
    inputOffset: port.offset,
    imageOffset: m.image.offset,
    imageBytes: m.image.bytes,
    ckOffset: m.checkpoint.offset,
    ckBytes: m.checkpoint.bytes,
    flags: o.load ? JOB_HEADER.value.FLAG_LOAD : 0,
    statsFrom: statsWindowStart(o.steps),
    // One-output bce takes the labels 0 and 1; a loss on target values reads no label (every u8 passes).
    classes: manifestLabelLimit(m) || 256,
    layoutIdLow: layoutIdLow(m),
  };
  const h = new DataView(new ArrayBuffer(JOB_HEADER.bytes));
  for (const f of JOB_HEADER.fields) {
    const v = values[f.name as keyof typeof values];
    if (f.type === 'f32') h.setFloat32(f.offset, v, true);
    else h.setUint32(f.offset, v, true);
  }
  return new Uint8Array(h.buffer);
}

/** The low 32 bits of the manifest's layoutId (16 hex digits): field layoutIdLow, checked by every runtime that reads the job. */
export function layoutIdLow(m: Manifest): number {
  return parseInt(m.layoutId.slice(8), 16) >>> 0;
}

/** Writes a job into a fresh temp folder, runs `fn` on it, and always removes it. */
export async function withJobDir<T>(a: LoadedArtifact, ds: Dataset, o: JobOptions, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tinytrain-job-'));
  try {
    const m = a.manifest;
    const put = (name: string, data: ArrayBufferView): void => writeFileSync(join(dir, name), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    put(JOB_FILES.header, jobHeader(m, ds, o));
    put(JOB_FILES.image, a.image);
    if (o.load) put(JOB_FILES.checkpoint, decodeCheckpoint(m, o.load, 'checkpoint to load'));
    put(JOB_FILES.samples, quantiseImages(m, ds.images.subarray(0, ds.count * ds.shape[0] * ds.shape[1] * ds.shape[2])));
    put(JOB_FILES.labels, ds.labels.subarray(0, ds.count));
    put(JOB_FILES.order, Uint32Array.from(sampleOrder(ds.count, o.steps, o.seed)));
    // Little-endian float32, K per sample: what the runtime's target buffer holds (this machine and wasm are both little-endian).
    if (ds.targets) put(JOB_FILES.targets, ds.targets.values.subarray(0, ds.count * ds.targets.width));
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The runtime's JSON line and checkpoint-out.bin, as an EngineResult. */
export function readJobResult(m: Manifest, dir: string, stdout: string, engine: string): EngineResult {
  const line = stdout.trim().split('\n').pop() ?? '';
  let r: { steps: number; loss: number | null; accuracy: number | null; skipped: number };
  try {
    r = JSON.parse(line) as typeof r;
  } catch {
    throw new Error(`engine ${engine}: the runtime printed no result line (stdout: ${JSON.stringify(stdout.slice(-400))})`);
  }
  const payload = readFileSync(join(dir, JOB_FILES.checkpointOut));
  if (payload.length !== m.checkpoint.bytes) {
    throw new Error(`engine ${engine}: checkpoint output has ${payload.length} bytes, expected ${m.checkpoint.bytes}`);
  }
  return {
    checkpoint: encodeCheckpoint(m, payload),
    // JSON has no NaN: the runtime prints null for a mean over no steps or a diverged loss.
    loss: r.loss ?? NaN,
    accuracy: r.accuracy ?? NaN,
    steps: r.steps,
    skipped: r.skipped,
  };
}
