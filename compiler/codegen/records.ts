/**
 * The kernels' parameter records in the frozen image. Every kernel call a step emits
 * (EmitContext.call) writes its record here, one after the other in the order the steps
 * are emitted, at the end of the frozen region (compiler/memory/layout.ts).
 *
 * A record holds arena and trained-region addresses, which come after the frozen region,
 * so the region's size must be known before they are: planning emits the steps once to
 * size it (sizes never depend on addresses), lays the memory out with that room, emits
 * them again to fill it, and the image holds the records from then on (the layout id
 * covers them). emitRuntime emits the same steps a last time and checks every record
 * against the image, so the source can never point at a record that is not there.
 */
import type { Program } from '../autodiff/program.js';
import type { ArenaPlan } from '../memory/planner.js';
import { IMAGE_BASE, type MemoryLayout } from '../memory/layout.js';
import type { QuantModel } from '../quantize/quantize.js';
import { makeEmitContext } from './context.js';
import { emitStep } from './steps/index.js';

/** Where the records of one emission go: laid out from `base`, or (checking) compared with the image already holding them. */
export class RecordSink {
  private readonly parts: Uint8Array[] = [];
  private bytes = 0;

  private constructor(
    private readonly base: number,
    private readonly expected?: Uint8Array,
  ) {}

  /** Records laid out from `base` (planning). */
  static collecting(base: number): RecordSink {
    return new RecordSink(base);
  }

  /** Records checked against the layout's image (emission). */
  static checking(layout: MemoryLayout): RecordSink {
    const at = layout.recordsOffset - IMAGE_BASE;
    return new RecordSink(layout.recordsOffset, layout.image.subarray(at, at + layout.recordBytes));
  }

  /** The address of a record with these bytes: the next one in the region. */
  place(record: Uint8Array): number {
    const at = this.base + this.bytes;
    if (this.expected) {
      const want = this.expected.subarray(this.bytes, this.bytes + record.length);
      if (want.length !== record.length || want.some((v, i) => v !== record[i])) {
        throw new Error(`codegen: the kernel record at ${at} is not the one planned (emitRuntime needs planModel's layout and its arena base)`);
      }
    }
    this.parts.push(record);
    this.bytes += record.length;
    return at;
  }

  /** Everything placed, in order. */
  contents(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Checking: the emission placed exactly the records the image holds. */
  finish(): void {
    if (this.expected && this.bytes !== this.expected.length) throw new Error(`codegen: ${this.bytes} B of kernel records emitted, ${this.expected.length} B planned`);
  }
}

/** The records of every step of `p` with memory laid out as `layout` (the arena at its end, as compile() places it). */
function recordsOf(q: QuantModel, p: Program, arena: ArenaPlan, layout: MemoryLayout): Uint8Array {
  const sink = RecordSink.collecting(layout.recordsOffset);
  const c = makeEmitContext(q, p, arena, layout, layout.trainEnd, sink);
  for (const s of p.steps) emitStep(s, c);
  return sink.contents();
}

/**
 * The memory layout with the kernel records in its frozen region: `layoutFor(recordBytes)`
 * lays memory out keeping that much room for them (layoutParams with the plan's options).
 */
export function layoutWithRecords(q: QuantModel, p: Program, arena: ArenaPlan, layoutFor: (recordBytes: number) => MemoryLayout): MemoryLayout {
  const size = recordsOf(q, p, arena, layoutFor(0)).length;
  const layout = layoutFor(size);
  const records = recordsOf(q, p, arena, layout);
  if (records.length !== size) throw new Error(`codegen: the kernel records took ${records.length} B, ${size} B were planned`);
  layout.image.set(records, layout.recordsOffset - IMAGE_BASE);
  return layout;
}
