/**
 * Regenerates the README's firmware table: for the example models on stm32f746, the
 * ELF's arm-none-eabi-size figures, the stack it links, the SRAM/Flash they mean, the
 * manifest's figures and the target's limits.
 *
 *   npm run bench:firmware   -> table on stdout, bench/results/firmware-sizes.json
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../compiler/index.js';
import { packageRoot } from '../compiler/codegen/build.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { normaliseImage } from '../compiler/float/network.js';
import { schemeFromJson } from '../compiler/scheme/parse.js';
import { getTarget } from '../targets/index.js';
import { imageAt, loadDataset } from '../host/data/dataset.js';
import { writeArtifact } from '../host/artifact.js';
import { buildFirmware } from '../host/firmware/build.js';
import { writeFileAtomic } from '../host/io/atomic.js';
import { ANCHOR_99KB } from './memory-mbv2.js';

async function main(): Promise<void> {
  const root = packageRoot();
  const target = getTarget('stm32f746');
  const read = (f: string): ModelSpec => JSON.parse(readFileSync(join(root, 'examples', f), 'utf8')) as ModelSpec;
  const mnist = loadDataset('mnist', 'train');
  const mbv2 = read('mbv2-w0.35-128.json');
  const cases = [
    { name: 'mnist-cnn (full update)', spec: read('mnist-cnn.json'), opts: { calibration: Array.from({ length: 64 }, (_, i) => normaliseImage(imageAt(mnist, i), [0, 1])) } },
    {
      name: 'mbv2-w0.35-128 (99kb scheme)',
      spec: mbv2,
      opts: { scheme: schemeFromJson(buildGraph(mbv2), ANCHOR_99KB, '99kb'), calibration: [Float32Array.from({ length: 128 * 128 * 3 }, (_, i) => Math.sin(i * 0.37))] },
    },
  ];
  const work = mkdtempSync(join(tmpdir(), 'tinytrain-fw-'));
  const rows = [];
  try {
    for (const c of cases) {
      const dir = join(work, c.name.replace(/\W+/g, '-'));
      const a = await compile(c.spec, { target, ...c.opts });
      await writeArtifact(dir, a);
      const b = await buildFirmware(dir, target, join(dir, 'fw.elf'));
      rows.push({
        model: c.name,
        text: b.sizes.text,
        data: b.sizes.data,
        bss: b.sizes.bss,
        stack: b.stack.bytes,
        stackSource: b.stack.source,
        firmwareSram: b.sramUsedBytes,
        firmwareFlash: b.flashUsedBytes,
        manifestSram: a.manifest.memory.sramPeakBytes,
        manifestFlash: a.manifest.memory.flashBytes,
        targetSram: target.sramBytes,
        targetFlash: target.flashBytes,
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(`stm32f746 (SRAM ${target.sramBytes} B, Flash ${target.flashBytes} B)\n`);
  process.stdout.write(
    '| model | text | data | bss | linked stack | firmware SRAM | firmware Flash | manifest SRAM | manifest Flash | target SRAM | target Flash |\n|---|---|---|---|---|---|---|---|---|---|---|\n',
  );
  for (const r of rows)
    process.stdout.write(
      `| ${r.model} | ${r.text} | ${r.data} | ${r.bss} | ${r.stack} | ${r.firmwareSram} | ${r.firmwareFlash} | ${r.manifestSram} | ${r.manifestFlash} | ${r.targetSram} | ${r.targetFlash} |\n`,
    );
  const out = join(root, 'bench', 'results', 'firmware-sizes.json');
  writeFileAtomic(
    out,
    JSON.stringify(
      {
        target: target.name,
        note: 'firmware SRAM = .data + .bss + the stack the ELF links (gcc call-graph worst case, host/firmware/stack-bound.ts; the target reserve if unbounded); firmware Flash = text + data + two checkpoint slots',
        rows,
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(`wrote ${out}\n`);
}

await main();
