/**
 * The steps whose code each op writes itself (OpDef.codegen, compiler/ops/<op>.ts): the
 * emitter for such a step kind asks the step's op, and hands it the constants its
 * `prepare` made at quantisation.
 */
import type { Node } from '../../ir/graph.js';
import { opOf } from '../../ops/registry.js';
import type { OpStepKind } from '../../ops/types.js';
import type { EmitContext } from '../context.js';
import type { StepEmitter, StepOf } from './types.js';

export function opStep<K extends OpStepKind>(kind: K): StepEmitter<K> {
  return (s, c) => {
    const node = (s as { node: Node }).node; // every OpStepKind step has one
    const op = opOf(node);
    // The op's own code for its own step: `data` is what that op's prepare returned.
    const code = op.codegen[kind] as ((s: StepOf<K>, c: EmitContext, data: unknown) => string) | undefined;
    if (!code) throw new Error(`codegen: op ${op.kind} has no code for a ${kind} step`);
    return code(s, c, c.q.opData.get(node.name));
  };
}
