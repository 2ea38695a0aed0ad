/**
 * The whole kernel library: the shared kernels of kernel-records.ts and every registered
 * op's own (OpDef.kernels, declared with their records in the op's module), so a new op
 * adds its kernels without editing the shared table. The generated files
 * (generate-kernels.ts), the test harness and a runtime's imports list them from here.
 *
 * Functions, not constants: the registry's table exists only once the op modules have
 * loaded (registry.ts), and this module is inside their import cycle.
 */
import type { Node } from '../ir/graph.js';
import { allOps, opOf } from '../ops/registry.js';
import { KERNELS, KERNEL_RECORDS, type KernelSpec, type RecordFormat } from './kernel-records.js';

/**
 * The kernels ops declare in their own modules, in the registry's order, each once: the ops
 * of one family (the table activations) name the same declarations.
 */
export function opKernels(): readonly KernelSpec[] {
  const list = [...new Set(allOps().flatMap((d) => d.kernels ?? []))];
  for (const k of list) {
    if (KERNELS.some((x) => x.name === k.name) || list.filter((x) => x.name === k.name).length > 1) throw new Error(`internal: kernel ${k.name} is declared twice`);
  }
  return list;
}

/** Every kernel: the shared ones, then the ops' own. */
export function libraryKernels(): readonly KernelSpec[] {
  return [...KERNELS, ...opKernels()];
}

/** Every view and record: the shared ones, then those of the ops' own kernels (each record after its view, each once). */
export function libraryRecords(): readonly RecordFormat[] {
  const list = [...KERNEL_RECORDS];
  const add = (r: RecordFormat): void => {
    const same = list.find((x) => x.id === r.id);
    if (same && same !== r) throw new Error(`internal: two kernel records are named ${r.id}`);
    if (!same) list.push(r);
  };
  for (const k of opKernels()) {
    if (!k.record) continue;
    if (k.record.view) add(k.record.view);
    add(k.record);
  }
  return list;
}

/** The ops' own kernels a graph's nodes may call (the runtime imports them besides the shared ones). */
export function opKernelsOf(nodes: readonly Node[]): readonly KernelSpec[] {
  return [...new Set(nodes.flatMap((n) => opOf(n).kernels ?? []))];
}
