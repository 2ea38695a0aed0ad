/**
 * bench:models: the pretrained third-party models that registry packages ship
 * (bench/support/models-catalog.json, fetched by scripts/setup-models.sh), each imported
 * or refused with the importer's exact reason (and every operator it lacks), compiled for
 * stm32f746 or refused with the reason, checked against onnxruntime / LiteRT, and trained
 * where its loss exists. Picks up whatever the importer and compiler support when run.
 *
 *   npm run bench:models [-- --only id,id]   -> table on stdout, bench/results/models.json + .md, README table
 *   npm run bench:models -- --only id,id --merge   -> those models re-run and their rows replaced in the saved results
 *   node dist/bench/models.js --render bench/results/models.json   -> the tables again from saved results
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../compiler/codegen/build.js';
import { writeFileAtomic } from '../host/io/atomic.js';
import { loadCatalog, missingFiles } from './support/models-catalog.js';
import { evaluateModel, type ModelResult } from './support/models-evaluate.js';
import { modelsMarkdown, summaryMarkdown, trainCell } from './support/models-report.js';

/** Inputs checked against the reference per model, and training steps on the runtime. */
export const BENCH_OPTIONS = { samples: 128, steps: 300, seed: 1 };

const RESULTS = join(packageRoot(), 'bench', 'results', 'models.json');
const BEGIN = '<!-- models:begin (npm run bench:models rewrites this part) -->';
const END = '<!-- models:end -->';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, render: { type: 'string' }, merge: { type: 'boolean' } } });
  if (values.render) {
    // Re-render models.md and the README table from a saved models.json: nothing is run.
    const saved = JSON.parse(readFileSync(values.render, 'utf8')) as { date: string; results: ModelResult[] };
    publish(saved.results, saved.date);
    return;
  }
  const only = values.only?.split(',');
  const models = loadCatalog().filter((m) => !only || only.includes(m.id));
  const missing = missingFiles(models);
  if (missing.length) throw new Error(`missing model files (run bash scripts/setup-models.sh):\n  ${missing.join('\n  ')}`);
  const results: ModelResult[] = [];
  for (const m of models) {
    const t0 = performance.now();
    const r = await evaluateModel(m, BENCH_OPTIONS);
    results.push(r);
    const what = r.import.ok ? `imported; ${r.compile?.ok ? `compiled (${r.compile.scheme})` : 'not compiled'}; ${trainCell(r.train)}` : `refused: ${r.import.error}`;
    process.stdout.write(`${m.id.padEnd(24)} ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s  ${what}\n`);
  }
  const today = new Date().toISOString().slice(0, 10);
  if (only && values.merge) {
    // The saved run with the re-run models' rows replaced (in place, so the table keeps its order).
    const saved = JSON.parse(readFileSync(RESULTS, 'utf8')) as { date: string; results: ModelResult[] };
    const fresh = new Map(results.map((r) => [r.id, r]));
    publish(
      saved.results.map((r) => fresh.get(r.id) ?? r),
      saved.date === today ? today : `${saved.date} (${[...fresh.keys()].join(', ')} re-run ${today})`,
    );
    return;
  }
  if (only) return; // a partial run does not replace the published results
  publish(results, today);
}

/** bench/results/models.json + .md, and the README's table between its markers. */
function publish(results: ModelResult[], date: string): void {
  const root = packageRoot();
  const md = modelsMarkdown(results, { date, ...BENCH_OPTIONS });
  writeFileAtomic(RESULTS, JSON.stringify({ date, options: BENCH_OPTIONS, results }, null, 2) + '\n');
  writeFileAtomic(join(root, 'bench', 'results', 'models.md'), `# bench:models\n\n${md}\n`);
  const readmePath = join(root, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  const summary = summaryMarkdown(results, { date, ...BENCH_OPTIONS });
  if (a >= 0 && b > a) writeFileSync(readmePath, readme.slice(0, a + BEGIN.length) + '\n' + summary + '\n' + readme.slice(b));
  else process.stdout.write(`README.md has no ${BEGIN} marker: the table was not written there\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
