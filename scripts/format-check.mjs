#!/usr/bin/env node
// `npm run format:check`: Prettier (.prettierrc.json) as a ratchet, not a one-off reformat.
// The tree predates the formatter: under the closest config to its style, 127 of its 155
// TypeScript/JavaScript files would change (about 2000 of 21900 lines), and reformatting
// them at once would collide with every branch in flight. So this checks, among the files
// changed since this branch left main (committed, staged, unstaged or untracked):
//   - every new file, and
//   - every file that was already formatted at the merge base (it must stay formatted);
// a file edited while still unformatted is left alone until someone formats it
// (`npx prettier --write FILE`, best in a commit of its own), after which it is checked.
//   FORMAT_BASE=REF   compare with REF instead of origin/main (or main)
//   --all             check every file: what this becomes once the whole tree is formatted
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = /\.(ts|js|mjs)$/;
// git's own messages (e.g. "path not in commit" for a new file) are expected answers here, not news.
const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const lines = (text) => text.split('\n').filter((l) => l !== '');

/** Whether `text` is what Prettier would write for `file` (honours .prettierignore: ignored files count as formatted). */
async function formatted(file, text) {
  const info = await prettier.getFileInfo(join(ROOT, file), { ignorePath: join(ROOT, '.prettierignore') });
  if (info.ignored || info.inferredParser === null) return true;
  const options = await prettier.resolveConfig(join(ROOT, file));
  return prettier.check(text, { ...options, filepath: file });
}

function baseRef() {
  if (process.env.FORMAT_BASE) return process.env.FORMAT_BASE;
  for (const ref of ['origin/main', 'main']) {
    try {
      git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`);
      return ref;
    } catch {
      // not there: try the next name
    }
  }
  return undefined;
}

/** The files to check and why each is checked. */
function selection() {
  if (process.argv.includes('--all')) return { files: lines(git('ls-files')).filter((f) => SOURCE.test(f)), since: undefined };
  const base = baseRef();
  if (!base) {
    console.error('format:check: no main branch to compare with (set FORMAT_BASE=REF); nothing checked');
    return { files: [], since: undefined };
  }
  let since;
  try {
    since = git('merge-base', 'HEAD', base).trim();
  } catch {
    if (process.env.FORMAT_BASE) throw new Error(`format:check: FORMAT_BASE=${process.env.FORMAT_BASE} has no merge base with HEAD`);
    // A shallow clone may not reach the fork point: say so rather than check a guessed set.
    console.error(`format:check: no merge base with ${base} (shallow clone? fetch more history or set FORMAT_BASE); nothing checked`);
    return { files: [], since: undefined };
  }
  const changed = [...lines(git('diff', '--name-only', '--diff-filter=d', since, '--')), ...lines(git('ls-files', '--others', '--exclude-standard'))];
  const files = [...new Set(changed)].filter((f) => SOURCE.test(f) && existsSync(join(ROOT, f))).sort();
  console.log(`format:check: ${files.length} changed file(s) since ${base} (${since.slice(0, 7)})`);
  return { files, since };
}

const { files, since } = selection();
const bad = [];
let grandfathered = 0;
for (const file of files) {
  if (since) {
    let before;
    try {
      before = git('show', `${since}:${file}`);
    } catch {
      before = undefined; // new on this branch: checked
    }
    if (before !== undefined && !(await formatted(file, before))) {
      grandfathered++;
      continue;
    }
  }
  if (!(await formatted(file, readFileSync(join(ROOT, file), 'utf8')))) bad.push(file);
}
if (grandfathered) console.log(`format:check: ${grandfathered} file(s) not yet formatted at the merge base, not checked`);
if (bad.length) {
  console.error(`format:check: not formatted (run \`npx prettier --write FILE\`):\n  ${bad.join('\n  ')}`);
  process.exit(1);
}
console.log(`format:check: ${files.length - grandfathered} file(s) checked, all formatted`);
