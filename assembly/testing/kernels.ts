// Exposes the kernel library directly so tests can call each kernel on their own buffers
// (the host writes inputs into linear memory at offsets it chooses).
export * from '../kernels/index';
export { rngSeed } from '../kernels/rng';
// The plain reference kernels every shipped kernel is checked against (test library only).
export * from '../kernels/reference/index';
