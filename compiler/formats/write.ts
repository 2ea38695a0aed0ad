/**
 * `npm run formats`: rewrites the generated format files (generated.ts) from the
 * descriptions in this folder. Run from the package root after changing a format.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../codegen/build.js';
import { GENERATED_FILES } from './generated.js';

for (const f of GENERATED_FILES) {
  writeFileSync(join(packageRoot(), f.path), f.text());
  process.stderr.write(`wrote ${f.path}\n`);
}
