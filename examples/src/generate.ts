/** Regenerates the example model files that are built with the TS builder. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';
import { mobilenetV2 } from './mbv2.js';

const out = join(packageRoot(), 'examples', 'mbv2-w0.35-128.json');
writeFileSync(out, JSON.stringify(mobilenetV2(0.35, 128, 10), null, 1) + '\n');
process.stdout.write(`wrote ${out}\n`);
