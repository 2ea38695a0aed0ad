/**
 * forwardStream: a chain of frozen convs computed row by row. Each intermediate tensor i
 * has a counter of rows produced, and ensure_i(n) produces rows until n exist, first
 * making sure the rows they read exist. The last node's rows are pulled one at a time
 * into its (whole) output. The chain becomes helper functions above forward(); the step
 * itself is one call.
 */
import type { BufferKey } from '../../autodiff/program.js';
import type { Node } from '../../ir/graph.js';
import { opOf } from '../../ops/registry.js';
import { scratchOf, type EmitContext } from '../context.js';
import type { StepOf } from './types.js';

/** One output row of a streamed op: the op's own code (OpDef.codegen.forwardRows; every streamable op has it). */
function rowsCall(c: EmitContext, n: Node, x: number, y: number, row: string, inRing: number, outRing: number, scratch: number): string {
  return opOf(n).codegen.forwardRows!(c, n, x, y, row, inRing, outRing, scratch);
}

/** Input rows `consumer` needs to produce output row `row`: the bottom of its kernel window, clipped to the input. */
function rowsNeeded(consumer: Node, row: string): string {
  const k = consumer.conv!;
  return `min<i32>(${consumer.inShapes[0]![0]}, ${row} * ${k.sh} - ${k.pads[0]} + ${k.kh})`;
}

export function forwardStream(s: StepOf<'forwardStream'>, c: EmitContext): string {
  const { nodes, rings } = s;
  const scratch = scratchOf(c, s);
  const id = `stream${c.helpers.length}`;
  const ring = (i: number): number => c.mem(`ring:${nodes[i]!.output}` as BufferKey);
  const fns: string[] = [`// ${nodes.map(c.label).join(' -> ')}: intermediate tensors in rings of ${rings.join(', ')} rows`];
  for (let i = 0; i < nodes.length - 1; i++) {
    const n = nodes[i]!;
    const x = i === 0 ? c.act(n.inputs[0]!) : ring(i - 1);
    fns.push(`let ${id}_rows${i}: i32 = 0;`);
    fns.push(`function ${id}_ensure${i}(n: i32): void {
  while (${id}_rows${i} < n) {
    ${i > 0 ? `${id}_ensure${i - 1}(${rowsNeeded(n, `${id}_rows${i}`)});` : ''}
    ${rowsCall(c, n, x, ring(i), `${id}_rows${i}`, i > 0 ? rings[i - 1]! : 0, rings[i]!, scratch)};
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
    ${id}_ensure${k}(${rowsNeeded(last, 'r')});
    ${rowsCall(c, last, ring(k), c.act(last.output), 'r', rings[k]!, 0, scratch)};
  }
}`);
  c.helpers.push(fns.join('\n'));
  return `${id}(); // ${nodes.map(c.label).join(' -> ')}`;
}
