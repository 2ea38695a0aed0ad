/** Numbers as AssemblyScript literals: the only way a float or the layout id reaches the source. */

/** An f32 constant that parses back to exactly the same float32. */
export function f32(v: number): string {
  // Scales come from user data; the schema bounds them, this is the last line of defence.
  if (!Number.isFinite(Math.fround(v))) throw new Error(`codegen: f32 constant ${v} is not a finite float32`);
  const s = Math.fround(v).toString();
  return `<f32>${s.includes('.') || s.includes('e') ? s : s + '.0'}`;
}

/** A layoutId as a u64 literal; anything but 16 hex digits is a compiler bug, never pasted. */
export function layoutIdLiteral(id: string): string {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new Error(`codegen: layoutId must be 16 hex digits, got ${JSON.stringify(id)}`);
  return `0x${id}`;
}
