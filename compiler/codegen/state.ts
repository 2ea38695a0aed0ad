/**
 * How the runtime template reads and writes the state record at STATE: by field name,
 * with offsets and types from its one description, RUNTIME_STATE
 * (compiler/formats/runtime-state.ts). It is part of the checkpoint, so an offset may
 * never move without a new checkpoint format.
 */
import { RUNTIME_STATE } from '../formats/runtime-state.js';

export type StateFieldName = keyof typeof RUNTIME_STATE.offset;

function fieldType(name: StateFieldName): 'u32' | 'i32' {
  const type = RUNTIME_STATE.fields.find((f) => f.name === name)!.type;
  if (type !== 'u32' && type !== 'i32') throw new Error(`codegen: state field ${name} is ${type}, the template handles u32/i32`);
  return type;
}

/** The field's address in the generated source: `STATE`, `STATE + 4`, ... */
export function stateAt(name: StateFieldName): string {
  const offset = RUNTIME_STATE.offset[name];
  return offset === 0 ? 'STATE' : `STATE + ${offset}`;
}

/** `load<u32>(STATE + 4)`: the field's value in the generated source. */
export function loadState(name: StateFieldName): string {
  return `load<${fieldType(name)}>(${stateAt(name)})`;
}

/** `store<u32>(STATE + 4, value)`. */
export function storeState(name: StateFieldName, value: string): string {
  return `store<${fieldType(name)}>(${stateAt(name)}, ${value})`;
}
