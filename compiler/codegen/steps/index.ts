/**
 * One emitter per program step kind. The table is keyed by the closed set of step kinds,
 * so a new kind does not compile until it has an emitter. A step of an op's own (its
 * kernel call: forward, input and parameter gradients, updates) is written by the op
 * (op-steps.ts); the rest are the compiler's own, the same for every op.
 */
import type { Step } from '../../autodiff/program.js';
import type { EmitContext } from '../context.js';
import { gapHeadBackward, loss, mask, saveMask, saveSlice } from './backward.js';
import { opStep } from './op-steps.js';
import { forwardStream } from './stream.js';
import type { StepEmitter } from './types.js';

export const STEP_EMITTERS: { [K in Step['kind']]: StepEmitter<K> } = {
  forward: opStep('forward'),
  forwardStream,
  saveSlice,
  saveMask,
  loss,
  mask,
  gapHeadBackward,
  inputGrad: opStep('inputGrad'),
  weightUpdate: opStep('weightUpdate'),
  weightGrad: opStep('weightGrad'),
  biasUpdate: opStep('biasUpdate'),
  biasGrad: opStep('biasGrad'),
  applyWeight: opStep('applyWeight'),
  applyBias: opStep('applyBias'),
};

/** One step as one line of AssemblyScript. */
export function emitStep(s: Step, c: EmitContext): string {
  const emit = STEP_EMITTERS[s.kind] as StepEmitter<Step['kind']> | undefined;
  if (!emit) throw new Error(`codegen: no emitter for ${s.kind}`);
  return emit(s as never, c);
}
