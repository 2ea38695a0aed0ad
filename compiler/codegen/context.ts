/**
 * What every step emitter looks up, built once per runtime: buffer addresses, the
 * quantisation of tensors and layers, parameter slots and labels.
 */
import type { Node } from '../ir/graph.js';
import { clampOf } from '../ops/registry.js';
import type { BufferKey, Program, Step } from '../autodiff/program.js';
import { actKeyOf, gradKeyOf } from '../autodiff/program.js';
import { kindOf, type BufferKind } from '../autodiff/steps.js';
import type { ArenaPlan } from '../memory/planner.js';
import type { MemoryLayout, ParamSlots } from '../memory/layout.js';
import type { QuantModel } from '../quantize/quantize.js';
import {
  kernelRecord,
  specRecord,
  type KernelArgs,
  type KernelRecordValues,
  type RecordKernelName,
  type RecordKernelSpec,
  type SpecArgs,
  type SpecRecordValues,
} from '../formats/kernel-records.js';
import { labelsByName } from './labels.js';
import type { RecordSink } from './records.js';

export interface EmitContext {
  q: QuantModel;
  p: Program;
  layout: MemoryLayout;
  /** Address of a planned buffer. */
  mem(k: BufferKey): number;
  /** Address of the buffer of a buffer kind among `keys` (a step's reads or writes); 0 if it has none. */
  memOf(keys: readonly BufferKey[], kind: BufferKind): number;
  /** Address of a tensor's int8 activation / float32 gradient. */
  act(t: string): number;
  grad(t: string): number;
  /** A tensor's zero point and scale (views resolved). */
  zp(t: string): number;
  scale(t: string): number;
  /** The node's clamp: its output's int8 range after the activation. */
  clamp(n: Node): { lo: number; hi: number };
  slot(n: Node): ParamSlots;
  /** Addresses of the node's constant tables in the frozen image (its OpDef.constants, in order). */
  constants(n: Node): number[];
  /** The node's label: comments name nodes by label only, a user's name never reaches the source (labels.ts). */
  label(n: Node): string;
  /** The tensor the model's logits are in (views resolved). */
  logits: string;
  /** The loss's target buffer, right after the arena (compiler/loss.ts targetBufferBytes). */
  target: number;
  /**
   * Functions that go above forward() (streamed chains); step emitters append to it, so
   * it is complete only once every step has been emitted.
   */
  helpers: string[];
  /**
   * A call of `kernel`: its parameter record (the typed fields; kernel-records.ts) placed
   * in the frozen image, and the source `kernel(address, ...args)`; `args` are its
   * run-time arguments as source text.
   */
  call<K extends RecordKernelName>(kernel: K, record: KernelRecordValues<K>, ...args: KernelArgs<K, string>): string;
  /** `call` for a kernel an op declares in its own module (OpDef.kernels), by its description. */
  callKernel<S extends RecordKernelSpec>(kernel: S, record: SpecRecordValues<S>, ...args: SpecArgs<S, string>): string;
}

export function makeEmitContext(q: QuantModel, p: Program, plan: ArenaPlan, layout: MemoryLayout, arenaBase: number, records: RecordSink): EmitContext {
  const canon = (t: string): string => p.alias.get(t) ?? t;
  const mem = (k: BufferKey): number => {
    const b = plan.buffers.get(k);
    if (!b) throw new Error(`codegen: buffer ${k} was not planned`);
    return arenaBase + b.offset;
  };
  const labels = labelsByName(q.graph);
  return {
    q,
    p,
    layout,
    mem,
    memOf: (keys, kind) => {
      const k = keys.find((key) => kindOf(key) === kind);
      return k ? mem(k) : 0;
    },
    act: (t) => mem(actKeyOf(p, t)),
    grad: (t) => mem(gradKeyOf(p, t)),
    zp: (t) => q.tensors.get(canon(t))!.zp,
    scale: (t) => q.tensors.get(canon(t))!.scale,
    clamp: (n) => q.clamps.get(n.name)!,
    slot: (n) => layout.slots.get(n.name)!,
    constants: (n) => {
      const at = layout.constants.get(n.name);
      if (!at) throw new Error(`codegen: node ${n.name} has no constant tables`);
      return at;
    },
    label: (n) => labels.get(n.name)!,
    logits: canon(q.graph.output),
    target: arenaBase + plan.arenaBytes,
    helpers: [],
    call: (kernel, record, ...args) => `${kernel}(${[records.place(kernelRecord(kernel, record)), ...args].join(', ')})`,
    callKernel: (kernel, record, ...args) => `${kernel.name}(${[records.place(specRecord(kernel, record)), ...args].join(', ')})`,
  };
}

/** Upper bound of the clamp for backward: ReLU has none, and 128 is above every int8. */
export function passHi(c: EmitContext, n: Node): number {
  return clampOf(n) === 'relu6' ? c.clamp(n).hi : 128;
}

/** The scale of the node's input (weight and bias gradients are in its units). */
export function inputScale(c: EmitContext, n: Node): number {
  return c.scale(n.inputs[0]!);
}

/** The pruned kernels' scratch a step was planned with (0: none). */
export function scratchOf(c: EmitContext, s: Step): number {
  return c.memOf(s.writes, 'scratch');
}
