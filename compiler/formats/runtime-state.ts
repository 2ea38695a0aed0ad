/**
 * The runtime's state record at manifest.state.offset, inside the checkpoint region (so
 * a checkpoint carries it): the generated runtime (compiler/codegen/emit.ts) reads and
 * writes it at STATE + RUNTIME_STATE.offset.<field>; STATE_BYTES is its size.
 */
import { defineFormat } from './format.js';

export const RUNTIME_STATE = defineFormat('STATE', 'runtime state record (compiler/codegen/emit.ts)', [
  { name: 'rng', type: 'u32', doc: 'the rng state (stochastic rounding, rngSeed)' },
  { name: 'stepsDone', type: 'u32', doc: 'completed training steps' },
  { name: 'stepsSkipped', type: 'u32', doc: 'steps skipped by the divergence guard' },
  { name: 'lastPrediction', type: 'i32', doc: 'argmax of the last step, -1 before the first' },
  { name: 'stepsNonFinite', type: 'u32', doc: 'steps with a non-finite parameter gradient' },
]);
