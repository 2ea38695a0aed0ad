/**
 * Emits the AssemblyScript source of one runtime: straight-line calls into the kernel
 * library, each passing the address of its parameter record (every shape, offset and
 * quantisation constant of the call, in the frozen image: records.ts). The lookups all
 * steps share are in context.ts, each step kind's code in steps/ and the ops' modules,
 * the runtime around them in runtime-template.ts.
 */
import type { Program } from '../autodiff/program.js';
import type { ArenaPlan } from '../memory/planner.js';
import type { MemoryLayout } from '../memory/layout.js';
import type { QuantModel } from '../quantize/quantize.js';
import * as context from './context.js';
import * as geometry from './geometry.js';
import * as literals from './literals.js';
import { assertNoUserText } from './no-user-text.js';
import { KERNELS, type KernelSpec } from '../formats/kernel-records.js';

/** The loss kernel a program calls when it is one the runtime imports on demand (KernelSpec.onDemand). */
function lossKernels(loss: Program['loss']): KernelSpec[] {
  const name = loss === 'bce' ? 'sigmoidBceS8' : loss === 'mse' ? 'meanSquaredErrorS8' : undefined;
  return KERNELS.filter((k) => k.name === name);
}
import { RecordSink } from './records.js';
import * as template from './runtime-template.js';
import * as state from './state.js';
import { allOps } from '../ops/registry.js';
import { opKernelsOf } from '../formats/kernel-library.js';
import * as convKernels from '../ops/conv-kernels.js';
import * as gradientPass from '../ops/gradient-pass.js';
import * as poolKernels from '../ops/pool-kernels.js';
import * as backward from './steps/backward.js';
import { emitStep } from './steps/index.js';
import * as stream from './steps/stream.js';

export interface EmitOptions {
  arenaBase: number;
  momentum: number;
  qas: boolean;
  rounding: 'stochastic' | 'nearest';
  /** The manifest's layoutId (16 hex digits): the runtime reports it so hosts can match module and manifest. */
  layoutId: string;
}

/**
 * The runtime's source for a plan from planModel: its layout already holds the kernel
 * records the steps call (records.ts), and each is checked to be the one emitted here.
 */
export function emitRuntime(q: QuantModel, p: Program, plan: ArenaPlan, layout: MemoryLayout, o: EmitOptions): string {
  const records = RecordSink.checking(layout);
  const c = context.makeEmitContext(q, p, plan, layout, o.arenaBase, records);
  // Each program step's line starts with a comment naming its index: the plain builds
  // ignore it, the on-demand profiling build (host/profile/) turns it into a timing call.
  // In program order: the order records.ts placed the kernel records in.
  const lines = p.steps.map((s, i) => `/*step ${i}*/ ${emitStep(s, c)}`);
  records.finish();
  const velocity = [...layout.slots.values()].flatMap((s) => [s.velW, s.velB]).filter((v) => v > 0);
  const source = template.runtimeTemplate({
    stateOffset: layout.stateOffset,
    optStart: velocity.length ? Math.min(...velocity) : layout.stateOffset,
    momentum: o.momentum,
    qas: o.qas,
    rounding: o.rounding,
    logitsAddress: c.act(c.logits),
    classes: q.graph.classes,
    prediction: p.loss === 'bce' && q.graph.classes === 1 ? `<i32>(<i32>load<i8>(LOGITS) > ${c.zp(c.logits)})` : `argmaxS8(LOGITS, ${q.graph.classes})`,
    layoutId: o.layoutId,
    opKernels: [...opKernelsOf(q.graph.nodes), ...lossKernels(p.loss)],
    helpers: c.helpers,
    forward: lines.slice(0, p.lossStep),
    loss: lines[p.lossStep]!,
    backward: lines.slice(p.lossStep + 1),
  });
  return assertNoUserText(source, [q.graph.name, ...q.graph.nodes.map((n) => n.name)], emitterText());
}

let ownText: string | undefined;
/**
 * The emitter's own text (its template and every function that writes source, each op's
 * code among them): words a plain layer name may share with the source. Taken from the
 * modules' exports and the ops' codegen, so an emitter added to one of them is included
 * without being listed here.
 */
function emitterText(): string {
  const ops = allOps().map((op) => op.codegen);
  const modules = [context, geometry, literals, template, state, stream, backward, convKernels, poolKernels, gradientPass, ...ops];
  const own = modules.flatMap((m) => Object.values(m).map((v) => (typeof v === 'function' ? v.toString() : (JSON.stringify(v) ?? ''))));
  return (ownText ??= [emitRuntime.toString(), ...own].join('\n'));
}
