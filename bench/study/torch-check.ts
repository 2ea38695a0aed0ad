/**
 * Runs bench/study/torch_finetune.py: PyTorch fine-tunes the same float32 network from
 * the same pretrained weights on the same samples in the same order, as an independent
 * check of tinytrain's float path.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';
import type { Graph } from '../../compiler/ir/graph.js';
import type { FloatParams } from '../../compiler/ir/model.js';
import type { Dataset } from '../../host/data/dataset.js';

export const TORCH_PYTHON = join(packageRoot(), '.cache', 'torch-venv', 'bin', 'python');
export const TORCH_HINT = 'bash scripts/setup-onnx.sh --torch';

export interface TorchRun {
  accuracy: number;
  losses: number[];
  torch: string;
}

export function torchAvailable(): boolean {
  return existsSync(TORCH_PYTHON);
}

export function torchFinetune(graph: Graph, params: Record<string, FloatParams>, device: Dataset, test: Dataset, order: number[], lr: number, keepLosses: number): TorchRun {
  const dir = mkdtempSync(join(tmpdir(), 'tinytrain-torch-'));
  try {
    const job = { graph, params, lr, order, keepLosses, trainCount: device.count, testCount: test.count };
    writeFileSync(join(dir, 'job.json'), JSON.stringify(job));
    writeFileSync(join(dir, 'train-images.u8'), device.images);
    writeFileSync(join(dir, 'train-labels.u8'), device.labels);
    writeFileSync(join(dir, 'test-images.u8'), test.images);
    writeFileSync(join(dir, 'test-labels.u8'), test.labels);
    const script = join(packageRoot(), 'bench', 'study', 'torch_finetune.py');
    const r = spawnSync(TORCH_PYTHON, [script, dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`torch_finetune.py failed (exit ${r.status}):\n${(r.stderr || r.stdout).slice(-2000)}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchRun;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
