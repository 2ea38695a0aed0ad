/** Imported ops -> a tinytrain ModelSpec (layers, float params, the model's own int8 quantisation). */
import type { Layer, ModelSpec, QuantizationSpec } from '../../ir/model.js';
import { f32ToBase64 } from '../../ir/params.js';
import { isExplicit, isUniform, type Pads } from '../../ops/padding.js';
import type { ImportContext, IrOp } from './ir.js';

/** Layer names end up in schemes, manifests and reports (never in code: labels are used there): keep them plain. */
export function safeName(raw: string, fallback: string): string {
  const s = raw
    .replace(/[^A-Za-z0-9_.\-/:]/g, '_')
    .replace(/^[/_.:-]+/, '')
    .slice(0, 64);
  return s || fallback;
}

const SHARES_INPUT_QUANT = new Set(['flatten', 'relu', 'relu6']);

export interface EmitOptions {
  name: string;
  input: [number, number, number];
  inputRange: [number, number];
  outputActivation?: 'softmax' | 'logsoftmax';
  notes: string;
}

export function emitSpec(ctx: ImportContext, o: EmitOptions): ModelSpec {
  const names = new Map<number, string>([[0, 'input']]);
  const used = new Set(['input']);
  const layers: Layer[] = [];
  const params: NonNullable<ModelSpec['params']> = {};
  const tensors: NonNullable<QuantizationSpec['tensors']> = {};
  const weights: NonNullable<QuantizationSpec['weights']> = {};
  const inQ = ctx.acts[0]!.quant;
  if (inQ) tensors.input = { scale: inQ.scale, zeroPoint: inQ.zp };
  ctx.ops.forEach((op, i) => {
    if (op.removed) return;
    let name = safeName(op.name, `${op.kind}_${i}`);
    if (used.has(name)) {
      let k = 2;
      while (used.has(`${name}_${k}`)) k++;
      name = `${name}_${k}`;
    }
    used.add(name);
    names.set(op.output, name);
    const inputs = op.inputs.map((x) => names.get(x)!);
    layers.push(layerOf(op, name, inputs));
    if (op.weight) params[name] = { weight: f32ToBase64(op.weight), bias: f32ToBase64(op.bias!) };
    if (op.wScales) weights[name] = Array.from(op.wScales);
    const q = ctx.acts[op.output]!.quant;
    if (q && !SHARES_INPUT_QUANT.has(op.kind)) tensors[name] = { scale: q.scale, zeroPoint: q.zp };
    checkBias(ctx, op);
  });
  const quantization: QuantizationSpec = {};
  if (Object.keys(tensors).length) quantization.tensors = tensors;
  if (Object.keys(weights).length) quantization.weights = weights;
  return {
    format: 'tinytrain-model@1',
    name: o.name,
    input: o.input,
    inputRange: o.inputRange,
    layers,
    params,
    ...(Object.keys(quantization).length ? { quantization } : {}),
    ...(o.outputActivation ? { outputActivation: o.outputActivation } : {}),
    notes: o.notes,
  };
}

/** A pool's size and stride fields: one number where both axes agree (as the files written before per-axis windows had them), else [rows, columns]. */
function poolWindow(op: IrOp): { size: number | [number, number]; stride: number | [number, number] } {
  const { ph, pw, sh, sw } = op.pool!;
  return { size: ph === pw ? ph : [ph, pw], stride: sh === sw ? sh : [sh, sw] };
}

/** An avgpool's padding fields, absent when it pads nothing (as the files written before padding had them). */
function avgpoolPadding(op: IrOp): { padding?: 'same' | Pads; countIncludePad?: boolean } {
  const { padding, countIncludePad } = op.pool!;
  if (padding === undefined || padding === 'valid' || (isExplicit(padding) && padding.every((p) => p === 0))) return {};
  return { padding, ...(countIncludePad && { countIncludePad: true }) };
}

function layerOf(op: IrOp, name: string, inputs: string[]): Layer {
  switch (op.kind) {
    case 'conv2d': {
      const c = op.conv!;
      return {
        op: 'conv2d',
        name,
        inputs,
        filters: c.filters,
        kernel: c.kh === c.kw ? c.kh : [c.kh, c.kw],
        stride: c.sh === c.sw ? c.sh : [c.sh, c.sw],
        padding: isUniform(c.pads) ? c.pads[0] : c.pads,
        groups: c.depthwise ? 'depthwise' : 1,
        activation: op.activation,
      };
    }
    case 'dense':
      return { op: 'dense', name, inputs, units: op.units!, activation: op.activation };
    case 'add':
      return { op: 'add', name, inputs: inputs as [string, string], activation: op.activation };
    case 'mul':
      return { op: 'mul', name, inputs: inputs as [string, string], activation: op.activation };
    case 'concat':
      return { op: 'concat', name, inputs };
    case 'avgpool':
      return { op: 'avgpool', name, inputs, ...poolWindow(op), ...avgpoolPadding(op) };
    case 'maxpool':
      return { op: 'maxpool', name, inputs, ...poolWindow(op), padding: op.pool!.padding ?? 'valid' };
    case 'leakyrelu':
      return { op: 'leakyrelu', name, inputs, alpha: op.fn!.alpha! };
    case 'clampmin':
      return { op: 'clampmin', name, inputs, min: op.fn!.alpha! };
    case 'prelu':
      return { op: 'prelu', name, inputs, alpha: op.slopes! };
    case 'padchannels':
      return { op: 'padchannels', name, inputs, after: op.padAfter! };
    case 'hardsigmoid':
      return { op: 'hardsigmoid', name, inputs, alpha: op.fn!.alpha!, beta: op.fn!.beta! };
    case 'sigmoid':
    case 'hardswish':
    case 'silu':
    case 'globalavgpool':
    case 'relu':
    case 'relu6':
    case 'flatten':
      return { op: op.kind, name, inputs };
    case 'affine':
      throw new Error('affine ops are folded before emission');
  }
}

/**
 * A QDQ bias is int32 at some scale; tinytrain stores it at s_in * s_w. When the model's
 * bias scale is that product (as quantisers make it), re-quantising the float bias gives
 * back the same integers; say so when it does not.
 */
function checkBias(ctx: ImportContext, op: IrOp): void {
  const inQ = ctx.acts[op.inputs[0]!]!.quant;
  if (!op.qBias || !op.wScales || !inQ) return;
  let differ = 0;
  for (let c = 0; c < op.bias!.length; c++) {
    const ours = Math.round(op.bias![c]! / (inQ.scale * Math.fround(op.wScales[c]!)));
    if (ours !== op.qBias.ints[c]) differ++;
  }
  if (differ > 0) {
    ctx.warnings.push(`${op.node}: ${differ} int32 bias value(s) change when re-quantised at input scale x weight scale (the model's bias scale is not that product)`);
  }
}
