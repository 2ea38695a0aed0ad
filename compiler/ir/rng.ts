/**
 * Small deterministic PRNG (xorshift32) used on the desktop side: weight init, data
 * shuffling. The runtime has its own copy in AssemblyScript with the same recurrence so a
 * seed means the same thing on every engine.
 */
export class Rng {
  private state: number;
  constructor(seed: number) {
    // Zero is a fixed point of xorshift: map it (and mix any seed) to a non-zero state.
    this.state = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0 || 0x6d2b79f5;
  }
  nextU32(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x;
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Fisher-Yates permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextU32() % (i + 1);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }
}
