/**
 * The firmware's worst-case stack, from GCC's call graph (`-fcallgraph-info=su`: one `.ci`
 * file per object, VCG text, each function's frame size and its calls).
 *
 *   bound = deepest call chain from Reset_Handler
 *         + for each preemption level (SysTick, then a fault, then NMI): the exception
 *           frame the core pushes + the deepest chain of that level's handlers
 *
 * The linker reserves exactly this (rounded up to 8 B), so an overflow cannot happen
 * rather than being detected; the firmware's painted-stack high-water mark is checked
 * against it in test/firmware.test.ts. The analysis gives up (and the build keeps the
 * target's reserve) on anything it cannot bound: recursion, indirect calls, dynamically
 * sized frames, or a routine outside our sources that is not a known library leaf.
 */

/** One function's frame on the worst chain. */
export interface StackFrame {
  fn: string;
  bytes: number;
}

export type StackAnalysis = { bounded: true; bytes: number; chain: StackFrame[] } | { bounded: false; reason: string };

/**
 * The routines the firmware links from libgcc and newlib-nano (soft double arithmetic, mem*,
 * str*) have no call graph of ours. They are leaves; the largest frame among them in the
 * linked ELF is a 16 B `push {r4, r5, r6, lr}` (arm-none-eabi-objdump, 2026-12-04), and
 * test/firmware-stack.test.ts checks every one of them against this allowance.
 */
export const LIBRARY_LEAF_BYTES = 32;
const LIBRARY_LEAF = /^(__aeabi_[a-z0-9]+|mem(cpy|move|set|cmp)|str(len|cmp))$/;
export const isLibraryLeaf = (name: string): boolean => LIBRARY_LEAF.test(name);

/** Exception entry on a core with an FPU: the extended frame (26 words) plus one word of 8-byte alignment padding. */
export const EXCEPTION_FRAME_BYTES = 108;

const THREAD_ENTRY = 'Reset_Handler';
/** Handlers by what can preempt what: SysTick (the only interrupt), a fault inside it (MemManage, BusFault and UsageFault are not enabled, so they escalate to HardFault), and NMI. */
const PREEMPTION_LEVELS = [['SysTick_Handler'], ['HardFault_Handler', 'MemManage_Handler', 'BusFault_Handler', 'UsageFault_Handler', 'Unexpected_Handler'], ['NMI_Handler']];

interface CallGraph {
  frames: Map<string, number>;
  calls: Map<string, Set<string>>;
}

const NODE = /^node: \{ title: "([^"]*)" label: "([^"]*)"/;
const EDGE = /^edge: \{ sourcename: "([^"]*)" targetname: "([^"]*)"/;
// GCC writes "N bytes (static)", "N bytes (dynamic,bounded)" or "N bytes (dynamic)" in the label.
const FRAME = /\\n(\d+) bytes \(([a-z,]+)\)/;

/** The worst-case stack of the program whose objects' `.ci` texts these are. */
export function analyseStack(ciTexts: string[]): StackAnalysis {
  let graph: CallGraph;
  try {
    graph = readCallGraph(ciTexts);
  } catch (e) {
    return { bounded: false, reason: (e as Error).message };
  }
  const memo = new Map<string, { bytes: number; chain: StackFrame[] }>();
  const deepest = (fn: string, onPath: Set<string>): { bytes: number; chain: StackFrame[] } => {
    const known = memo.get(fn);
    if (known) return known;
    if (onPath.has(fn)) throw new Error(`recursion through ${shortName(fn)}`);
    const own = frameOf(graph, fn);
    onPath.add(fn);
    let below = { bytes: 0, chain: [] as StackFrame[] };
    for (const callee of graph.calls.get(fn) ?? []) {
      const c = deepest(callee, onPath);
      if (c.bytes > below.bytes) below = c;
    }
    onPath.delete(fn);
    const r = { bytes: own + below.bytes, chain: [{ fn: shortName(fn), bytes: own }, ...below.chain] };
    memo.set(fn, r);
    return r;
  };
  try {
    if (!graph.frames.has(THREAD_ENTRY)) return { bounded: false, reason: `no ${THREAD_ENTRY} in the call graph` };
    const thread = deepest(THREAD_ENTRY, new Set());
    let bytes = thread.bytes;
    const chain = [...thread.chain];
    for (const level of PREEMPTION_LEVELS) {
      const handlers = level.filter((h) => graph.frames.has(h)).map((h) => deepest(h, new Set()));
      if (!handlers.length) continue;
      const worst = handlers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
      bytes += EXCEPTION_FRAME_BYTES + worst.bytes;
      chain.push({ fn: '(exception frame)', bytes: EXCEPTION_FRAME_BYTES }, ...worst.chain);
    }
    return { bounded: true, bytes, chain };
  } catch (e) {
    return { bounded: false, reason: (e as Error).message };
  }
}

function readCallGraph(ciTexts: string[]): CallGraph {
  const frames = new Map<string, number>();
  const calls = new Map<string, Set<string>>();
  for (const text of ciTexts) {
    for (const line of text.split('\n')) {
      const node = NODE.exec(line);
      if (node) {
        const frame = FRAME.exec(node[2]!);
        if (!frame) continue; // a callee declared here, defined elsewhere (or in a library)
        if (frame[2] === 'dynamic') throw new Error(`${shortName(node[1]!)} has a dynamically sized stack frame`);
        frames.set(node[1]!, Number(frame[1]));
        continue;
      }
      const edge = EDGE.exec(line);
      if (edge) {
        if (edge[2] === '__indirect_call') throw new Error(`${shortName(edge[1]!)} makes an indirect call`);
        let set = calls.get(edge[1]!);
        if (!set) calls.set(edge[1]!, (set = new Set()));
        set.add(edge[2]!);
      }
    }
  }
  return { frames, calls };
}

function frameOf(g: CallGraph, fn: string): number {
  const own = g.frames.get(fn);
  if (own !== undefined) return own;
  if (isLibraryLeaf(fn)) return LIBRARY_LEAF_BYTES;
  throw new Error(`${fn} is called but is neither in the firmware's sources nor a known library leaf routine`);
}

/** A static function's title is "path/file.c:name"; the name is what a reader needs. */
function shortName(title: string): string {
  const i = title.lastIndexOf(':');
  return i < 0 ? title : title.slice(i + 1);
}

/** The reserve to link: the bound rounded up to the stack's 8-byte alignment. */
export function stackBytesToLink(bytes: number): number {
  return Math.ceil(bytes / 8) * 8;
}
