/**
 * The runtime's state record at STATE (layout.stateOffset, STATE_BYTES long): written
 * here once, read by the runtime template by field name. It is part of the checkpoint,
 * so an offset may never move without a new checkpoint format.
 */
import { STATE_BYTES } from '../memory/layout.js';

export interface StateField {
  /** Byte offset from STATE. */
  offset: number;
  type: 'u32' | 'i32';
  doc: string;
}

export const STATE_FIELDS = {
  rng: { offset: 0, type: 'u32', doc: 'xorshift state of the stochastic rounding (assembly/kernels/rng.ts)' },
  stepsDone: { offset: 4, type: 'u32', doc: 'training steps completed' },
  stepsSkipped: { offset: 8, type: 'u32', doc: 'steps skipped by the divergence guard (non-finite loss or learning rate)' },
  lastPrediction: { offset: 12, type: 'i32', doc: 'class predicted by the last training step (-1: none yet)' },
  stepsNonFinite: { offset: 16, type: 'u32', doc: 'steps in which some parameter gradient was non-finite' },
} as const satisfies Record<string, StateField>;

export type StateFieldName = keyof typeof STATE_FIELDS;

for (const [name, f] of Object.entries(STATE_FIELDS)) {
  if (f.offset + 4 > STATE_BYTES) throw new Error(`codegen: state field ${name} ends past STATE_BYTES (${STATE_BYTES})`);
}

/** The field's address in the generated source: `STATE`, `STATE + 4`, ... */
export function stateAt(name: StateFieldName): string {
  const { offset } = STATE_FIELDS[name];
  return offset === 0 ? 'STATE' : `STATE + ${offset}`;
}

/** `load<u32>(STATE + 4)`: the field's value in the generated source. */
export function loadState(name: StateFieldName): string {
  return `load<${STATE_FIELDS[name].type}>(${stateAt(name)})`;
}

/** `store<u32>(STATE + 4, value)`. */
export function storeState(name: StateFieldName, value: string): string {
  return `store<${STATE_FIELDS[name].type}>(${stateAt(name)}, ${value})`;
}
