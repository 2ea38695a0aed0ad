/**
 * The accuracy study (issue 7): QAS and sparse update against float32 training, and the
 * automatic scheme against bias-only / last-k at equal memory budgets, on two transfer
 * tasks with real data, over several seeds.
 *
 *   npm run study            -> tables on stdout, bench/results/study.json and study.md,
 *                               and the README's study section (between its markers)
 *   npm run study -- --quick -> a few hundred steps, one seed (a smoke run of the pipeline)
 *
 * Needs Fashion-MNIST (Debian dataset-fashion-mnist) and, for the PyTorch check, torch in
 * .cache/torch-venv: `bash scripts/setup-study.sh` installs both. Each task runs in its
 * own process, the tasks in parallel.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { packageRoot } from '../compiler/codegen/build.js';
import { writeFileAtomic } from '../host/io/atomic.js';
import { runTask, type StudyConfig, type TaskResult } from './study/run-task.js';
import { renderStudy, type StudyDoc } from './study/report.js';
import { TASK_IDS, type TaskId } from './study/tasks.js';

const FULL: StudyConfig = {
  model: 'examples/study-cnn.json',
  anchorScheme: 'examples/schemes/study-cnn-anchor.json',
  target: 'stm32f746',
  budgetsKB: [64, 128, 256],
  seeds: [1, 2, 3],
  pretrainSteps: 4000,
  steps: 3000,
  deviceSamples: 1000,
  lr: 0.01,
  autoSamples: 64,
  compareLosses: 200,
};

const QUICK: StudyConfig = { ...FULL, seeds: [1], pretrainSteps: 400, steps: 300, compareLosses: 50 };

const BEGIN = '<!-- study:begin (npm run study rewrites this part) -->';
const END = '<!-- study:end -->';

/** The README with the study's tables between the markers, or null if it has no markers. */
function replaceBetweenMarkers(readme: string, md: string): string | null {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) return null;
  return readme.slice(0, a + BEGIN.length) + '\n' + md + '\n' + readme.slice(b);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, task: { type: 'string' }, part: { type: 'string' }, render: { type: 'string' } } });
  if (values.render) {
    // Re-render the tables (stdout, study.md, README) from a saved study.json: no training.
    publish(JSON.parse(readFileSync(values.render, 'utf8')) as StudyDoc, true);
    return;
  }
  const config = values.quick ? QUICK : FULL;
  const log = (s: string): void => {
    process.stderr.write(s + '\n');
  };
  if (values.task) {
    // Child: one task, result to the --part file.
    if (!TASK_IDS.includes(values.task as TaskId)) throw new Error(`unknown task ${values.task}; tasks: ${TASK_IDS.join(', ')}`);
    const r = await runTask(values.task as TaskId, config, log);
    writeFileSync(values.part!, JSON.stringify(r));
    return;
  }
  const t0 = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-study-'));
  let results: TaskResult[];
  try {
    const self = fileURLToPath(import.meta.url);
    results = await Promise.all(
      TASK_IDS.map(
        (id) =>
          new Promise<TaskResult>((resolve, reject) => {
            const part = join(work, `${id}.json`);
            const child = spawn(process.execPath, [self, '--task', id, '--part', part, ...(values.quick ? ['--quick'] : [])], { stdio: ['ignore', 'inherit', 'inherit'] });
            child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(readFileSync(part, 'utf8')) as TaskResult) : reject(new Error(`study task ${id} failed (exit ${code})`))));
          }),
      ),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version };
  publish({ config, machine, minutes: (Date.now() - t0) / 60000, tasks: results }, !values.quick);
}

function publish(doc: StudyDoc, write: boolean): void {
  const md = renderStudy(doc);
  process.stdout.write(md + '\n');
  if (write) {
    const dir = join(packageRoot(), 'bench', 'results');
    writeFileAtomic(join(dir, 'study.json'), JSON.stringify(doc, null, 2) + '\n');
    writeFileAtomic(join(dir, 'study.md'), md + '\n');
    const readme = join(packageRoot(), 'README.md');
    const updated = replaceBetweenMarkers(readFileSync(readme, 'utf8'), md);
    if (updated !== null) writeFileAtomic(readme, updated);
    process.stdout.write(`wrote ${join(dir, 'study.json')}, study.md${updated !== null ? ' and the README table' : ''}\n`);
  }
}

await main();
