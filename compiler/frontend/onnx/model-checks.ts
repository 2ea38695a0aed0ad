/**
 * What the importer accepts before it reads a single tensor: an ONNX model (graph, IR
 * version, opsets), its standard-domain opset, and, node by node, an op of the standard
 * domain whose definition in that opset tinytrain implements.
 */
import { TinytrainError } from '../../errors.js';
import { nodeError } from './ir.js';
import { isKnownOp, isSupportedVersion, MAX_OPSET, MIN_OPSET, resolveVersion, SUPPORTED_OPS_TEXT } from './opsets.js';
import { SCHEMA_IR_VERSION, type OnnxGraph, type OnnxModel, type OnnxNode } from './proto.js';

/** The names of ONNX's standard operator domain. */
const DEFAULT_DOMAINS = new Set(['', 'ai.onnx']);

export function checkModel(m: OnnxModel, where: string): OnnxGraph {
  if (!m.graph || m.ir_version === undefined || !m.opset_import?.length) {
    throw new TinytrainError(
      `${where}: not an ONNX model (${!m.graph ? 'no graph' : m.ir_version === undefined ? 'no IR version' : 'no opset import'})`,
      'give a .onnx file saved by torch.onnx.export, onnx.save or another ONNX exporter',
    );
  }
  if (!Number.isInteger(m.ir_version) || m.ir_version < 3 || m.ir_version > SCHEMA_IR_VERSION) {
    throw new TinytrainError(
      `${where}: ONNX IR version ${m.ir_version} is not supported`,
      `tinytrain reads IR versions 3-${SCHEMA_IR_VERSION} (ONNX 1.17 and older); re-export with an older opset/IR or update the vendored onnx.proto`,
    );
  }
  return m.graph;
}

export function defaultOpset(m: OnnxModel, where: string): number {
  const entries = m.opset_import.filter((o) => DEFAULT_DOMAINS.has(o.domain ?? ''));
  if (entries.length !== 1) {
    throw new TinytrainError(`${where}: ${entries.length === 0 ? 'no opset is declared for the standard domain ai.onnx' : "the standard domain's opset is declared twice"}`);
  }
  const v = entries[0]!.version ?? 0;
  if (!Number.isInteger(v) || v < 1) throw new TinytrainError(`${where}: invalid opset version ${v}`);
  if (v > MAX_OPSET) {
    throw new TinytrainError(
      `${where}: opset ${v} is newer than this importer knows (ONNX 1.17: opsets up to ${MAX_OPSET})`,
      `re-export with opset_version between ${MIN_OPSET} and ${MAX_OPSET}`,
    );
  }
  return v;
}

/** The definition (since_version) of `node`'s op in effect at `opset`, if tinytrain implements it. */
export function supportedVersion(node: OnnxNode, label: string, opset: number): number {
  const op = node.op_type ?? '';
  const domain = node.domain ?? '';
  if (!DEFAULT_DOMAINS.has(domain)) {
    throw nodeError(label, `op '${domain}.${op}' (domain '${domain}') is not supported`, `tinytrain supports ONNX standard ops: ${SUPPORTED_OPS_TEXT}`);
  }
  if (!isKnownOp(op)) throw nodeError(label, `op ${op || '(empty)'} is not supported`, `supported: ${SUPPORTED_OPS_TEXT}`);
  const version = resolveVersion(op, opset);
  if (version === undefined || !isSupportedVersion(op, version)) {
    throw nodeError(
      label,
      `${op} as defined in opset ${opset} (${op}-${version ?? 'none'}) is not supported`,
      `tinytrain implements the definitions in effect in opsets ${MIN_OPSET}-${MAX_OPSET}; convert the model with onnx.version_converter`,
    );
  }
  return version;
}
