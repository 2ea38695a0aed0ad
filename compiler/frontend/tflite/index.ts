/** The TFLite frontend: importTflite (bytes -> ModelSpec) and what callers need to recognise a .tflite file. */
export { importTflite, type TfliteImport, type TfliteImportOptions } from './import.js';
export { SUPPORTED_OPS_TEXT } from './ops/index.js';
export { hasTfliteIdentifier } from './model.js';
