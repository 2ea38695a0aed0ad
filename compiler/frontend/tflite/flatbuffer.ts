/**
 * Bounds-checked reading of a FlatBuffer, over the `flatbuffers` npm runtime's ByteBuffer.
 *
 * The runtime reads whatever offset it is given (a read past the end gives `undefined`
 * bytes, not an error), and generated accessors trust every offset in the file. A .tflite
 * file is untrusted input, so every position is checked here before it is read: the
 * root offset, each table's vtable (inside the file, its size even and at least 4, the
 * table's inline size inside the file), each field (inside its table), each offset field's
 * target and each vector's length (its bytes inside the file). A truncated or hostile file
 * gives a TinytrainError saying which table and field is broken, never a crash, a hang or
 * an allocation larger than the file: a vector is a view of the file's bytes, and tables
 * are decoded one at a time when asked for.
 */
import { ByteBuffer } from 'flatbuffers';
import { TinytrainError } from '../../errors.js';

const NOT_TFLITE_HINT = 'the file is truncated or damaged, or is not a TFLite flatbuffer (a .tflite file written by the TFLite/LiteRT converter)';

/** Most bytes of a string field decoded (tensor names in converted models can be long lists). */
const MAX_STRING_BYTES = 4096;

export class FbReader {
  readonly bb: ByteBuffer;
  readonly size: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly where: string,
  ) {
    this.bb = new ByteBuffer(bytes);
    this.size = bytes.length;
  }

  fail(what: string): never {
    throw new TinytrainError(`${this.where}: ${what}`, NOT_TFLITE_HINT);
  }

  /** `length` bytes at `pos` lie inside the file. */
  check(pos: number, length: number, what: string): void {
    if (!(pos >= 0 && length >= 0 && pos + length <= this.size)) this.fail(`${what} lies outside the file (bytes ${pos}..${pos + length} of ${this.size})`);
  }

  root(what: string): FbTable {
    this.check(0, 8, 'the root offset and file identifier');
    return this.table(this.bb.readUint32(0), what);
  }

  table(pos: number, what: string): FbTable {
    return new FbTable(this, pos, what);
  }
}

/** A vector's place in the file: `length` elements from `start`. */
export interface FbVector {
  start: number;
  length: number;
}

export class FbTable {
  private readonly vtable: number;
  private readonly vsize: number;
  private readonly tsize: number;

  constructor(
    readonly r: FbReader,
    readonly pos: number,
    readonly what: string,
  ) {
    r.check(pos, 4, what);
    this.vtable = pos - r.bb.readInt32(pos);
    r.check(this.vtable, 4, `the vtable of ${what}`);
    this.vsize = r.bb.readUint16(this.vtable);
    this.tsize = r.bb.readUint16(this.vtable + 2);
    if (this.vsize < 4 || this.vsize % 2 !== 0) r.fail(`the vtable of ${what} has an invalid size ${this.vsize}`);
    r.check(this.vtable, this.vsize, `the vtable of ${what}`);
    if (this.tsize < 4) r.fail(`${what} has an invalid inline size ${this.tsize}`);
    r.check(pos, this.tsize, what);
  }

  /** Absolute position of field `id` (its `width` bytes checked to lie in the table), or 0 when absent. */
  private field(id: number, width: number): number {
    const slot = 4 + 2 * id;
    if (slot + 2 > this.vsize) return 0;
    const off = this.r.bb.readUint16(this.vtable + slot);
    if (off === 0) return 0;
    if (off + width > this.tsize) this.r.fail(`field ${id} of ${this.what} lies outside the table`);
    return this.pos + off;
  }

  has(id: number): boolean {
    return this.field(id, 1) !== 0;
  }

  int8(id: number, dflt = 0): number {
    const p = this.field(id, 1);
    return p ? this.r.bb.readInt8(p) : dflt;
  }

  uint8(id: number, dflt = 0): number {
    const p = this.field(id, 1);
    return p ? this.r.bb.readUint8(p) : dflt;
  }

  bool(id: number, dflt = false): boolean {
    const p = this.field(id, 1);
    return p ? this.r.bb.readUint8(p) !== 0 : dflt;
  }

  int32(id: number, dflt = 0): number {
    const p = this.field(id, 4);
    return p ? this.r.bb.readInt32(p) : dflt;
  }

  uint32(id: number, dflt = 0): number {
    const p = this.field(id, 4);
    return p ? this.r.bb.readUint32(p) : dflt;
  }

  float32(id: number, dflt = 0): number {
    const p = this.field(id, 4);
    return p ? this.r.bb.readFloat32(p) : dflt;
  }

  /** A uint64 field as a number; beyond 2^53 it cannot be a position in a file we read. */
  uint64(id: number, dflt = 0): number {
    const p = this.field(id, 8);
    if (!p) return dflt;
    const v = this.r.bb.readUint64(p);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.r.fail(`field ${id} of ${this.what} is ${v}, out of range`);
    return Number(v);
  }

  /** Where an offset field points (checked to lie in the file), or 0 when absent. */
  private target(id: number, what: string): number {
    const p = this.field(id, 4);
    if (!p) return 0;
    const t = p + this.r.bb.readUint32(p);
    this.r.check(t, 4, what);
    return t;
  }

  subtable(id: number, what: string): FbTable | null {
    const t = this.target(id, what);
    return t ? this.r.table(t, what) : null;
  }

  /** A vector of `elemSize`-byte elements, its bytes checked to lie in the file. */
  vector(id: number, elemSize: number, what: string): FbVector | null {
    const t = this.target(id, what);
    if (!t) return null;
    const length = this.r.bb.readUint32(t);
    if (length > (this.r.size - t - 4) / elemSize) this.r.fail(`${what}: a vector of ${length} elements does not fit in the file`);
    return { start: t + 4, length };
  }

  /** A [ubyte] field as a view of the file (no copy). */
  bytes(id: number, what: string): Uint8Array | null {
    const v = this.vector(id, 1, what);
    return v ? this.r.bytes.subarray(v.start, v.start + v.length) : null;
  }

  /** A vector read into numbers: at most `max` elements, so a hostile length cannot allocate more than the caller expects. */
  private bounded(id: number, elemSize: number, what: string, max: number): FbVector | null {
    const v = this.vector(id, elemSize, what);
    if (v && v.length > max) this.r.fail(`${what} has ${v.length} elements, more than the ${max} it can have`);
    return v;
  }

  int32s(id: number, what: string, max: number): number[] | null {
    const v = this.bounded(id, 4, what, max);
    if (!v) return null;
    return Array.from({ length: v.length }, (_, i) => this.r.bb.readInt32(v.start + 4 * i));
  }

  float32s(id: number, what: string, max: number): number[] | null {
    const v = this.bounded(id, 4, what, max);
    if (!v) return null;
    return Array.from({ length: v.length }, (_, i) => this.r.bb.readFloat32(v.start + 4 * i));
  }

  /** An int64 vector; values beyond 2^53 are refused (no quantisation parameter is that large). */
  int64s(id: number, what: string, max: number): number[] | null {
    const v = this.bounded(id, 8, what, max);
    if (!v) return null;
    return Array.from({ length: v.length }, (_, i) => {
      const x = this.r.bb.readInt64(v.start + 8 * i);
      if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < BigInt(Number.MIN_SAFE_INTEGER)) this.r.fail(`${what}: value ${x} is out of range`);
      return Number(x);
    });
  }

  /** UTF-8 string field ('' when absent); longer ones are cut at MAX_STRING_BYTES. */
  string(id: number, what: string): string {
    const b = this.bytes(id, what);
    if (!b) return '';
    return new TextDecoder('utf-8', { fatal: false }).decode(b.subarray(0, MAX_STRING_BYTES));
  }

  /** Element `i` of a vector of tables (`v` from vector(id, 4, ...)). */
  tableAt(v: FbVector, i: number, what: string): FbTable {
    if (!(i >= 0 && i < v.length)) this.r.fail(`${what}: index ${i} is outside the vector of ${v.length}`);
    const p = v.start + 4 * i;
    const t = p + this.r.bb.readUint32(p);
    this.r.check(t, 4, what);
    return this.r.table(t, what);
  }
}
