/** Engine 'node': the embedded engine (host/runtime.ts on V8), the reference the others must match. */
import type { LoadedArtifact } from '../artifact.js';
import type { Dataset } from '../data/dataset.js';
import { Runtime } from '../runtime.js';
import { trainRuntime } from '../train.js';
import type { EngineResult, JobOptions } from './job.js';

export async function trainOnNode(a: LoadedArtifact, ds: Dataset, o: JobOptions): Promise<EngineResult> {
  const rt = await Runtime.load(a);
  rt.reset(o.seed);
  if (o.load) rt.importCheckpoint(o.load, 'checkpoint to load');
  const s = trainRuntime(rt, ds, { steps: o.steps, lr: o.lr, seed: o.seed });
  return { checkpoint: rt.exportCheckpoint(), loss: s.loss, accuracy: s.accuracy, steps: s.steps, skipped: s.skipped };
}
