/**
 * Reads the declared linear-memory limits of a WASM binary (memory section, id 5) so a
 * host can check the "initial = maximum" promise and cap its engine at exactly that.
 */
export interface MemoryLimits { initialPages: number; maximumPages?: number }

export function wasmMemoryLimits(wasm: Uint8Array): MemoryLimits {
  let p = 8; // magic + version
  const leb = (): number => {
    let v = 0, shift = 0, b: number;
    do { b = wasm[p++]!; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    return v;
  };
  while (p < wasm.length) {
    const id = wasm[p++]!;
    const size = leb();
    const end = p + size;
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
