/**
 * One emitter per program step kind. The table is keyed by the closed set of step kinds,
 * so a new kind does not compile until it has an emitter.
 */
import type { Step } from '../../autodiff/program.js';
import type { EmitContext } from '../context.js';
import { applyBias, applyWeight, biasGrad, biasUpdate, weightGrad, weightUpdate } from './update.js';
import { gapHeadBackward, inputGrad, loss, mask, saveMask, saveSlice } from './backward.js';
import { forward } from './forward.js';
import { forwardStream } from './stream.js';
import type { StepEmitter } from './types.js';

export const STEP_EMITTERS: { [K in Step['kind']]: StepEmitter<K> } = {
  forward,
  forwardStream,
  saveSlice,
  saveMask,
  loss,
  mask,
  gapHeadBackward,
  inputGrad,
  weightUpdate,
  weightGrad,
  biasUpdate,
  biasGrad,
  applyWeight,
  applyBias,
};

/** One step as one line of AssemblyScript. */
export function emitStep(s: Step, c: EmitContext): string {
  const emit = STEP_EMITTERS[s.kind] as StepEmitter<Step['kind']> | undefined;
  if (!emit) throw new Error(`codegen: no emitter for ${s.kind}`);
  return emit(s as never, c);
}
