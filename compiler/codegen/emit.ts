/**
 * Emits the AssemblyScript source of one runtime: straight-line calls into the kernel
 * library with every shape, offset and quantisation constant baked in.
 */
import type { Node } from '../ir/graph.js';
import type { BufferKey, Program, Step } from '../autodiff/program.js';
import { actKeyOf, gradKeyOf } from '../autodiff/program.js';
import type { ArenaPlan } from '../memory/planner.js';
import type { MemoryLayout } from '../memory/layout.js';
import type { QuantModel } from '../quantize/quantize.js';
import { labelsByName } from './labels.js';
import { assertNoUserText } from './no-user-text.js';

export interface EmitOptions {
  arenaBase: number;
  momentum: number;
  qas: boolean;
  rounding: 'stochastic' | 'nearest';
  /** The manifest's layoutId (16 hex digits): the runtime reports it so hosts can match module and manifest. */
  layoutId: string;
}

/** An f32 constant that parses back to exactly the same float32. */
function f32(v: number): string {
  // Scales come from user data; the schema bounds them, this is the last line of defence.
  if (!Number.isFinite(Math.fround(v))) throw new Error(`codegen: f32 constant ${v} is not a finite float32`);
  const s = Math.fround(v).toString();
  return `<f32>${s.includes('.') || s.includes('e') ? s : s + '.0'}`;
}

/** A layoutId as a u64 literal; anything but 16 hex digits is a compiler bug, never pasted. */
function layoutIdLiteral(id: string): string {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new Error(`codegen: layoutId must be 16 hex digits, got ${JSON.stringify(id)}`);
  return `0x${id}`;
}

export function emitRuntime(q: QuantModel, p: Program, plan: ArenaPlan, layout: MemoryLayout, o: EmitOptions): string {
  const canon = (t: string): string => p.alias.get(t) ?? t;
  const addr = (k: BufferKey): number => {
    const b = plan.buffers.get(k);
    if (!b) throw new Error(`codegen: buffer ${k} was not planned`);
    return o.arenaBase + b.offset;
  };
  const A = (t: string): number => addr(actKeyOf(p, t));
  const G = (t: string): number => addr(gradKeyOf(p, t));
  const zp = (t: string): number => q.tensors.get(canon(t))!.zp;
  const sc = (t: string): number => q.tensors.get(canon(t))!.scale;
  const logits = canon(q.graph.output);
  const classes = q.graph.classes;

  const mem = (k: BufferKey): number => addr(k);
  const count = (n: Node): number => n.outShape[0] * n.outShape[1] * n.outShape[2];
  const slot = (n: Node) => layout.slots.get(n.name)!;
  // Comments name nodes by label only: a user's name never reaches the source (labels.ts).
  const labels = labelsByName(q.graph);
  const L = (n: Node): string => labels.get(n.name)!;
  // Dense is a 1x1 conv over a 1x1 image whose channels are the flattened input.
  const inGeom = (n: Node): [number, number, number] => {
    const [H, W, C] = n.inShapes[0]!;
    return n.op === 'dense' ? [1, 1, H * W * C] : [H, W, C];
  };
  const kGeom = (n: Node): string => {
    const c = n.conv;
    return c ? `${c.kh}, ${c.kw}, ${c.stride}, ${c.pad}, ${c.depthwise}` : '1, 1, 1, 0, false';
  };
  const kShape = (n: Node): string => (n.conv ? `${n.conv.kh}, ${n.conv.kw}, ${n.conv.depthwise}` : '1, 1, false');
  const outGeom = (n: Node): string => `${n.outShape[0]}, ${n.outShape[1]}, ${n.outShape[2]}`;
  const poolGeom = (n: Node): { ph: number; pw: number; stride: number } =>
    n.op === 'avgpool' ? { ph: n.pool!.size, pw: n.pool!.size, stride: n.pool!.stride } : { ph: n.inShapes[0]![0], pw: n.inShapes[0]![1], stride: 1 };
  /** Upper bound of the clamp for backward: ReLU has none, and 128 is above every int8. */
  const passHi = (n: Node): number => (n.op === 'relu6' || n.activation === 'relu6' ? q.clamps.get(n.name)!.hi : 128);
  const inputScale = (n: Node): string => f32(sc(n.inputs[0]!));

  /** Arguments of conv2dForwardRowsS8 for node n reading `x` and writing `y`, up to the row range. */
  const convRowArgs = (n: Node, x: number, y: number): string => {
    const sl = slot(n);
    const clamp = q.clamps.get(n.name)!;
    return (
      `${x}, ${inGeom(n).join(', ')}, ${zp(n.inputs[0]!)}, ${sl.wq}, ${sl.bq}, ${sl.mult}, ${sl.shift}, ` +
      `${y}, ${outGeom(n)}, ${zp(n.output)}, ${clamp.lo}, ${clamp.hi}, ${kGeom(n)}, ${sl.wq2}, ${sl.split}`
    );
  };
  /** The sparse kernels' scratch a step was planned with (0: none). */
  const scratchOf = (s: Step): number => {
    const k = s.writes.find((w) => w.startsWith('scratch:'));
    return k ? mem(k) : 0;
  };
  /** Pruned frozen 1x1 layers run on the sparse kernels (assembly/kernels/sparse.ts) from their non-zero list. */
  const sparseFwd = (n: Node, x: string, P: string | number, y: string, scratch: number): string => {
    const sl = slot(n);
    const clamp = q.clamps.get(n.name)!;
    return (
      `sparse1x1ForwardS8(${x}, ${P}, ${inGeom(n)[2]}, ${zp(n.inputs[0]!)}, ${sl.nz}, ${sl.nzFormat}, ${sl.bq}, ${sl.mult}, ${sl.shift}, ` +
      `${y}, ${n.outShape[2]}, ${zp(n.output)}, ${clamp.lo}, ${clamp.hi}, ${scratch})`
    );
  };
  /** One output row of a streamed conv (a sparse 1x1 reads just input row `row`). */
  const rowsCall = (n: Node, x: number, y: number, row: string, inRing: number, outRing: number, scratch: number): string => {
    if (!slot(n).nz) return `conv2dForwardRowsS8(${convRowArgs(n, x, y)}, ${row}, ${row} + 1, ${inRing}, ${outRing})`;
    const [, W, C] = n.inShapes[0]!;
    const at = (base: number, ring: number, bytes: number): string => `${base} + <usize>((${ring ? `(${row}) % ${ring}` : row}) * ${bytes})`;
    return sparseFwd(n, at(x, inRing, W * C), W, at(y, outRing, W * n.outShape[2]), scratch);
  };
  const helpers: string[] = [];
  /**
   * A streamed chain: each intermediate tensor i has a counter of rows produced, and
   * ensure_i(n) produces rows until n exist, first making sure the rows they read exist.
   * The last node's rows are pulled one at a time into its (whole) output.
   */
  const emitStream = (nodes: Node[], rings: number[], scratch: number): string => {
    const id = `stream${helpers.length}`;
    const ring = (i: number): number => mem(`ring:${nodes[i]!.output}` as BufferKey);
    const need = (consumer: Node, row: string): string => {
      const c = consumer.conv!;
      return `min<i32>(${consumer.inShapes[0]![0]}, ${row} * ${c.stride} - ${c.pad} + ${c.kh})`;
    };
    const fns: string[] = [`// ${nodes.map(L).join(' -> ')}: intermediate tensors in rings of ${rings.join(', ')} rows`];
    for (let i = 0; i < nodes.length - 1; i++) {
      const n = nodes[i]!;
      const x = i === 0 ? A(n.inputs[0]!) : ring(i - 1);
      fns.push(`let ${id}_rows${i}: i32 = 0;`);
      fns.push(`function ${id}_ensure${i}(n: i32): void {
  while (${id}_rows${i} < n) {
    ${i > 0 ? `${id}_ensure${i - 1}(${need(n, `${id}_rows${i}`)});` : ''}
    ${rowsCall(n, x, ring(i), `${id}_rows${i}`, i > 0 ? rings[i - 1]! : 0, rings[i]!, scratch)};
    ${id}_rows${i}++;
  }
}`);
    }
    const last = nodes[nodes.length - 1]!;
    const k = nodes.length - 2;
    fns.push(`function ${id}(): void {
  ${nodes
    .slice(0, -1)
    .map((_, i) => `${id}_rows${i} = 0;`)
    .join(' ')}
  for (let r = 0; r < ${last.outShape[0]}; r++) {
    ${id}_ensure${k}(${need(last, 'r')});
    ${rowsCall(last, ring(k), A(last.output), 'r', rings[k]!, 0, scratch)};
  }
}`);
    helpers.push(fns.join('\n'));
    return `${id}(); // ${nodes.map(L).join(' -> ')}`;
  };

  const line = (s: Step): string => {
    switch (s.kind) {
      case 'forward': {
        const n = s.node;
        const x = n.inputs[0]!;
        const clamp = q.clamps.get(n.name)!;
        switch (n.op) {
          case 'conv2d':
          case 'dense': {
            const sl = slot(n);
            if (sl.nz) return `${sparseFwd(n, String(A(x)), n.outShape[0] * n.outShape[1], String(A(n.output)), scratchOf(s))}; // ${L(n)} (sparse)`;
            return (
              `conv2dForwardS8(${A(x)}, ${inGeom(n).join(', ')}, ${zp(x)}, ${sl.wq}, ${sl.bq}, ${sl.mult}, ${sl.shift}, ` +
              `${A(n.output)}, ${outGeom(n)}, ${zp(n.output)}, ${clamp.lo}, ${clamp.hi}, ${kGeom(n)}, ${sl.wq2}, ${sl.split}); // ${L(n)}`
            );
          }
          case 'add': {
            const m = q.adds.get(n.name)!;
            const b = n.inputs[1]!;
            return `addS8(${A(x)}, ${zp(x)}, ${m.ma}, ${A(b)}, ${zp(b)}, ${m.mb}, ${m.n}, ${A(n.output)}, ${zp(n.output)}, ` + `${clamp.lo}, ${clamp.hi}, ${count(n)}); // ${L(n)}`;
          }
          case 'avgpool':
          case 'globalavgpool': {
            const m = q.pools.get(n.name)!;
            const pg = poolGeom(n);
            const [H, W, C] = n.inShapes[0]!;
            return (
              `avgpoolForwardS8(${A(x)}, ${H}, ${W}, ${C}, ${zp(x)}, ${A(n.output)}, ${n.outShape[0]}, ${n.outShape[1]}, ` +
              `${zp(n.output)}, ${pg.ph}, ${pg.pw}, ${pg.stride}, ${m.m}, ${m.n}); // ${L(n)}`
            );
          }
          case 'relu':
          case 'relu6':
            return `clampS8(${A(x)}, ${A(n.output)}, ${count(n)}, ${clamp.lo}, ${clamp.hi}); // ${L(n)}`;
          case 'flatten':
            return `// ${L(n)}: flatten is a view`;
        }
        break;
      }
      case 'forwardStream':
        return emitStream(s.nodes, s.rings, scratchOf(s));
      case 'saveSlice': {
        const n = s.node;
        const [H, W, C] = inGeom(n);
        return `saveChannelsS8(${A(n.inputs[0]!)}, ${H * W}, ${C}, ${s.channels}, ${mem(s.writes[0]!)}); // ${L(n)}: input channels the weight gradient needs`;
      }
      case 'saveMask': {
        const n = s.node;
        return `saveMaskBits(${A(n.output)}, ${count(n)}, ${q.clamps.get(n.name)!.lo}, ${passHi(n)}, ${mem(s.writes[0]!)}); // ${L(n)}`;
      }
      case 'loss':
        return `loss = softmaxCrossEntropyS8(${A(logits)}, ${classes}, ${f32(sc(logits))}, ${zp(logits)}, label, ${G(logits)});`;
      case 'mask': {
        const n = s.node;
        return s.fromBits
          ? `clampBackwardBitsF32(${G(n.output)}, ${mem(s.reads[0]!)}, ${count(n)}); // ${L(n)}`
          : `clampBackwardF32(${G(n.output)}, ${A(n.output)}, ${count(n)}, ${q.clamps.get(n.name)!.lo}, ${passHi(n)}); // ${L(n)}`;
      }
      case 'gapHeadBackward': {
        const h = s.head;
        const sl = slot(h);
        const P = h.outShape[0] * h.outShape[1];
        const bits = s.reads.find((k) => k.startsWith('mask:'));
        const bg = s.writes.find((k) => k.startsWith('bgrad:'));
        if (sl.nz) {
          return (
            `sparseGapHeadBackwardF32(${G(s.node.output)}, ${P}, ${h.outShape[2]}, ${bits ? mem(bits) : 0}, ${sl.nz}, ${sl.nzFormat}, ${sl.wScale}, ${h.inShapes[0]![2]}, ` +
            `${s.target ? G(s.target) : 0}, ${s.accumulate}, ${bg ? mem(bg) : 0}, ${mem(s.writes[s.writes.length - 1]!)}); // ${L(s.node)} + ${L(h)} (sparse)`
          );
        }
        return (
          `gapHeadBackwardF32(${G(s.node.output)}, ${P}, ${h.outShape[2]}, ${bits ? mem(bits) : 0}, ${sl.wq}, ${sl.wScale}, ${h.inShapes[0]![2]}, ` +
          `${sl.wq2}, ${sl.split}, ${s.target ? G(s.target) : 0}, ${s.accumulate}, ${bg ? mem(bg) : 0}, ${mem(s.writes[s.writes.length - 1]!)}); // ${L(s.node)} + ${L(h)}`
        );
      }
      case 'inputGrad': {
        const n = s.node;
        const acc = (k: number): string => String(s.accumulate[k]);
        switch (n.op) {
          case 'conv2d':
          case 'dense': {
            const sl = slot(n);
            if (s.inPlace) {
              const c = n.conv!;
              const [H, W, C] = n.inShapes[0]!;
              return (
                `depthwiseBackwardInputInPlaceF32(${G(n.output)}, ${H}, ${W}, ${C}, ${sl.wq}, ${sl.wScale}, ${c.kh}, ${c.kw}, ${c.pad}, ` +
                `${sl.wq2}, ${sl.split}, ${mem(s.writes[1]!)}); // ${L(n)}: in place`
              );
            }
            if (sl.nz) {
              return (
                `sparse1x1BackwardInputF32(${G(n.output)}, ${n.outShape[0] * n.outShape[1]}, ${n.outShape[2]}, ${sl.nz}, ${sl.nzFormat}, ${sl.wScale}, ` +
                `${G(s.targets[0]!)}, ${inGeom(n)[2]}, ${acc(0)}, ${scratchOf(s)}); // ${L(n)} (sparse)`
              );
            }
            return (
              `conv2dBackwardInputF32(${G(n.output)}, ${outGeom(n)}, ${sl.wq}, ${sl.wScale}, ${G(s.targets[0]!)}, ${inGeom(n).join(', ')}, ` +
              `${kGeom(n)}, ${acc(0)}, ${sl.wq2}, ${sl.split}); // ${L(n)}`
            );
          }
          case 'avgpool':
          case 'globalavgpool': {
            const pg = poolGeom(n);
            const [H, W, C] = n.inShapes[0]!;
            return (
              `avgpoolBackwardF32(${G(n.output)}, ${n.outShape[0]}, ${n.outShape[1]}, ${G(s.targets[0]!)}, ${H}, ${W}, ${C}, ` +
              `${pg.ph}, ${pg.pw}, ${pg.stride}, ${acc(0)}); // ${L(n)}`
            );
          }
          case 'add':
          case 'relu':
          case 'relu6':
            return s.targets.map((t, k) => `gradInto(${G(n.output)}, ${G(t)}, ${count(n)}, ${acc(k)});`).join(' ') + ` // ${L(n)}`;
          case 'flatten':
            return `// ${L(n)}: flatten is a view`;
        }
        break;
      }
      case 'weightUpdate':
      case 'weightGrad': {
        const n = s.node;
        const sl = slot(n);
        const x = n.inputs[0]!;
        const [H, W] = inGeom(n);
        const head = `${G(n.output)}, ${outGeom(n)}, ${mem(s.x)}, ${H}, ${W}, ${s.xChannels}, ${zp(x)}, ${inputScale(n)}`;
        return s.kind === 'weightUpdate'
          ? `conv2dWeightUpdateS8(${head}, ${sl.wq}, ${sl.wScale}, ${sl.velW}, ${kGeom(n)}, ${s.channels}, lr, MOMENTUM, QAS, ROUNDING_RNG); // ${L(n)}`
          : `conv2dWeightGradF32(${head}, ${kGeom(n)}, ${s.channels}, ${mem(s.writes[0]!)}); // ${L(n)}`;
      }
      case 'applyWeight': {
        const n = s.node;
        const sl = slot(n);
        return (
          `applyWeightUpdateS8(${mem(s.reads[0]!)}, ${s.gradChannels}, ${n.outShape[2]}, ${kShape(n)}, ${sl.wq}, ${sl.wScale}, ${sl.velW}, ` +
          `${s.channels}, lr, MOMENTUM, QAS, ROUNDING_RNG); // ${L(n)}`
        );
      }
      case 'biasUpdate':
      case 'biasGrad':
      case 'applyBias': {
        const n = s.node;
        const sl = slot(n);
        const P = n.outShape[0] * n.outShape[1];
        const CO = n.outShape[2];
        const tail = `${sl.bq}, ${sl.wScale}, ${inputScale(n)}, ${sl.velB}, lr, MOMENTUM, QAS, ROUNDING_RNG); // ${L(n)}`;
        if (s.kind === 'biasUpdate') return `biasUpdateAllS32(${G(n.output)}, ${P}, ${CO}, ${tail}`;
        if (s.kind === 'biasGrad') return `biasGradF32(${G(n.output)}, ${P}, ${CO}, ${mem(s.writes[0]!)}); // ${L(n)}`;
        return `applyBiasUpdateS32(${mem(s.reads[0]!)}, ${CO}, ${tail}`;
      }
    }
    throw new Error(`codegen: no emitter for ${s.kind}`);
  };

  // Each program step's line starts with a comment naming its index: the plain builds
  // ignore it, the on-demand profiling build (host/profile/) turns it into a timing call.
  const tagged = (i: number): string => `/*step ${i}*/ ${line(p.steps[i]!)}`;
  const fwd = p.steps.slice(0, p.lossStep).map((_, i) => tagged(i));
  const bwd = p.steps.slice(p.lossStep + 1).map((_, i) => tagged(p.lossStep + 1 + i));
  const velocity = [...layout.slots.values()].flatMap((s) => [s.velW, s.velB]).filter((v) => v > 0);
  const optStart = velocity.length ? Math.min(...velocity) : layout.stateOffset;
  const ind = (xs: string[]): string => xs.map((x) => '  ' + x).join('\n');

  const source = `// Generated by tinytrain. Do not edit: recompile instead. Layers are named by label (manifest.json: nodes).
import {
  conv2dForwardS8, conv2dForwardRowsS8, conv2dBackwardInputF32, depthwiseBackwardInputInPlaceF32, gapHeadBackwardF32, conv2dWeightUpdateS8, conv2dWeightGradF32, applyWeightUpdateS8,
  biasUpdateAllS32, biasGradF32, applyBiasUpdateS32, saveChannelsS8, saveMaskBits, clampBackwardBitsF32,
  avgpoolForwardS8, avgpoolBackwardF32, addS8, clampS8, clampBackwardF32, gradInto,
  argmaxS8, softmaxCrossEntropyS8, rngSeed, sparse1x1ForwardS8, sparse1x1BackwardInputF32, sparseGapHeadBackwardF32, resetNonFiniteGradients, nonFiniteGradientCount,
} from './kernels/index';

const STATE: usize = ${layout.stateOffset};
const MOMENTUM: f32 = ${f32(o.momentum)};
const QAS: bool = ${o.qas};
/** Where update kernels draw rounding noise: the runtime's rng (stochastic rounding), or 0 = round to nearest. */
const ROUNDING_RNG: usize = ${o.rounding === 'stochastic' ? 'STATE' : '0'};
const LOGITS: usize = ${A(logits)};

/** Resets optimizer and runtime state; parameters are whatever the image/checkpoint holds. */
export function init(seed: u32): void {
  memory.fill(${optStart}, 0, ${layout.stateOffset - optStart});
  rngSeed(STATE, seed);
  store<u32>(STATE + 4, 0);
  store<u32>(STATE + 8, 0);
  store<i32>(STATE + 12, -1);
  store<u32>(STATE + 16, 0);
}

${helpers.join('\n\n')}

function forward(): void {
${ind(fwd)}
}

function backward(label: i32, lr: f32): f32 {
  let loss: f32 = 0;
  ${tagged(p.lossStep)}
  // Divergence guard: a non-finite loss (or learning rate) updates nothing and is counted.
  if (!isFinite(loss) || !isFinite(lr)) {
    store<u32>(STATE + 8, load<u32>(STATE + 8) + 1);
    return loss;
  }
  // Non-finite gradients of single parameters are dropped by the update kernels (they are
  // fused into backward, so the step cannot be undone as a whole); count such steps.
  resetNonFiniteGradients();
${ind(bwd)}
  if (nonFiniteGradientCount() > 0) store<u32>(STATE + 16, load<u32>(STATE + 16) + 1);
  store<u32>(STATE + 4, load<u32>(STATE + 4) + 1);
  return loss;
}

/** Forward pass on the int8 input at the manifest's input offset; returns the class. */
export function predict(): i32 {
  forward();
  return argmaxS8(LOGITS, ${classes});
}

/** One SGD step on the sample at the input offset. Returns the loss. */
export function trainStep(label: i32, lr: f32): f32 {
  forward();
  store<i32>(STATE + 12, argmaxS8(LOGITS, ${classes}));
  return backward(label, lr);
}

export function lastPrediction(): i32 { return load<i32>(STATE + 12); }
export function stepsDone(): u32 { return load<u32>(STATE + 4); }
export function stepsSkipped(): u32 { return load<u32>(STATE + 8); }
/** Steps in which some parameter's gradient was non-finite (that parameter was left unchanged). */
export function stepsNonFinite(): u32 { return load<u32>(STATE + 16); }
/** End of the compiler's static data: must lie inside the fixed linear memory. */
export function heapBase(): usize { return __heap_base; }
/** The artifact layout this module was generated for (manifest.json "layoutId", as a number). */
export function layoutId(): u64 { return ${layoutIdLiteral(o.layoutId)}; }
`;
  return assertNoUserText(source, [q.graph.name, ...q.graph.nodes.map((n) => n.name)], emitterText());
}

let ownText: string | undefined;
/** The emitter's own text (its template and helpers): words a plain layer name may share with the source. */
function emitterText(): string {
  return (ownText ??= emitRuntime.toString());
}
