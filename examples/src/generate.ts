/** Regenerates the example model files that are built with the TS builder. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';
import { mobilenetV2 } from './mbv2.js';

const out = join(packageRoot(), 'examples', 'mbv2-w0.35-128.json');
// It ships with the reference's 99 KB scheme (Lin et al. 2022), so that `tinytrain compile`
// without --scheme trains what fits an STM32F746 (a full update needs far more SRAM).
const { notes, ...spec } = mobilenetV2(0.35, 128, 10);
const scheme = JSON.parse(readFileSync(join(packageRoot(), 'examples', 'schemes', 'mbv2-99kb.json'), 'utf8')) as Record<string, unknown>;
writeFileSync(out, JSON.stringify({ ...spec, scheme, notes }, null, 1) + '\n');
process.stdout.write(`wrote ${out}\n`);
