import type { Command } from 'commander';
import { readArtifact } from '../artifact.js';
import { Runtime } from '../runtime.js';
import { evaluateLossRuntime, evaluateRuntime } from '../train.js';
import { addDataOptions, openDataset, type DataOptions } from './dataset-options.js';
import { emit, pct } from './common.js';
import { readCheckpointFile } from './user-files.js';

export function registerEval(program: Command): void {
  addDataOptions(program.command('eval').description('accuracy of a compiled runtime (optionally with a checkpoint) on a test split').argument('<dir>', 'artifact folder'))
    .option('--load <file>', 'checkpoint to evaluate (default: the compiled weights)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (dir: string, o: DataOptions & { load?: string; json?: boolean }) => {
      const art = readArtifact(dir);
      const loaded = o.load ? readCheckpointFile(o.load, art.manifest.checkpoint.bytes) : undefined;
      const ds = openDataset(o, 'test', art.manifest, o.limit);
      const rt = await Runtime.load(art);
      if (loaded) rt.importCheckpoint(loaded, o.load);
      const common = { artifact: dir, data: o.data, classes: o.classes ?? null, samples: ds.count };
      if (ds.targets) {
        // A loss on target values has no accuracy: the mean loss instead.
        const loss = evaluateLossRuntime(rt, ds);
        emit(!!o.json, { ...common, accuracy: null, loss, checkpoint: o.load ?? null }, () => `mean loss ${loss.toFixed(6)} on ${ds.count} test samples`);
        return;
      }
      const accuracy = evaluateRuntime(rt, ds);
      emit(!!o.json, { ...common, accuracy, checkpoint: o.load ?? null }, () => `accuracy ${pct(accuracy)} on ${ds.count} test samples`);
    });
}
