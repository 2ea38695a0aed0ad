/**
 * The op interface on ops the table does not have yet (the next issue's kinds), registered
 * only inside each test (registry.ts withExtraOps): an input gradient that reads its input,
 * its output or a mask its forward saves (OpDef.program.inputGradReads), and an op with any
 * number of inputs (OpDef.arity as a range). Each is checked against the same op without
 * the feature, so every assertion would fail if the program or the planner ignored it.
 * The fake ops' float rules and code are stand-ins: only the graph, the training program
 * and the arena plan are built here.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildProgram, type Program } from '../../compiler/autodiff/program.js';
import { TinytrainError } from '../../compiler/errors.js';
import { buildGraph, shapeSize, type Graph } from '../../compiler/ir/graph.js';
import type { Layer } from '../../compiler/ir/model.js';
import { planArena, type ArenaPlan } from '../../compiler/memory/planner.js';
import { arityRefusal } from '../../compiler/ops/arity.js';
import { layerSchema, manyInputs, plainLayer, type PlainLayer } from '../../compiler/ops/layer-fields.js';
import { layerFormats, opDef, withExtraOps } from '../../compiler/ops/registry.js';
import type { InputGradReads, LayerFields, OpDef, OpKind } from '../../compiler/ops/types.js';
import { userName } from '../../compiler/validate.js';
import { modelAround, schemeOf } from '../support/ops.js';

/** A one-input op of layer op `kind` whose input gradient passes the output gradient on; `o` replaces any member. */
function fakeOp(kind: string, o: Partial<OpDef<LayerFields>> = {}): OpDef<LayerFields> {
  return {
    kind: kind as OpKind,
    layerOp: kind,
    layer: plainLayer(kind),
    arity: 1,
    shape: (_layer, [x]) => ({ outShape: [...x!] }),
    float: {
      forward: (_n, [x]) => x!.slice(),
      backward: (_n, { gy, wantInputGrad }) => ({ inputs: [wantInputGrad ? gy.slice() : null] }),
    },
    program: { forward: ['forward'], backward: ['inputGrad'] },
    codegen: { forward: () => '', inputGrad: () => '' },
    ...o,
  };
}

/** The schema of a layer `op` whose inputs are a list of any length (its arity then says how many). */
const withInputs = (op: string) => layerSchema<PlainLayer<string>>()(z.strictObject({ op: z.literal(op), name: userName.optional(), inputs: manyInputs.optional() }));

/** An element-wise fake op (its output may overwrite its input) whose input gradient reads `reads`, or nothing. */
const elementwise = (kind: string, reads?: InputGradReads) =>
  fakeOp(kind, { elementwise: true, program: { forward: ['forward'], backward: ['inputGrad'], ...(reads && { inputGradReads: reads }) } });

const conv = (name: string, activation: 'none' | 'relu' = 'none', kernel = 3): Layer => ({ op: 'conv2d', name, filters: 2, kernel, padding: (kernel - 1) / 2, activation });
const layer = (op: string, name: string): Layer => ({ op, name }) as unknown as Layer;
const trainA = schemeOf({ a: { bias: true, weightRatio: 1 } });
const trainTail = schemeOf({ tail_fc: { bias: true, weightRatio: 1 } });

/** The graph and default program (every pass on) of `layers` with the fake `ops` registered. */
function programOf(ops: OpDef<LayerFields>[], layers: Layer[], scheme = trainA): { graph: Graph; p: Program } {
  return withExtraOps(ops, () => {
    const graph = buildGraph(modelAround([4, 4, 2], layers));
    return { graph, p: buildProgram(graph, scheme) };
  });
}

const stepIndex = (p: Program, kind: string, name: string): number => p.steps.findIndex((s) => s.kind === kind && 'node' in s && s.node.name === name);
const stepOf = (p: Program, kind: string, name: string) => p.steps[stepIndex(p, kind, name)]!;

/** Buffer `key` is placed and live through step i, and no other buffer live at step i shares its bytes. */
function expectKeptAlive(p: Program, plan: ArenaPlan, key: string, i: number): void {
  const b = plan.buffers.get(key as never)!;
  expect(b, key).toBeDefined();
  expect(b.last, `${key} is freed before step ${i}`).toBeGreaterThanOrEqual(i);
  for (const o of plan.buffers.values()) {
    if (o.key === b.key || o.first > i || o.last < i) continue;
    expect(o.offset + o.bytes <= b.offset || b.offset + b.bytes <= o.offset, `${o.key} overlaps ${key} at step ${i}`).toBe(true);
  }
}

describe('an input gradient that reads its input (inputGradReads.inputs)', () => {
  const square = elementwise('square', { inputs: [0] });
  const plain = elementwise('square');
  const layers = [conv('a'), layer('square', 's')];

  it('the step reads the int8 input; the planner keeps it alive until then', () => {
    const { p } = programOf([square], layers);
    const at = stepIndex(p, 'inputGrad', 's');
    expect(stepOf(p, 'inputGrad', 's').reads).toEqual(['grad:s', 'act:a']);
    expectKeptAlive(p, planArena(p), 'act:a', at);
    // Without the rule the same op's input is dead after its forward step.
    const without = programOf([plain], layers).p;
    expect(stepOf(without, 'inputGrad', 's').reads).toEqual(['grad:s']);
  });

  it('the in-place pass does not write its output over that input (it does without the rule)', () => {
    expect(programOf([square], layers).p.actShares.has('s')).toBe(false);
    expect(programOf([plain], layers).p.actShares.get('s')).toBe('a');
  });

  it('only where the step runs: with nothing below training, no read and the input may be overwritten', () => {
    const { p } = programOf([square], layers, trainTail);
    expect(stepIndex(p, 'inputGrad', 's')).toBe(-1);
    expect(p.actShares.get('s')).toBe('a');
  });

  it('bit masks: a clamp below keeps no bits for the tensor backward reads anyway, and its mask step reads the int8 output', () => {
    const clamped = [conv('a', 'relu'), layer('square', 's')];
    const { p } = programOf([square], clamped);
    expect(stepIndex(p, 'saveMask', 'a')).toBe(-1);
    expect(stepOf(p, 'mask', 'a')).toMatchObject({ fromBits: false, reads: ['act:a', 'grad:a'] });
    expect(stepIndex(programOf([plain], clamped).p, 'saveMask', 'a')).toBeGreaterThan(-1);
  });

  it("a pool/head fusion elsewhere, which recomputes every input gradient's accumulation, keeps what the step reads", () => {
    const { p } = programOf([square], [...layers, conv('head', 'none', 1), { op: 'globalavgpool', name: 'gp' } as Layer]);
    expect(p.steps.map((s) => s.kind)).toContain('gapHeadBackward');
    expect(stepOf(p, 'inputGrad', 's').reads).toEqual(['grad:s', 'act:a']);
  });

  it('an op reading both inputs of one tensor reads it once', () => {
    // A fake of its own (the real mul, mul.ts, is registered): the interface alone.
    const mul = fakeOp('fakemul', { arity: 2, layer: withInputs('fakemul'), program: { forward: ['forward'], backward: ['inputGrad'], inputGradReads: { inputs: [0, 1] } } });
    const { p } = programOf([mul], [conv('a'), { op: 'fakemul', name: 'm', inputs: ['a', 'a'] } as unknown as Layer]);
    expect(stepOf(p, 'inputGrad', 'm')).toMatchObject({ targets: ['a', 'a'], accumulate: [false, true], reads: ['grad:m', 'act:a', 'grad:a'] });
  });
});

describe('an input gradient that reads its output (inputGradReads.output)', () => {
  // A fake of its own (the real sigmoid, table-activation.ts, is registered): the interface alone.
  const sigmoid = elementwise('fakesigmoid', { output: true });
  const layers = [conv('a'), layer('fakesigmoid', 'g'), { op: 'relu', name: 'r' } as Layer];

  it('the op may still write over its input; what it reads is that shared buffer, kept alive, which the relu after it does not overwrite', () => {
    const { p } = programOf([sigmoid], layers);
    expect(p.actShares.get('g')).toBe('a');
    expect(p.actShares.has('r')).toBe(false);
    const at = stepIndex(p, 'inputGrad', 'g');
    expect(stepOf(p, 'inputGrad', 'g').reads).toEqual(['grad:g', 'act:a']);
    expectKeptAlive(p, planArena(p), 'act:a', at);
    // The same op without the rule: the relu writes over it too.
    expect(programOf([elementwise('fakesigmoid')], layers).p.actShares.get('r')).toBe('g');
  });
});

describe("a mask the op's forward saves for its input gradient (inputGradReads.mask)", () => {
  // A 2x2, stride-2 pool whose backward routes each gradient to its window's argmax: 2 bits per output.
  const maxish = fakeOp('maxish', {
    shape: (_layer, [[h, w, c]]) => ({ outShape: [Math.floor(h / 2), Math.floor(w / 2), c] }),
    program: { forward: ['forward'], backward: ['inputGrad'], inputGradReads: { mask: (n) => Math.ceil(shapeSize(n.outShape) / 4) } },
  });
  const layers = [conv('a'), layer('maxish', 'm')];

  it('forward writes save:<node> of the size the op gives; the input gradient reads it; the planner keeps it between the two', () => {
    const { p } = programOf([maxish], layers);
    expect(stepOf(p, 'forward', 'm').writes).toEqual(['act:m', 'save:m']);
    expect(stepOf(p, 'inputGrad', 'm').reads).toEqual(['grad:m', 'save:m']);
    expect(p.sizes.get('save:m')).toBe(Math.ceil((2 * 2 * 2) / 4));
    const plan = planArena(p);
    expectKeptAlive(p, plan, 'save:m', stepIndex(p, 'inputGrad', 'm'));
    expect(plan.buffers.get('save:m')!.first).toBe(stepIndex(p, 'forward', 'm'));
  });

  it('no mask where the input gradient does not run', () => {
    const { p } = programOf([maxish], layers, trainTail);
    expect(stepOf(p, 'forward', 'm').writes).toEqual(['act:m']);
    expect(p.sizes.has('save:m')).toBe(false);
  });
});

describe('the pool/head fusion leaves a pool whose input gradient reads forward values alone', () => {
  const fakeGap = (reads?: InputGradReads) => {
    const gap = opDef('globalavgpool');
    return fakeOp('fakegap', {
      ...gap,
      kind: 'fakegap' as OpKind,
      layerOp: 'fakegap',
      layer: plainLayer('fakegap'),
      program: { ...gap.program, ...(reads && { inputGradReads: reads }) },
    });
  };
  // A frozen 1x1 head (no clamp, so no bits decide it) between a trained conv and the pool.
  const layers = [conv('a'), conv('head', 'none', 1), layer('fakegap', 'gp')];

  it('fused without the rule; with it, the pool keeps its own input gradient, reading the head output', () => {
    const kinds = (p: Program) => p.steps.map((s) => s.kind);
    expect(kinds(programOf([fakeGap()], layers).p)).toContain('gapHeadBackward');
    const { p } = programOf([fakeGap({ inputs: [0] })], layers);
    expect(kinds(p)).not.toContain('gapHeadBackward');
    expect(stepOf(p, 'inputGrad', 'gp').reads).toEqual(['grad:gp', 'act:head']);
  });
});

describe('an op with any number of inputs (arity as a range)', () => {
  // Concat-like in its count only: a sum of two or more tensors of one shape.
  const sum = fakeOp('sum', { arity: { min: 2 }, layer: withInputs('sum'), elementwise: true });
  const sumOf = (...inputs: string[]): Layer => ({ op: 'sum', name: 's', inputs }) as unknown as Layer;
  const branches = [conv('a'), { ...conv('b'), inputs: ['input'] } as Layer, { ...conv('c'), inputs: ['input'] } as Layer];

  it('takes three inputs, each gets its gradient', () => {
    const { graph, p } = programOf([sum], [...branches, sumOf('a', 'b', 'c')], schemeOf({ a: { bias: true }, b: { bias: true }, c: { bias: true } }));
    expect(graph.nodes.find((n) => n.name === 's')!.inputs).toEqual(['a', 'b', 'c']);
    expect(stepOf(p, 'inputGrad', 's')).toMatchObject({ targets: ['a', 'b', 'c'], accumulate: [false, false, false] });
  });

  it('refuses fewer than its minimum, in its own words; the model schema lists its layer op', () => {
    const refusal = (layers: Layer[]) =>
      withExtraOps([sum], () => {
        try {
          buildGraph(modelAround([4, 4, 2], layers));
        } catch (e) {
          expect(e).toBeInstanceOf(TinytrainError);
          return (e as TinytrainError).message;
        }
        throw new Error('expected the model to be refused');
      });
    expect(refusal([conv('a'), sumOf('a')])).toBe("model layer 1 ('s'): sum takes at least 2 inputs, got 1");
    const registered = layerFormats().map((f) => f.op);
    expect(registered).not.toContain('sum');
    expect(refusal([{ op: 'lstm' } as unknown as Layer])).toContain(`expected op to be one of ${[...registered, 'sum'].join(', ')}, got "lstm"`);
    // Outside withExtraOps the op is gone again, from the graph builder and the schema.
    expect(() => buildGraph(modelAround([4, 4, 2], [conv('a'), sumOf('a', 'a')]))).toThrow(`expected op to be one of ${registered.join(', ')}, got "sum"`);
  });

  it('arityRefusal: a count says input(s) as before; a range says what it takes', () => {
    expect(arityRefusal('conv2d', 1, 1)).toBeUndefined();
    expect(arityRefusal('conv2d', 1, 2)).toBe('conv2d takes 1 input(s), got 2');
    expect(arityRefusal('add', 2, 1)).toBe('add takes 2 input(s), got 1');
    expect(arityRefusal('concat', { min: 2 }, 9)).toBeUndefined();
    expect(arityRefusal('concat', { min: 2, max: 4 }, 4)).toBeUndefined();
    expect(arityRefusal('concat', { min: 2, max: 4 }, 5)).toBe('concat takes 2 to 4 inputs, got 5');
    expect(arityRefusal('concat', { min: 2, max: 4 }, 1)).toBe('concat takes 2 to 4 inputs, got 1');
  });
});
