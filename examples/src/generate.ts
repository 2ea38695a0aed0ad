/** Regenerates the example model files that are built with the TS builder. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../compiler/codegen/build.js';
import { mobilenetV2 } from './mbv2.js';
import { referenceNet, type ArchTable } from './reference-nets.js';
import { buildGraph } from '../../compiler/ir/graph.js';
import { schemeFromJson } from '../../compiler/scheme/parse.js';
import { schemeToJson } from '../../compiler/scheme/auto.js';

const out = join(packageRoot(), 'examples', 'mbv2-w0.35-128.json');
// It ships with the reference's 99 KB scheme (Lin et al. 2022), so that `tinytrain compile`
// without --scheme trains what fits an STM32F746 (a full update needs far more SRAM).
const { notes, ...spec } = mobilenetV2(0.35, 128, 10);
const scheme = JSON.parse(readFileSync(join(packageRoot(), 'examples', 'schemes', 'mbv2-99kb.json'), 'utf8')) as Record<string, unknown>;
writeFileSync(out, JSON.stringify({ ...spec, scheme, notes }, null, 1) + '\n');
process.stdout.write(`wrote ${out}\n`);

// The reference's three networks, from the architecture tables in shared/anchors/ (a
// folder beside the repository, kept by the team: pass another with ANCHORS=DIR).
const anchors = process.env.ANCHORS ?? join(packageRoot(), '..', 'shared', 'anchors');
// Each carries its reference scheme of about 100 KB (the reference's own estimate;
// examples/schemes/tte-<network>-<scheme>.json, read with the reference's meaning by
// compiler/scheme/reference-form.ts) in our explicit form, so that `tinytrain compile`
// without --scheme trains what fits an STM32F746.
for (const [arch, file, scheme] of [
  ['mbv2-w0.35', 'tte-mbv2-w0.35.json', '99kb'],
  ['proxyless-w0.3', 'tte-proxyless-w0.3.json', '98kb'],
  ['mcunet-5fps', 'tte-mcunet-5fps.json', '99kb'],
] as const) {
  const table = JSON.parse(readFileSync(join(anchors, `${arch}.arch.json`), 'utf8')) as ArchTable;
  const { notes, ...net } = referenceNet(table);
  const reference = JSON.parse(readFileSync(join(packageRoot(), 'examples', 'schemes', `tte-${arch}-${scheme}.json`), 'utf8')) as unknown;
  const chosen = { ...schemeToJson(schemeFromJson(buildGraph(net), reference, scheme)), name: `tte-${scheme} (first channels)` };
  const path = join(packageRoot(), 'examples', file);
  writeFileSync(path, JSON.stringify({ ...net, scheme: chosen, notes }, null, 1) + '\n');
  process.stdout.write(`wrote ${path}\n`);
}
