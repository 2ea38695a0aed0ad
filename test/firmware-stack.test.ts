/**
 * The firmware's stack bound (host/firmware/stack-bound.ts) on call graphs written in the
 * form arm-none-eabi-gcc 12 writes with -fcallgraph-info=su (the node, edge and frame
 * lines below are that format: checked against its output for recursion, an indirect call
 * and a variable-length array). The bound on real firmware, and the real peak inside it,
 * are checked in firmware.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { analyseStack, EXCEPTION_FRAME_BYTES, LIBRARY_LEAF_BYTES, stackBytesToLink } from '../host/firmware/stack-bound.js';

const fn = (title: string, bytes: number, kind = 'static'): string => `node: { title: "${title}" label: "${title.split(':').pop()}\\nfile.c:1:1\\n${bytes} bytes (${kind})" }`;
const ext = (title: string): string => `node: { title: "${title}" label: "${title}\\nfile.h:1:1" shape : ellipse }`;
const call = (from: string, to: string): string => `edge: { sourcename: "${from}" targetname: "${to}" label: "file.c:2:3" }`;
const graph = (...lines: string[]): string => ['graph: { title: "file.c"', ...lines, '}'].join('\n');

describe('analyseStack', () => {
  it('takes the deepest chain from Reset_Handler, across objects, with static functions by file', () => {
    const a = graph(fn('Reset_Handler', 8), ext('main'), call('Reset_Handler', 'main'));
    const b = graph(
      fn('main', 480),
      fn('/src/k.c:small', 100),
      fn('/src/k.c:big', 2400),
      call('main', '/src/k.c:small'),
      call('main', '/src/k.c:big'),
      call('/src/k.c:small', '/src/k.c:big'),
      ext('memset'),
      call('/src/k.c:big', 'memset'),
    );
    const r = analyseStack([a, b]);
    expect(r).toEqual({
      bounded: true,
      bytes: 8 + 480 + 100 + 2400 + LIBRARY_LEAF_BYTES,
      chain: [
        { fn: 'Reset_Handler', bytes: 8 },
        { fn: 'main', bytes: 480 },
        { fn: 'small', bytes: 100 },
        { fn: 'big', bytes: 2400 },
        { fn: 'memset', bytes: LIBRARY_LEAF_BYTES },
      ],
    });
  });

  it('adds one exception frame and the worst handler per preemption level', () => {
    const r = analyseStack([
      graph(
        fn('Reset_Handler', 16),
        fn('SysTick_Handler', 0),
        fn('HardFault_Handler', 8),
        fn('UsageFault_Handler', 24),
        fn('NMI_Handler', 8),
        fn('/s/startup.c:fault', 16),
        call('UsageFault_Handler', '/s/startup.c:fault'),
        call('NMI_Handler', '/s/startup.c:fault'),
      ),
    ]);
    // thread 16; SysTick 0; the worse fault handler (Usage 24 + fault 16); NMI 8 + 16.
    expect(r.bounded && r.bytes).toBe(16 + (EXCEPTION_FRAME_BYTES + 0) + (EXCEPTION_FRAME_BYTES + 40) + (EXCEPTION_FRAME_BYTES + 24));
  });

  it('accepts a dynamically sized frame GCC bounds', () => {
    const r = analyseStack([graph(fn('Reset_Handler', 64, 'dynamic,bounded'))]);
    expect(r).toEqual({ bounded: true, bytes: 64, chain: [{ fn: 'Reset_Handler', bytes: 64 }] });
  });

  it.each([
    ['recursion', [fn('Reset_Handler', 8), fn('a', 8), fn('b', 8), call('Reset_Handler', 'a'), call('a', 'b'), call('b', 'a')], 'recursion through a'],
    ['an indirect call', [fn('Reset_Handler', 8), ext('__indirect_call'), call('Reset_Handler', '__indirect_call')], 'Reset_Handler makes an indirect call'],
    ['an unbounded frame', [fn('Reset_Handler', 8), fn('/s/x.c:vla', 8, 'dynamic'), call('Reset_Handler', '/s/x.c:vla')], 'vla has a dynamically sized stack frame'],
    ['an unknown library routine', [fn('Reset_Handler', 8), ext('printf'), call('Reset_Handler', 'printf')], 'printf is called but is neither'],
    ['no entry point', [fn('main', 8)], 'no Reset_Handler'],
  ])('gives up, saying why, on %s', (_, lines, reason) => {
    const r = analyseStack([graph(...lines)]);
    expect(r.bounded).toBe(false);
    expect(!r.bounded && r.reason).toContain(reason);
  });

  it('links the bound rounded up to the stack alignment', () => {
    expect([stackBytesToLink(4208), stackBytesToLink(4209), stackBytesToLink(4216)]).toEqual([4208, 4216, 4216]);
  });
});
