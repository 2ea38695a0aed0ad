/**
 * The bounds a model or scheme must stay within, in one place. They are generous (far
 * beyond what fits any target in targets/index.ts) but finite, so that a hostile or
 * careless file fails with a clear message before the planner or the AssemblyScript
 * compiler starts, rather than exhausting memory or time on the way there.
 */
export const LIMITS = Object.freeze({
  /** Layers in one model (MobileNetV2 has 66). */
  maxLayers: 4096,
  /** Characters in a model, layer or scheme name (ONNX node names can be long paths). */
  maxNameLength: 256,
  /** Characters of the free-form `notes`. */
  maxNotesLength: 65536,
  /** Height or width of any tensor. */
  maxSpatial: 4096,
  /** Channels of any tensor (a flattened tensor counts as channels too). */
  maxChannels: 1 << 20,
  /** Elements of any one tensor (its float32 gradient is 4x this in bytes: 256 MiB). */
  maxTensorElements: 1 << 26,
  /** Kernel height/width of a conv, and its padding. */
  maxKernel: 64,
  /** Stride of a conv or pool. */
  maxStride: 64,
  /** Float parameters (weights and biases) of the whole model: 256 MiB of float32. */
  maxParameters: 1 << 26,
  /** |value| of any real-valued range or quantisation scale: finite and representable in float32. */
  maxAbsReal: 3.4e38,
  /** Bytes of a model file (JSON with base64 params of maxParameters floats fits). */
  maxModelFileBytes: 512 * 1024 * 1024,
  /** Bytes of a scheme file. */
  maxSchemeFileBytes: 16 * 1024 * 1024,
  /** Smallest quantisation scale (a float32 normal number, so 1/scale stays finite). */
  minScale: 1.2e-38,
});
