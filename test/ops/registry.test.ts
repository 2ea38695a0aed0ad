/**
 * The op registry (compiler/ops/registry.ts) and what every op module must hold together:
 * one op per kind, one op per model layer, code for every step its rules can emit, and
 * labels that keep the model's op name.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { nodeTable } from '../../compiler/codegen/labels.js';
import { buildGraph } from '../../compiler/ir/graph.js';
import type { Layer, ModelSpec } from '../../compiler/ir/model.js';
import { allOps, layerFormats, opDef, opForLayer } from '../../compiler/ops/registry.js';
import type { OpKind } from '../../compiler/ops/types.js';
import { modelAround } from '../support/ops.js';

const run = promisify(execFile);
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'compiler', 'ops');

/** The table's first kinds, in order (a new op adds its line after them: this test does not list every op). */
const KINDS: OpKind[] = ['conv2d', 'depthwiseConv2d', 'dense', 'add', 'avgpool', 'globalavgpool', 'relu', 'relu6', 'flatten'];

describe('op registry', () => {
  it('one op per kind, under its own kind', () => {
    const kinds = allOps().map((op) => op.kind);
    expect(kinds.slice(0, KINDS.length)).toEqual(KINDS);
    expect(new Set(kinds).size).toBe(kinds.length);
    for (const kind of kinds) expect(opDef(kind).kind).toBe(kind);
  });

  it('every model layer is exactly one op', () => {
    const layers: Array<[Layer, OpKind]> = [
      [{ op: 'conv2d', filters: 2, kernel: 1 }, 'conv2d'],
      [{ op: 'conv2d', filters: 2, kernel: 1, groups: 1 }, 'conv2d'],
      [{ op: 'conv2d', filters: 2, kernel: 1, groups: 'depthwise' }, 'depthwiseConv2d'],
      [{ op: 'dense', units: 2 }, 'dense'],
      [{ op: 'add', inputs: ['a', 'b'] }, 'add'],
      [{ op: 'avgpool', size: 2 }, 'avgpool'],
      [{ op: 'globalavgpool' }, 'globalavgpool'],
      [{ op: 'relu' }, 'relu'],
      [{ op: 'relu6' }, 'relu6'],
      [{ op: 'flatten' }, 'flatten'],
    ];
    for (const [layer, kind] of layers) expect(opForLayer(layer).kind, JSON.stringify(layer)).toBe(kind);
    // Any other op is the only one of its layer op: each of its layers is it.
    for (const op of allOps().filter((d) => !layers.some(([l]) => l.op === d.layerOp))) {
      expect(
        allOps().filter((d) => d.layerOp === op.layerOp),
        op.kind,
      ).toEqual([op]);
      expect(opForLayer({ op: op.layerOp } as Layer).kind, op.kind).toBe(op.kind);
    }
  });

  it("the model format is the registry's: each layer op once, with the schema its ops share", () => {
    const formats = layerFormats();
    const ops = formats.map((f) => f.op);
    expect(ops.slice(0, 8)).toEqual(['conv2d', 'dense', 'add', 'avgpool', 'globalavgpool', 'relu', 'relu6', 'flatten']);
    expect(ops).toEqual([...new Set(allOps().map((op) => op.layerOp))]);
    for (const op of allOps()) expect(formats.find((f) => f.op === op.layerOp)!.schema, op.kind).toBe(op.layer);
    expect(opDef('depthwiseConv2d').layer).toBe(opDef('conv2d').layer);
    const spec = modelAround([4, 4, 1], [{ op: 'lstm' } as unknown as Layer]);
    expect(() => buildGraph(spec)).toThrow(`model "op-test": layers[0].op: expected op to be one of ${ops.join(', ')}, got "lstm"`);
  });

  it('every step an op can emit has its code; ops with weights have all of it', () => {
    for (const op of allOps()) {
      const code = op.codegen;
      if (op.program.forward.includes('forward')) expect(code.forward, `${op.kind} forward`).toBeTypeOf('function');
      if (op.program.backward.includes('inputGrad')) expect(code.inputGrad, `${op.kind} inputGrad`).toBeTypeOf('function');
      const weighted = op.weights !== undefined;
      expect(op.program.backward.includes('weightGrad'), `${op.kind} weightGrad`).toBe(weighted);
      expect(op.program.backward.includes('biasGrad'), `${op.kind} biasGrad`).toBe(weighted);
      expect(op.program.forward.includes('saveSlice'), `${op.kind} saveSlice`).toBe(weighted);
      for (const k of ['weightUpdate', 'weightGrad', 'applyWeight', 'biasUpdate', 'biasGrad', 'applyBias'] as const) {
        expect(typeof code[k] === 'function', `${op.kind} ${k}`).toBe(weighted);
      }
      if (op.streamable) expect(code.forwardRows, `${op.kind} forwardRows`).toBeTypeOf('function');
      // A view has no step and no code; a standalone clamp has its mask.
      if (op.view) expect([...op.program.forward, ...op.program.backward, ...Object.keys(code)]).toEqual([]);
      if (op.clamp) expect(op.program.backward[0]).toBe('mask');
      // save:<node> is an input slice of an op with weights, or the mask an op saves for its input gradient.
      if (weighted) expect(op.program.inputGradReads?.mask, `${op.kind} saves a mask`).toBeUndefined();
      if (op.program.inputGradReads) expect(op.program.backward, `${op.kind} reads for an inputGrad`).toContain('inputGrad');
      expect(op.float.forward).toBeTypeOf('function');
      expect(op.float.backward).toBeTypeOf('function');
    }
  });

  it("labels and the manifest's node table keep the model's op: a depthwise conv is n<i>_conv2d", () => {
    const graph = buildGraph(
      modelAround(
        [4, 4, 2],
        [
          { op: 'conv2d', name: 'a', filters: 2, kernel: 1 },
          { op: 'conv2d', name: 'b', filters: 2, kernel: 3, padding: 1, groups: 'depthwise' },
        ],
      ),
    );
    expect(nodeTable(graph).slice(0, 2)).toEqual([
      { label: 'n0_conv2d', name: 'a', op: 'conv2d' },
      { label: 'n1_conv2d', name: 'b', op: 'conv2d' },
    ]);
  });

  it('loads whichever op module is imported first (op modules sit in import cycles with the compiler)', async () => {
    // Real Node ESM on the build (npm test and test:fast build first): vitest's own module
    // runner does not have ESM's temporal dead zone, where a constant read across a cycle
    // before its module ran throws. Every module of compiler/ops/ (a new op's among them)
    // first, each in a fresh process.
    const files = readdirSync(DIST)
      .filter((f) => f.endsWith('.js'))
      .map((f) => f.slice(0, -3))
      .sort();
    expect(files).toEqual(expect.arrayContaining(['conv2d', 'conv2d-layer', 'depthwise-conv2d', 'avgpool', 'pool-kernels', 'layer-fields', 'registry']));
    // And the model schema, which model-schema.ts builds from the registry's layer formats.
    const model = JSON.stringify(modelAround([4, 4, 1], [{ op: 'conv2d', name: 'c', filters: 2, kernel: 3, activation: 'relu' }]));
    const check = (file: string) => `
      await import('${pathToFileURL(join(DIST, file))}.js');
      const { allOps, layerFormats } = await import('${pathToFileURL(join(DIST, 'registry'))}.js');
      const { buildGraph } = await import('${pathToFileURL(join(DIST, '..', 'ir', 'graph'))}.js');
      const graph = buildGraph(${model});
      console.log(JSON.stringify([allOps().map((op) => [op.kind, Object.keys(op.codegen).length]), layerFormats().map((f) => f.op), graph.nodes.map((n) => n.op)]));`;
    const runs = await Promise.all(files.map((f) => run(process.execPath, ['--input-type=module', '-e', check(f)])));
    const graph = buildGraph(JSON.parse(model) as ModelSpec);
    const expected = JSON.stringify([allOps().map((op) => [op.kind, Object.keys(op.codegen).length]), layerFormats().map((f) => f.op), graph.nodes.map((n) => n.op)]);
    runs.forEach((r, i) => expect(r.stdout.trim(), files[i]).toBe(expected));
  });
});
