/**
 * Reads the declared linear-memory limits of a WASM binary (memory section, id 5) so a
 * host can check the "initial = maximum" promise and cap its engine at exactly that.
 * The bytes may be anything a user's folder holds: every read is bounds-checked and a
 * malformed module is an Error, never a hang or a garbage answer.
 */
export interface MemoryLimits {
  initialPages: number;
  maximumPages?: number;
}

export function wasmMemoryLimits(wasm: Uint8Array): MemoryLimits {
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) {
    throw new Error('tinytrain: not a WebAssembly module (no \\0asm header)');
  }
  let p = 8; // magic + version
  const byte = (): number => {
    if (p >= wasm.length) throw new Error('tinytrain: the module is truncated');
    return wasm[p++]!;
  };
  const leb = (): number => {
    let v = 0,
      shift = 0,
      b: number;
    do {
      if (shift > 28) throw new Error('tinytrain: malformed LEB128 number in the module');
      b = byte();
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return v;
  };
  while (p < wasm.length) {
    const id = byte();
    const size = leb();
    const end = p + size;
    if (end > wasm.length) throw new Error('tinytrain: the module is truncated');
    if (id === 5) {
      if (leb() !== 1) throw new Error('tinytrain: a runtime module must declare exactly one memory');
      const flags = leb();
      const initialPages = leb();
      return flags & 1 ? { initialPages, maximumPages: leb() } : { initialPages };
    }
    p = end;
  }
  throw new Error('tinytrain: the module declares no memory of its own');
}
