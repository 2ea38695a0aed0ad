import type { Step } from '../../autodiff/program.js';
import type { EmitContext } from '../context.js';

/** The program step of one kind. */
export type StepOf<K extends Step['kind']> = Extract<Step, { kind: K }>;

/** Emits one program step as one line of AssemblyScript (without its step tag). */
export type StepEmitter<K extends Step['kind']> = (s: StepOf<K>, c: EmitContext) => string;
