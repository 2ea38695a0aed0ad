/** The ONNX frontend: importOnnx (bytes -> ModelSpec) and the layout helpers hosts need. */
export { importOnnx, type OnnxImport, type OnnxImportOptions } from './import.js';
export { nchwToHwc, hwcToNchw } from './layout.js';
export { SUPPORTED_OPS, SUPPORTED_OPS_TEXT, MIN_OPSET, MAX_OPSET } from './opsets.js';
