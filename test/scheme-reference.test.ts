/**
 * The reference's scheme form read as the reference reads it: every scheme the Tiny Training
 * Engine ships for its three networks (test/fixtures/tte-schemes.json, transcribed from
 * mit-han-lab/tiny-training @ 7bf8e05 with each scheme's resolution) resolves here to the same
 * bias-trained layers, the same weight-trained layers and the same kept channel counts.
 * Graph building only: no compile, cheap in every tier.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGraph, hasParams, type Graph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { schemeFromJson } from '../compiler/scheme/parse.js';
import { splitChannels, trainedChannels } from '../compiler/scheme/scheme.js';

const ROOT = join(__dirname, '..');
const read = (p: string): unknown => JSON.parse(readFileSync(join(ROOT, p), 'utf8'));

interface Resolved {
  bias_updated_layers: string;
  weight_layers: Array<{ idx: number; name: string; in: number; kept_in_channels: number }>;
}
interface Anchors {
  models: Record<string, { schemes: Record<string, Record<string, unknown> & { resolved: Resolved }> }>;
}
const anchors = read('test/fixtures/tte-schemes.json') as Anchors;

/** The reference's layer name -> ours (examples/src/reference-nets.ts): blocks.3.pw1 -> b3_expand. */
function ourName(reference: string): string {
  const m = /^blocks\.(\d+)\.(pw1|dw|pw2)$/.exec(reference);
  if (!m) return reference === 'first_conv' ? 'stem' : 'classifier';
  return `b${m[1]}_${{ pw1: 'expand', dw: 'dw', pw2: 'project' }[m[2] as 'pw1' | 'dw' | 'pw2']}`;
}

describe("the reference's schemes, resolved as the reference resolves them", () => {
  for (const [model, { schemes }] of Object.entries(anchors.models)) {
    const graph: Graph = buildGraph(read(`examples/tte-${model}.json`) as ModelSpec);
    const layers = graph.nodes.filter(hasParams);
    it(`${model}: all ${Object.keys(schemes).length} schemes`, () => {
      for (const [name, entry] of Object.entries(schemes)) {
        const { resolved, extra_memory_kb_partial_backward_rule: _, ...config } = entry as Record<string, unknown> & { resolved: Resolved };
        const file = read(`examples/schemes/tte-${model}-${name}.json`) as Record<string, unknown>;
        // The shipped file is the reference's config, key for key.
        expect({ ...file, name: undefined }, `${model} ${name} file`).toEqual({ ...config, name: undefined });
        const s = schemeFromJson(graph, file, name);
        const range = /^idx (\d+)\.\.(\d+) .*\+ classifier idx (\d+)$/.exec(resolved.bias_updated_layers)!;
        const [lo, hi, cls] = [Number(range[1]), Number(range[2]), Number(range[3])];
        expect(cls, `${model}: classifier index`).toBe(layers.length - 1);
        const biased = layers.filter((n) => s.layers.get(n.name)!.bias).map((n) => layers.indexOf(n));
        expect(biased, `${model} ${name}: bias-trained layers`).toEqual([...Array.from({ length: hi - lo + 1 }, (_, k) => lo + k), cls]);
        const weighted = layers.filter((n) => trainedChannels(s.layers.get(n.name), n) > 0);
        const expected = resolved.weight_layers.filter((w) => w.kept_in_channels > 0);
        expect(
          weighted.map((n) => n.name),
          `${model} ${name}: weight-trained layers`,
        ).toEqual([...expected.map((w) => ourName(w.name)), 'classifier']);
        for (const w of expected) {
          const n = layers[w.idx]!;
          expect(n.name, `${model} idx ${w.idx}`).toBe(ourName(w.name));
          expect(splitChannels(n), `${model} ${w.name} channels`).toBe(w.in);
          expect(trainedChannels(s.layers.get(n.name), n), `${model} ${name} ${w.name} kept channels`).toBe(w.kept_in_channels);
        }
        const head = layers.at(-1)!;
        expect(trainedChannels(s.layers.get(head.name), head), 'the classifier trains all its weights').toBe(splitChannels(head));
      }
    });
  }

  it("each network's own scheme (its model file's) is its reference scheme resolved", () => {
    for (const [model, scheme] of [
      ['mbv2-w0.35', '99kb'],
      ['proxyless-w0.3', '98kb'],
      ['mcunet-5fps', '99kb'],
    ] as const) {
      const spec = read(`examples/tte-${model}.json`) as ModelSpec;
      const graph = buildGraph(spec);
      const own = schemeFromJson(graph, spec.scheme, 'own');
      const ref = schemeFromJson(graph, read(`examples/schemes/tte-${model}-${scheme}.json`), 'ref');
      expect([...own.layers], model).toEqual([...ref.layers]);
    }
  });
});
