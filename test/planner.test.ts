/**
 * Property tests of the training program and the arena planner on random small graphs
 * and random sparse schemes. No WASM: planModel/buildProgram/planArena only.
 *
 * Every property is re-derived here from the graph and the program's steps (lifetimes,
 * sizes, which tensors need a gradient), never read back from the planner's own
 * bookkeeping, so a planner bug cannot hide behind a matching bug in its accounting.
 */
import { describe, expect, it } from 'vitest';
import { planModel, quantizeSpec, type Plan } from '../compiler/index.js';
import { actKeyOf, buildProgram, gradKeyOf, slicePositions, type BufferKey, type Program } from '../compiler/autodiff/program.js';
import { INPUT, buildGraph, hasParams, shapeSize, type Graph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { ARENA_ALIGN, planArena } from '../compiler/memory/planner.js';
import { fullScheme, splitChannels, trainedChannels, trainsAnything, type Scheme } from '../compiler/scheme/scheme.js';
import { mnistCnn, mlp, randomScheme, randomSpec, residualCnn } from './support/models.js';

// ---------------------------------------------------------------------------------------
// Independent re-derivations

interface Lifetime {
  first: number;
  last: number;
}

function lifetimesOf(p: Program): Map<BufferKey, Lifetime> {
  const m = new Map<BufferKey, Lifetime>();
  p.steps.forEach((s, i) => {
    for (const k of [...s.reads, ...s.writes]) {
      const l = m.get(k);
      if (l) l.last = i;
      else m.set(k, { first: i, last: i });
    }
  });
  return m;
}

/** Tensors that must receive a gradient: the logits, and every tensor with a trained producer at or above it. */
function tensorsNeedingGrad(graph: Graph, scheme: Scheme, canon: (t: string) => string): Set<string> {
  const trainedAbove = new Map<string, boolean>([[INPUT, false]]);
  for (const n of graph.nodes) {
    const self = hasParams(n) && trainsAnything(scheme.layers.get(n.name));
    trainedAbove.set(n.output, self || n.inputs.some((t) => trainedAbove.get(t)!));
  }
  const out = new Set<string>([canon(graph.output)]);
  for (const [t, yes] of trainedAbove) if (yes) out.add(canon(t));
  return out;
}

const align = (n: number): number => Math.ceil(n / ARENA_ALIGN) * ARENA_ALIGN;

/** Checks every property of one (model, scheme) plan; `where` names the case in failures. */
function checkPlan(graph: Graph, scheme: Scheme, plan: Plan, noReuse: Plan, where: string): void {
  const { program: p, arena } = plan;
  const canon = (t: string): string => p.alias.get(t) ?? t;
  const elems = new Map<string, number>([[INPUT, shapeSize(graph.inputShape)]]);
  for (const n of graph.nodes) elems.set(n.output, shapeSize(n.outShape));
  for (const n of graph.nodes) if (n.op === 'flatten') expect(canon(n.output), where).not.toBe(n.output);

  // --- every buffer is an activation or a tensor gradient of the right size; no weight gradients
  const life = lifetimesOf(p);
  const nodeByName = new Map(graph.nodes.map((n) => [n.name, n]));
  for (const key of life.keys()) {
    // With reordered, fused updates there is no weight/bias gradient buffer (wgrad:/bgrad:).
    const m = /^(act|grad|save|mask|ring|scratch|bgrad):(.+)$/.exec(key);
    expect(m, `${where}: buffer ${key} is not act:, grad:, save: or mask:`).not.toBeNull();
    const t = m![2]!;
    const b = arena.buffers.get(key);
    expect(b, `${where}: step buffer ${key} was not planned`).toBeDefined();
    if (m![1] === 'bgrad') {
      // Only the fused pool/head backward keeps a bias gradient, for the next step to apply.
      expect(
        p.steps.some((x) => x.kind === 'gapHeadBackward' && x.head.name === t),
        `${where}: ${key} outside a fused pool/head backward`,
      ).toBe(true);
      const l = life.get(key)!;
      expect(l.last - l.first, `${where}: ${key} outlives the update`).toBeLessThanOrEqual(1);
      continue;
    }
    if (m![1] === 'scratch') {
      // scratch:<layer> = rows an in-place depthwise backward keeps; only that step touches it.
      const l = life.get(key)!;
      expect(l.first, `${where}: ${key} lives beyond its step`).toBe(l.last);
      continue;
    }
    if (m![1] === 'ring') {
      // ring:<tensor> = a few rows of a streamed tensor that nothing in backward needs.
      expect(elems.has(t), `${where}: ${key} names no tensor`).toBe(true);
      expect(tensorsNeedingGrad(graph, scheme, canon).has(t), `${where}: ${key} streams a tensor backward needs`).toBe(false);
      continue;
    }
    if (m![1] === 'save' || m![1] === 'mask') {
      // save:<layer> = the leading input channels its weight gradient needs (a maxpool's: its argmax mask, a byte per output); mask:<layer> = 1 bit per output.
      const n = nodeByName.get(t);
      expect(n, `${where}: ${key} names no layer`).toBeDefined();
      if (m![1] === 'mask') expect(b!.bytes, `${where}: size of ${key}`).toBe(Math.ceil(elems.get(n!.output)! / 8));
      else if (n!.op === 'maxpool') expect(b!.bytes, `${where}: size of ${key}`).toBe(elems.get(n!.output)!);
      else {
        const k = trainedChannels(scheme.layers.get(t), n!);
        expect(k > 0 && k < splitChannels(n!), `${where}: ${key} saved for a layer that trains all or none of its channels`).toBe(true);
        expect(b!.bytes, `${where}: size of ${key}`).toBe(slicePositions(n!) * k);
      }
      continue;
    }
    expect(elems.has(t), `${where}: ${key} names no graph tensor (a weight gradient?)`).toBe(true);
    expect(canon(t), `${where}: ${key} is an alias, not a canonical tensor`).toBe(t);
    expect(b!.bytes, `${where}: size of ${key}`).toBe(m![1] === 'act' ? elems.get(t)! : 4 * elems.get(t)!);
  }
  expect([...arena.buffers.keys()].sort(), `${where}: planned buffers == buffers the steps touch`).toEqual([...life.keys()].sort());

  // --- placement: inside the arena, aligned, lifetimes as the steps say, no overlap while live
  for (const [key, l] of life) {
    const b = arena.buffers.get(key)!;
    expect([b.first, b.last], `${where}: lifetime of ${key}`).toEqual([l.first, l.last]);
    expect(b.offset % ARENA_ALIGN, `${where}: alignment of ${key}`).toBe(0);
    expect(b.offset >= 0 && b.offset + b.bytes <= arena.arenaBytes, `${where}: ${key} at ${b.offset}+${b.bytes} outside [0, ${arena.arenaBytes})`).toBe(true);
  }
  const keys = [...life.keys()];
  for (let i = 0; i < keys.length; i++) {
    for (let j = i + 1; j < keys.length; j++) {
      const a = arena.buffers.get(keys[i]!)!,
        b = arena.buffers.get(keys[j]!)!;
      const la = life.get(keys[i]!)!,
        lb = life.get(keys[j]!)!;
      const live = la.first <= lb.last && lb.first <= la.last;
      const share = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
      expect(
        live && share,
        `${where}: ${a.key} [${la.first},${la.last}]@${a.offset}+${a.bytes} and ${b.key} [${lb.first},${lb.last}]@${b.offset}+${b.bytes} share bytes while both live`,
      ).toBe(false);
    }
  }
  let peak = 0,
    peakAligned = 0;
  for (let s = 0; s < p.steps.length; s++) {
    let live = 0,
      liveAligned = 0;
    for (const [key, l] of life)
      if (l.first <= s && s <= l.last) {
        live += arena.buffers.get(key)!.bytes;
        liveAligned += align(arena.buffers.get(key)!.bytes);
      }
    peak = Math.max(peak, live);
    peakAligned = Math.max(peakAligned, liveAligned);
  }
  expect(arena.arenaBytes, `${where}: arena below the peak live bytes`).toBeGreaterThanOrEqual(peakAligned);
  expect(arena.peakLiveBytes, where).toBe(peakAligned);
  expect(peak, where).toBeLessThanOrEqual(peakAligned);
  // The no-reuse reference: every buffer its own bytes, and the planned arena never larger.
  expect(noReuse.arena.arenaBytes, where).toBe([...noReuse.arena.buffers.values()].reduce((a, b) => a + align(b.bytes), 0));
  const sorted = [...noReuse.arena.buffers.values()].sort((a, b) => a.offset - b.offset);
  sorted.forEach((b, i) => {
    if (i > 0) expect(b.offset, where).toBeGreaterThanOrEqual(sorted[i - 1]!.offset + sorted[i - 1]!.bytes);
  });
  expect(arena.arenaBytes, where).toBeLessThanOrEqual(noReuse.arena.arenaBytes);

  // --- data flow: nothing is read before it is written; accumulation flags are right;
  // a gradient is complete before its producer uses it
  const forwardNodes = graph.nodes.filter((n) => n.op !== 'flatten');
  const forwardSteps = p.steps.slice(0, p.lossStep);
  for (const s of forwardSteps) expect(['forward', 'forwardStream', 'saveSlice', 'saveMask'], where).toContain(s.kind);
  // Every node runs once, in order (a streamed chain runs its nodes together).
  expect(
    forwardSteps.flatMap((s) => (s.kind === 'forward' ? [s.node.name] : s.kind === 'forwardStream' ? s.nodes.map((n) => n.name) : [])),
    where,
  ).toEqual(forwardNodes.map((n) => n.name));
  const AK = (t: string): BufferKey => actKeyOf(p, t);
  const GK = (t: string): BufferKey => gradKeyOf(p, t);
  expect(p.steps[p.lossStep], where).toMatchObject({ kind: 'loss', reads: [AK(graph.output)], writes: [GK(graph.output)] });
  const written = new Set<BufferKey>(['act:input']);
  const consumedAt = new Map<string, number>(); // tensor -> first step its producer reads its gradient
  p.steps.forEach((s, i) => {
    if (s.kind === 'gapHeadBackward') {
      // Fused global-average-pool + frozen 1x1 head backward: reads the pool's output
      // gradient (and the head's clamp bits), writes the head's input gradient, its bias
      // gradient (applied by the very next step when the bias trains) and a one-position scratch.
      const h = s.head;
      expect(h.op === 'conv2d' && h.conv!.kh === 1 && h.conv!.kw === 1, `${where}: fused head ${h.name} is a 1x1 conv`).toBe(true);
      expect(canon(s.node.inputs[0]!), where).toBe(canon(h.output));
      expect(s.reads[0], where).toBe(GK(s.node.output));
      for (const r of s.reads) if (r !== GK(s.target ?? '')) expect(written.has(r), `${where}: step ${i} reads ${r} before anything wrote it`).toBe(true);
      if (s.target) {
        expect(s.writes[0], where).toBe(GK(s.target));
        expect(s.accumulate, where).toBe(written.has(GK(s.target)));
      }
      const next = p.steps[i + 1];
      if (scheme.layers.get(h.name)?.bias) expect(next, where).toMatchObject({ kind: 'applyBias', node: { name: h.name } });
      for (const w of s.writes) written.add(w);
      if (s.target && !consumedAt.has(canon(h.output))) consumedAt.set(canon(h.output), i);
      return;
    }
    // An inputGrad's accumulating reads are checked per target below: add(x, x) writes
    // grad:x and then adds into it within one step.
    const ownTargets = new Set<string>(s.kind === 'inputGrad' ? s.targets.map(GK) : []);
    for (const r of s.reads) {
      if (ownTargets.has(r) && !written.has(r)) continue;
      expect(written.has(r), `${where}: step ${i} (${s.kind}) reads ${r} before anything wrote it`).toBe(true);
    }
    if (i > p.lossStep) for (const w of s.writes) expect(w.startsWith('grad:') || w.startsWith('scratch:'), `${where}: backward step ${i} writes ${w}`).toBe(true);
    if (s.kind === 'inputGrad') {
      if (s.inPlace) {
        // In place: a stride-1 same-size depthwise conv, its input's only consumer, whose
        // input gradient takes over its output gradient's buffer.
        const n = s.node;
        expect(n.op === 'depthwiseConv2d' && n.conv!.sh === 1 && n.conv!.sw === 1 && n.outShape.join() === n.inShapes[0]!.join(), `${where}: in-place ${n.name}`).toBe(true);
        expect(graph.nodes.filter((c) => c.inputs.some((x) => canon(x) === s.targets[0])).length, where).toBe(1);
        expect(s.writes, where).toEqual([GK(s.targets[0]!), `scratch:${n.name}`]);
        expect(GK(s.targets[0]!), where).toBe(GK(n.output));
        expect(s.accumulate, where).toEqual([false]);
        const c = consumedAt.get(s.targets[0]!);
        expect(c, where).toBeUndefined();
        for (const w of s.writes) written.add(w);
        return;
      }
      expect(s.writes, where).toEqual(s.targets.map(GK));
      const started = new Set(written);
      s.targets.forEach((t, k) => {
        const key: BufferKey = GK(t);
        // Accumulate exactly when an earlier step, or an earlier target of this one, started it.
        expect(s.accumulate[k], `${where}: step ${i} accumulate flag for ${key}`).toBe(started.has(key));
        if (s.accumulate[k]) expect(s.reads, where).toContain(key);
        started.add(key);
        const c = consumedAt.get(t);
        expect(c, `${where}: step ${i} adds to grad:${t} after its producer already used it (step ${c})`).toBeUndefined();
      });
    }
    if ('node' in s && s.kind !== 'forward' && s.kind !== 'saveSlice' && s.kind !== 'saveMask' && s.kind !== 'applyBias' && s.kind !== 'applyWeight') {
      const out = canon(s.node.output);
      expect(s.reads, `${where}: ${s.kind} ${s.node.name} reads its output gradient`).toContain(GK(out));
      if (!consumedAt.has(out)) consumedAt.set(out, i);
    }
    for (const w of s.writes) written.add(w);
  });

  // --- gradients exactly where needed, none below the earliest trained layer
  const fusedHeads = new Set(p.steps.flatMap((x) => (x.kind === 'gapHeadBackward' ? [canon(x.head.output)] : [])));
  // A fused pool/head backward never materialises the head's output gradient.
  const need = new Set([...tensorsNeedingGrad(graph, scheme, canon)].filter((t) => !fusedHeads.has(t)));
  const grads = new Set([...life.keys()].filter((k) => k.startsWith('grad:')));
  expect([...grads].sort(), `${where}: tensors with a gradient`).toEqual([...new Set([...need].map(GK))].sort());
  const paramNodes = graph.nodes.filter(hasParams);
  const earliest = graph.nodes.findIndex((n) => hasParams(n) && trainsAnything(scheme.layers.get(n.name)));
  const below = earliest < 0 ? graph.nodes.slice(0, -1) : graph.nodes.slice(0, earliest);
  for (const t of [INPUT, ...below.map((n) => n.output)]) {
    if (canon(t) === canon(graph.output)) continue;
    expect(grads.has(`grad:${canon(t)}`), `${where}: gradient for ${t}, below the earliest trained layer`).toBe(false);
  }
  for (const s of p.steps) {
    if (s.kind === 'inputGrad') for (const t of s.targets) expect(need.has(t), `${where}: inputGrad into ${t}`).toBe(true);
    if (s.kind === 'mask') {
      const n = s.node;
      expect(n.activation !== 'none' || n.op === 'relu' || n.op === 'relu6', `${where}: mask on ${n.name} without activation`).toBe(true);
      expect(s.writes, where).toEqual([GK(n.output)]);
    }
  }

  // --- parameter updates: exactly what the scheme trains, right after the layer's gradient work
  for (const n of paramNodes) {
    const t = scheme.layers.get(n.name);
    const channels = trainedChannels(t, n);
    const idx = (kind: string): number[] => p.steps.flatMap((s, i) => (s.kind === kind && 'node' in s && s.node.name === n.name ? [i] : []));
    const fused = fusedHeads.has(canon(n.output));
    // A fused head applies its bias from the bias gradient the fused step computed.
    const wu = idx('weightUpdate'),
      bu = idx(fused ? 'applyBias' : 'biasUpdate'),
      ig = idx('inputGrad'),
      mk = idx('mask');
    expect(wu.length, `${where}: weight updates of ${n.name}`).toBe(channels > 0 ? 1 : 0);
    expect(bu.length, `${where}: bias updates of ${n.name}`).toBe(t?.bias ? 1 : 0);
    if (!trainsAnything(t)) expect(wu.length + bu.length, `${where}: frozen ${n.name} is updated`).toBe(0);
    for (const i of wu) {
      const s = p.steps[i]!;
      if (s.kind === 'weightUpdate') {
        expect(s.channels, where).toBe(channels);
        // The whole input, or only the leading channels the weight gradient needs.
        const x = channels === splitChannels(n) ? AK(n.inputs[0]!) : `save:${n.name}`;
        expect(s.reads, where).toEqual([GK(n.output), x]);
        expect(s.writes, where).toEqual([]);
      }
    }
    // The input gradient needs the old weights; the mask must already be applied. The bias
    // does not enter the input gradient, but an in-place input gradient destroys the output
    // gradient the bias update reads, so then the bias must come first.
    const inPlace = ig.some((i) => {
      const s = p.steps[i]!;
      return s.kind === 'inputGrad' && !!s.inPlace;
    });
    for (const u of wu) for (const i of ig) expect(u, `${where}: ${n.name} updated before its input gradient`).toBeGreaterThan(i);
    for (const u of bu)
      for (const i of ig) {
        if (inPlace) expect(u, `${where}: ${n.name} bias updated after its in-place input gradient`).toBeLessThan(i);
      }
    for (const u of [...wu, ...bu]) for (const i of mk) expect(u, `${where}: ${n.name} updated before its activation mask`).toBeGreaterThan(i);
    // Not a single step is spent on a parameter that does not train.
    expect(ig.length, where).toBeLessThanOrEqual(1);
    expect(mk.length, where).toBeLessThanOrEqual(1);
  }
  for (const s of p.steps) {
    if (s.kind === 'weightUpdate' || s.kind === 'biasUpdate') expect(hasParams(s.node), where).toBe(true);
  }
}

function planBoth(spec: ModelSpec, scheme: (g: Graph) => Scheme): { graph: Graph; scheme: Scheme; plan: Plan; noReuse: Plan } {
  const { quant } = quantizeSpec(spec);
  const sch = scheme(quant.graph);
  return { graph: quant.graph, scheme: sch, plan: planModel(quant, { scheme: sch }), noReuse: planModel(quant, { scheme: sch, reuse: false }) };
}

// ---------------------------------------------------------------------------------------

const CASES = 250;
const SCHEMES_PER_CASE = 3;

describe('planner properties on random graphs and schemes', () => {
  /** The random model of `seed`, with the options spread over the seeds (each on for a share of them). */
  const mixedSpec = (seed: number) =>
    randomSpec(seed, {
      tableActivations: seed % 2 === 0,
      paddings: seed % 3 !== 0,
      mulConcat: seed % 3 === 0,
      geometry: seed % 4 === 1,
      prelu: seed % 5 === 2,
      poolGeometry: seed % 2 === 1,
      padChannels: seed % 5 === 4,
    });

  it('the generator makes valid, varied models', () => {
    const ops = new Map<string, number>();
    let residual = 0,
      selfAdd = 0;
    for (let seed = 1; seed <= CASES; seed++) {
      const spec = mixedSpec(seed);
      const g = buildGraph(spec); // throws on an invalid spec
      for (const n of g.nodes) {
        const key = n.op === 'depthwiseConv2d' ? 'depthwise' : n.op === 'conv2d' && (n.conv!.sh > 1 || n.conv!.sw > 1) ? 'conv-s2' : n.op;
        ops.set(key, (ops.get(key) ?? 0) + 1);
        // Per-axis geometry (randomSpec's geometry): kernels, strides or leading pads that differ per axis.
        const k = n.conv;
        if (k && (k.kh !== k.kw || k.sh !== k.sw || k.pads[0] !== k.pads[1])) ops.set('per-axis-conv', (ops.get('per-axis-conv') ?? 0) + 1);
        // Per-axis pools (randomSpec's poolGeometry): windows or strides that differ per axis.
        const p = n.pool;
        if (p && (p.ph !== p.pw || p.sh !== p.sw)) ops.set(`per-axis-${n.op}`, (ops.get(`per-axis-${n.op}`) ?? 0) + 1);
        // Per-side padding (randomSpec's paddings): windows padded more after than before.
        const pads = n.conv?.pads ?? n.pool?.pads;
        if (pads && (pads[2] !== pads[0] || pads[3] !== pads[1])) ops.set('uneven-pads', (ops.get('uneven-pads') ?? 0) + 1);
        if (n.op === 'add') {
          if (n.inputs[0] === n.inputs[1]) selfAdd++;
          else residual++;
        }
      }
    }
    const tables = ['sigmoid', 'hardsigmoid', 'hardswish', 'silu', 'leakyrelu', 'clampmin'];
    for (const op of [
      'conv2d',
      'conv-s2',
      'depthwise',
      'dense',
      'add',
      'avgpool',
      'maxpool',
      'uneven-pads',
      'per-axis-conv',
      'per-axis-maxpool',
      'per-axis-avgpool',
      'globalavgpool',
      'flatten',
      'relu',
      'relu6',
      ...tables,
      'mul',
      'concat',
      'prelu',
      'padchannels',
    ]) {
      // Six table functions share the table-activation draws, and per-axis pools are half of the pools of half the seeds: each at least 5 times.
      const rare = tables.includes(op) || (op.startsWith('per-axis-') && op.endsWith('pool'));
      expect(ops.get(op) ?? 0, `generator never made ${op}`).toBeGreaterThan(rare ? 5 : 10);
    }
    expect(residual).toBeGreaterThan(10);
    expect(selfAdd).toBeGreaterThan(10);
  });

  it(`${CASES} random models x ${SCHEMES_PER_CASE} random schemes: plans are safe and programs are right`, () => {
    const styles = new Map<string, number>();
    for (let seed = 1; seed <= CASES; seed++) {
      const spec = mixedSpec(seed);
      for (let k = 0; k < SCHEMES_PER_CASE; k++) {
        const r = planBoth(spec, (g) => randomScheme(g, seed * 31 + k));
        styles.set(r.scheme.name.split('-')[0]!, (styles.get(r.scheme.name.split('-')[0]!) ?? 0) + 1);
        checkPlan(r.graph, r.scheme, r.plan, r.noReuse, `model seed ${seed}, scheme ${r.scheme.name}`);
      }
    }
    for (const s of ['full', 'none', 'lastk', 'random']) expect(styles.get(s) ?? 0).toBeGreaterThan(20);
  });

  it('the test models, full and partial schemes', () => {
    const cases: Array<[ModelSpec, (g: Graph) => Scheme]> = [];
    for (const spec of [mnistCnn(), mlp(), residualCnn()]) {
      const calibration: Record<string, [number, number]> = {};
      for (const n of buildGraph(spec).nodes) calibration[n.output] = [-1, 1];
      const s = { ...spec, calibration };
      cases.push([s, fullScheme]);
      for (let k = 0; k < 10; k++) cases.push([s, (g) => randomScheme(g, 1000 + k)]);
    }
    for (const [spec, scheme] of cases) {
      const r = planBoth(spec, scheme);
      checkPlan(r.graph, r.scheme, r.plan, r.noReuse, `${spec.name}, scheme ${r.scheme.name}`);
    }
  });
});

describe('training programs, by hand', () => {
  const calibrated = (spec: ModelSpec): ModelSpec => {
    const calibration: Record<string, [number, number]> = {};
    for (const n of buildGraph(spec).nodes) calibration[n.output] = [-1, 1];
    return { ...spec, calibration };
  };

  it('training only the last bias needs no gradient buffer but the logits', () => {
    const { plan } = planBoth(calibrated(mnistCnn()), () => ({ name: 'fc-bias', layers: new Map([['fc', { bias: true, weightRatio: 0 }]]) }));
    const p = plan.program;
    expect(p.steps.slice(p.lossStep + 1).map((s) => `${s.kind} ${'node' in s ? s.node.name : ''}`)).toEqual(['biasUpdate fc']);
    expect([...plan.arena.buffers.keys()].filter((k) => k.startsWith('grad:'))).toEqual(['grad:fc']);
  });

  it('add(x, x) accumulates its second gradient contribution onto the first', () => {
    const spec = calibrated({
      format: 'tinytrain-model@1',
      name: 'self-add',
      input: [4, 4, 2],
      layers: [
        { op: 'conv2d', name: 'c', filters: 2, kernel: 1 },
        { op: 'add', name: 'a', inputs: ['c', 'c'], activation: 'relu' },
        { op: 'flatten', name: 'f' },
        { op: 'dense', name: 'd', units: 3 },
      ],
    });
    const { plan } = planBoth(spec, fullScheme);
    const ig = plan.program.steps.find((s) => s.kind === 'inputGrad' && s.node.name === 'a');
    expect(ig).toMatchObject({ targets: ['c', 'c'], accumulate: [false, true] });
  });

  it('a residual gradient is complete before the skip source uses it', () => {
    const spec = calibrated(residualCnn());
    const { plan } = planBoth(spec, fullScheme);
    const steps = plan.program.steps.map((s) => `${s.kind}${'node' in s ? ` ${s.node.name}` : ''}`);
    // grad:stem gets two contributions: through res (skip) and through dw (branch).
    const intoStem = plan.program.steps.flatMap((s, i) => (s.kind === 'inputGrad' && s.targets.includes('stem') ? [i] : []));
    expect(intoStem).toHaveLength(2);
    const stemUse = steps.indexOf('mask stem');
    expect(stemUse).toBeGreaterThan(Math.max(...intoStem));
  });

  it('buildProgram + planArena directly agree with planModel', () => {
    const spec = calibrated(mnistCnn());
    const { quant } = quantizeSpec(spec);
    const scheme = fullScheme(quant.graph);
    const viaModel = planModel(quant, { scheme });
    const program = buildProgram(quant.graph, scheme);
    expect(program.steps.length).toBe(viaModel.program.steps.length);
    const size = (k: BufferKey): number => viaModel.arena.buffers.get(k)!.bytes;
    const direct = planArena(program, size);
    expect(direct.arenaBytes).toBe(viaModel.arena.arenaBytes);
    expect(planArena(program, size, { reuse: false }).arenaBytes).toBeGreaterThan(direct.arenaBytes);
  });
});

describe('the property checker itself catches broken plans', () => {
  // Each case breaks one thing in an otherwise good plan; checkPlan must name it.
  const fresh = (): ReturnType<typeof planBoth> => {
    const calibration: Record<string, [number, number]> = {};
    const spec = residualCnn();
    for (const n of buildGraph(spec).nodes) calibration[n.output] = [-1, 1];
    return planBoth({ ...spec, calibration }, fullScheme);
  };
  const check = (r: ReturnType<typeof planBoth>): void => checkPlan(r.graph, r.scheme, r.plan, r.noReuse, 'mutant');

  it('accepts the unbroken plan', () => {
    expect(() => check(fresh())).not.toThrow();
  });

  it('two live buffers on the same bytes', () => {
    const r = fresh();
    const bufs = [...r.plan.arena.buffers.values()];
    const [a, b] = bufs.flatMap((x) => bufs.filter((y) => y !== x && y.bytes <= x.bytes && x.first <= y.last && y.first <= x.last).map((y) => [x, y] as const))[0]!;
    b.offset = a.offset;
    expect(() => check(r)).toThrow(/share bytes while both live/);
  });

  it('a buffer past the arena end', () => {
    const r = fresh();
    r.plan.arena.arenaBytes -= 16;
    expect(() => check(r)).toThrow(/outside \[0,/);
  });

  it('a step buffer that was never planned', () => {
    const r = fresh();
    r.plan.arena.buffers.delete('grad:pw');
    expect(() => check(r)).toThrow(/was not planned/);
  });

  it('a wrong accumulate flag', () => {
    const r = fresh();
    const s = r.plan.program.steps.find((x) => x.kind === 'inputGrad' && x.accumulate.includes(true));
    if (s?.kind !== 'inputGrad') throw new Error('no accumulating step');
    s.accumulate = s.accumulate.map((x) => !x);
    expect(() => check(r)).toThrow(/accumulate flag|before anything wrote it/);
  });

  it('a weight update before the input gradient that needs the old weights', () => {
    const r = fresh();
    const steps = r.plan.program.steps;
    const u = steps.findIndex((x) => x.kind === 'weightUpdate' && x.node.name === 'head');
    const g = steps.findIndex((x) => x.kind === 'inputGrad' && x.node.name === 'head');
    const [upd] = steps.splice(u, 1);
    steps.splice(g, 0, upd!);
    // Re-plan so that lifetimes match the reordered program: only the order is wrong.
    const sizes = new Map([...r.plan.arena.buffers].map(([k, b]) => [k, b.bytes]));
    r.plan.arena = planArena(r.plan.program, (k) => sizes.get(k)!);
    expect(() => check(r)).toThrow(/updated before its input gradient/);
  });

  it('an update step for a layer the scheme freezes', () => {
    const r = fresh();
    const scheme: Scheme = { name: 'mutant', layers: new Map(r.scheme.layers) };
    scheme.layers.set('stem', { bias: true, weightRatio: 0 });
    expect(() => checkPlan(r.graph, scheme, r.plan, r.noReuse, 'mutant')).toThrow(/weight updates of stem/);
  });

  it('a gradient below the earliest trained layer', () => {
    const r = fresh();
    const scheme: Scheme = { name: 'mutant', layers: new Map([...r.scheme.layers].filter(([n]) => n !== 'stem')) };
    expect(() => checkPlan(r.graph, scheme, r.plan, r.noReuse, 'mutant')).toThrow(/tensors with a gradient|weight updates of stem/);
  });
});
