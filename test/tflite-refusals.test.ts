/**
 * What the TFLite importer accepts and refuses, on files written here with the flatbuffers
 * builder (no interpreter needed: both tiers). Every refusal is a TinytrainError that names
 * the operator by its index and name (or the model-level problem) and says what is
 * supported; every acceptance is checked for what it produced. Also: the loader picks the
 * TFLite frontend by extension or by the "TFL3" identifier, and the CLI reports a refused
 * model without writing anything.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { loadModelFile } from '../compiler/frontend/index.js';
import { importTflite } from '../compiler/frontend/tflite/index.js';
import { base64ToF32 } from '../compiler/ir/params.js';
import { BuiltinOptions, CONV_2D_OPTIONS, DEPTHWISE_CONV_2D_OPTIONS, Op, Padding, SOFTMAX_OPTIONS } from '../compiler/frontend/tflite/schema.js';
import { FLOAT16, FLOAT32, INT16, INT32, INT8, ROOT, UINT8, encodeTflite, f32Bytes, i32Bytes, i8Bytes, type Field, type ModelDef, type TensorDef } from './support/tflite.js';
import { netModel, type NetDef } from './support/tflite-nets.js';

const convOptions = (o: { padding?: number; stride?: number; strideH?: number; act?: number; dilation?: number } = {}): Field[] => [
  [CONV_2D_OPTIONS.padding, 'int8', o.padding ?? Padding.VALID],
  [CONV_2D_OPTIONS.strideW, 'int32', o.stride ?? 1],
  [CONV_2D_OPTIONS.strideH, 'int32', o.strideH ?? o.stride ?? 1],
  [CONV_2D_OPTIONS.fusedActivation, 'int8', o.act ?? 0],
  [CONV_2D_OPTIONS.dilationW, 'int32', o.dilation ?? 1],
  [CONV_2D_OPTIONS.dilationH, 'int32', o.dilation ?? 1],
];

const ramp = (n: number, scale = 0.1): number[] => Array.from({ length: n }, (_, i) => scale * (((i * 7) % 11) - 5));

/** input [1,8,8,1] -> CONV_2D 3x3 VALID (4) -> MEAN over H,W -> FULLY_CONNECTED (3): a valid float model to break. */
function baseDef(): ModelDef {
  const t = (name: string, shape: number[], type = FLOAT32, data?: Uint8Array): TensorDef => ({ name, shape, type, ...(data ? { data } : {}) });
  return {
    tensors: [
      t('input', [1, 8, 8, 1]),
      t('conv/w', [4, 3, 3, 1], FLOAT32, f32Bytes(ramp(36))),
      t('conv/b', [4], FLOAT32, f32Bytes([0.1, -0.1, 0.2, 0])),
      t('conv', [1, 6, 6, 4]),
      t('gap/axes', [2], INT32, i32Bytes([1, 2])),
      t('gap', [1, 4]),
      t('fc/w', [3, 4], FLOAT32, f32Bytes(ramp(12))),
      t('fc/b', [3], FLOAT32, f32Bytes([0, 0, 0])),
      t('logits', [1, 3]),
    ],
    ops: [
      { code: Op.CONV_2D, inputs: [0, 1, 2], outputs: [3], optionsType: BuiltinOptions.Conv2DOptions, options: convOptions() },
      { code: Op.MEAN, inputs: [3, 4], outputs: [5], optionsType: BuiltinOptions.ReducerOptions, options: [[0, 'bool', false]] },
      { code: Op.FULLY_CONNECTED, inputs: [5, 6, 7], outputs: [8], optionsType: BuiltinOptions.FullyConnectedOptions, options: [] },
    ],
    inputs: [0],
    outputs: [8],
  };
}

function withDef(change: (d: ModelDef) => void): Uint8Array {
  const d = baseDef();
  change(d);
  return encodeTflite(d);
}

/**
 * The base model's logits reshaped to `to` at the end, the target computed as a converter
 * writes it: SHAPE(logits) -> STRIDED_SLICE (the batch) -> PACK(batch, the rest) -> RESHAPE.
 * `sliceOf`: the tensor whose shape is taken (default the logits).
 */
function withShapeReshape(d: ModelDef, to: number[], sliceOf = 8): ModelDef {
  const t = (name: string, shape: number[], type: number, data?: Uint8Array): TensorDef => ({ name, shape, type, ...(data ? { data } : {}) });
  const n = d.tensors.length;
  d.tensors.push(
    t('shape', [2], INT32), // n
    t('begin', [1], INT32, i32Bytes([0])),
    t('end', [1], INT32, i32Bytes([1])),
    t('strides', [1], INT32, i32Bytes([1])),
    t('batch', [], INT32), // n + 4
    t('rest', [], INT32, i32Bytes([to[1]!])),
    t('rest2', [], INT32, i32Bytes([to[2] ?? 1])),
    t('target', [to.length], INT32), // n + 7
    t('reshaped', to, FLOAT32), // n + 8
  );
  d.ops.push(
    { code: Op.SHAPE, inputs: [sliceOf], outputs: [n], optionsType: 0, options: [] },
    { code: Op.STRIDED_SLICE, inputs: [n, n + 1, n + 2, n + 3], outputs: [n + 4], optionsType: 0, options: [] },
    { code: Op.PACK, inputs: [n + 4, n + 5, n + 6].slice(0, to.length), outputs: [n + 7], optionsType: 0, options: [] },
    { code: Op.RESHAPE, inputs: [8, n + 7], outputs: [n + 8], optionsType: 0, options: [] },
  );
  d.outputs = [n + 8];
  return d;
}

function refusal(bytes: Uint8Array): TinytrainError {
  try {
    importTflite(bytes);
  } catch (e) {
    if (e instanceof TinytrainError) return e;
    throw e;
  }
  throw new Error('the model was accepted');
}

const message = (change: (d: ModelDef) => void): string => refusal(withDef(change)).message;

/** conv 3x3 (3) -> MEAN, then FULLY_CONNECTED (2) or not: a net to write as an int8 model. */
const smallNet = (withFc: boolean): NetDef => ({
  name: 'n',
  input: [6, 6, 2],
  seed: 1,
  layers: [{ op: 'conv', name: 'c', filters: 3, k: 3 }, { op: 'mean', name: 'g', keepDims: false }, ...(withFc ? [{ op: 'fc' as const, name: 'fc', units: 2 }] : [])],
});

describe('accepts', () => {
  it('the unbroken model, as conv2d -> globalavgpool -> dense with the float weights unchanged', () => {
    const imp = importTflite(encodeTflite(baseDef()));
    expect(imp.spec.layers.map((l) => l.op)).toEqual(['conv2d', 'globalavgpool', 'dense']);
    expect(imp.spec.input).toEqual([8, 8, 1]);
    expect(Array.from(base64ToF32(imp.spec.params!.conv!.weight, 36, 'w'))).toEqual(ramp(36).map(Math.fround)); // OHWI is tinytrain's layout
    expect(imp.warnings).toEqual([]);
  });

  it("a final RESHAPE into any shape, its target computed by SHAPE -> STRIDED_SLICE -> PACK (Keras' Reshape after a dense layer)", () => {
    const imp = importTflite(encodeTflite(withShapeReshape(baseDef(), [1, 3, 1])));
    expect(imp.spec.layers.map((l) => l.op)).toEqual(['conv2d', 'globalavgpool', 'dense']); // the same model: the reshape is a view
    expect(imp.output.shape).toEqual([1, 3, 1]);
    expect(imp.notes.join('\n')).toMatch(/operator #6 \(RESHAPE\): the final reshape of the 3 outputs to \[1,3,1\] keeps their order/);
  });

  it('one output of several, chosen with --model-output: only what it depends on is imported, unsupported operators of the others included', () => {
    // A second head off the pooled features that tinytrain could not take (a SOFTMAX before the end, an unknown builtin).
    const twoHeads = (d: ModelDef): void => {
      d.tensors.push({ name: 'other', shape: [1, 4], type: FLOAT32 }, { name: 'other2', shape: [1, 4], type: FLOAT32 });
      d.ops.push({ code: Op.SOFTMAX, inputs: [5], outputs: [9], optionsType: BuiltinOptions.SoftmaxOptions, options: [[SOFTMAX_OPTIONS.beta, 'float32', 1]] });
      d.ops.push({ code: Op.MEAN + 1000, inputs: [9], outputs: [10], optionsType: 0, options: [] });
      d.outputs = [10, 8];
    };
    const bytes = withDef(twoHeads);
    expect(refusal(bytes).message).toBe("TFLite model: the model has 2 outputs ('other2', 'logits')");
    const imp = importTflite(bytes, { output: 'logits' });
    const alone = importTflite(encodeTflite(baseDef()));
    expect(imp.spec.layers).toEqual(alone.spec.layers);
    expect(imp.spec.params).toEqual(alone.spec.params);
    expect(imp.output.name).toBe('logits');
    expect(imp.notes.join('\n')).toMatch(/2 operator\(s\) that only the other outputs need were dropped/);
    expect(() => importTflite(bytes, { output: 'other2' })).toThrow(/operator #4 \(BUILTIN_OPERATOR_1040\) is not supported/);
  });

  it('old files that only set deprecated_builtin_code, and codes above 127 through builtin_code', () => {
    const legacy = importTflite(
      withDef((d) => {
        for (const op of d.ops) op.legacyCode = true;
      }),
    );
    expect(legacy.spec.layers.map((l) => l.op)).toEqual(['conv2d', 'globalavgpool', 'dense']);
    // Codes above 127 live in builtin_code (deprecated_builtin_code holds the placeholder 127).
    expect(
      message((d) => {
        d.ops[0]!.code = 142;
      }),
    ).toBe('TFLite model: operator #0 (VAR_HANDLE) is not supported');
    expect(
      message((d) => {
        d.ops[0] = { ...d.ops[0]!, code: 142, legacyCode: true };
      }),
    ).toBe('TFLite model: operator #0 (PLACEHOLDER_FOR_GREATER_OP_CODES) is not supported');
  });

  it('constants stored after the flatbuffer (Buffer offset/size), and refuses one that points past the end of the file', () => {
    const inside = importTflite(encodeTflite(baseDef()));
    const file = encodeTflite(baseDef(), true);
    expect(importTflite(file).spec.params).toEqual(inside.spec.params);
    const e = refusal(file.subarray(0, file.length - 8));
    expect(e.message).toMatch(/^TFLite model: the data of buffer \d+ lies outside the file \(bytes \d+\.\.\d+ of \d+\)$/);
  });

  it('a dynamic batch dimension (shape signature -1 at index 0): tinytrain is batch 1', () => {
    const imp = importTflite(
      withDef((d) => {
        d.tensors[0]!.shapeSignature = [-1, 8, 8, 1];
      }),
    );
    expect(imp.spec.input).toEqual([8, 8, 1]);
  });

  it('float16 weights through DEQUANTIZE, widened exactly', () => {
    const halves = [0x3c00, 0xbc00, 0x3800, 0x0001, 0x7bff]; // 1, -1, 0.5, 2^-24, 65504
    const data = new Uint8Array(new Uint16Array([...halves, ...new Array<number>(31).fill(0x3400)]).buffer);
    const imp = importTflite(
      withDef((d) => {
        d.tensors.push({ name: 'conv/w16', shape: [4, 3, 3, 1], type: FLOAT16, data });
        d.tensors[1] = { name: 'conv/w', shape: [4, 3, 3, 1], type: FLOAT32 };
        d.ops.unshift({ code: Op.DEQUANTIZE, inputs: [9], outputs: [1] });
      }),
    );
    expect(Array.from(base64ToF32(imp.spec.params!.conv!.weight, 36, 'w')).slice(0, 6)).toEqual([1, -1, 0.5, 2 ** -24, 65504, 0.25]);
  });

  it('int8 weights on float activations (dynamic-range quantisation): weight scales kept, activations calibrated', () => {
    const imp = importTflite(
      withDef((d) => {
        d.tensors[1] = {
          name: 'conv/w',
          shape: [4, 3, 3, 1],
          type: INT8,
          data: i8Bytes(ramp(36, 10).map(Math.round)),
          quant: { scale: [0.01, 0.02, 0.03, 0.04], zeroPoint: [0, 0, 0, 0], dim: 0 },
        };
      }),
    );
    expect(imp.spec.quantization).toEqual({ weights: { conv: [0.01, 0.02, 0.03, 0.04].map(Math.fround) } });
    expect(imp.notes.join('\n')).toMatch(/operator #0 \(CONV_2D\): int8 weights on float activations/);
  });

  it('an int8 model keeps every scale and zero point; a uint8 input shifted by QUANTIZE onto the same grid is the int8 input', () => {
    const net = smallNet(true);
    const def = netModel(net, { kind: 'int8', ranges: { input: [0, 1], c: [-2, 3], g: [-1, 1], fc: [-4, 4] }, io: 'int8' });
    const imp = importTflite(encodeTflite(def));
    expect(imp.spec.quantization!.tensors!.input).toEqual({ scale: Math.fround(1 / 255), zeroPoint: -128 });
    expect(imp.spec.inputRange![0]).toBe(0);
    expect(imp.spec.inputRange![1]).toBeCloseTo(1, 6);
    expect(imp.spec.quantization!.weights!.c).toHaveLength(3);
    // The same model with a uint8 input (zero point 0) and QUANTIZE to int8 (zero point -128).
    const u8: ModelDef = structuredClone(def);
    u8.tensors.push({ name: 'input_u8', shape: [1, 6, 6, 2], type: UINT8, quant: { scale: [Math.fround(1 / 255)], zeroPoint: [0] } });
    u8.ops.unshift({ code: Op.QUANTIZE, inputs: [u8.tensors.length - 1], outputs: [0] });
    u8.inputs = [u8.tensors.length - 1];
    const imp8 = importTflite(encodeTflite(u8));
    expect(imp8.spec.quantization).toEqual(imp.spec.quantization);
    expect(imp8.notes.join('\n')).toMatch(/uint8 input is shifted to int8/);
  });

  it("an int32 bias means its integers at input x weight scale (as TFLite's kernels use it), whatever scale it declares", () => {
    const def = netModel(smallNet(false), { kind: 'int8', ranges: {}, io: 'int8' });
    const bias = def.tensors.find((t) => t.name === 'c/bias')!;
    const ints = Array.from(new Int32Array(bias.data!.slice().buffer));
    const exact = importTflite(encodeTflite(def));
    expect(exact.warnings).toEqual([]);
    bias.quant!.scale = bias.quant!.scale.map((v) => v * 1.01);
    const off = importTflite(encodeTflite(def));
    expect(off.warnings).toHaveLength(1);
    expect(off.warnings[0]).toMatch(/^operator #0 \(CONV_2D\): bias 'c\/bias' declares the scale .* where input x weight scale is .*; the product is used$/);
    expect(off.spec.params).toEqual(exact.spec.params);
    const sIn = exact.spec.quantization!.tensors!.input!.scale;
    const sW = exact.spec.quantization!.weights!.c!;
    expect(Array.from(base64ToF32(exact.spec.params!.c!.bias, 3, 'b'))).toEqual(ints.map((v, k) => Math.fround(v * sIn * sW[k]!)));
  });

  it('weights at -128 become -127, with a warning', () => {
    const net = { name: 'n', input: [4], seed: 1, layers: [{ op: 'fc' as const, name: 'fc', units: 2 }] };
    const def = netModel(net, { kind: 'int8', ranges: {}, io: 'int8' });
    const w = def.tensors.find((t) => t.name === 'fc/weights')!;
    w.data![0] = 0x80;
    expect(importTflite(encodeTflite(def)).warnings).toEqual([
      "operator #0 (FULLY_CONNECTED): 1 weight value(s) are -128; tinytrain's symmetric int8 weights stop at -127, so they become -127 (one step)",
    ]);
  });
});

describe('refuses, naming the operator and what is supported', () => {
  it('unsupported operators, builtin or custom, at their index', () => {
    const e = refusal(
      withDef((d) => {
        d.ops[1]!.code = Op.MEAN + 1000; // no such builtin
      }),
    );
    expect(e.message).toBe('TFLite model: operator #1 (BUILTIN_OPERATOR_1040) is not supported');
    expect(e.hint).toMatch(
      /^supported: CONV_2D, DEPTHWISE_CONV_2D \(depth_multiplier 1, or any on one input channel\), FULLY_CONNECTED, ADD \(equal shapes\), MUL \(equal shapes, or a map by one value per channel; not by a constant\), CONCATENATION \(along channels\), AVERAGE_POOL_2D, MAX_POOL_2D, MEAN/,
    );
    expect(
      message((d) => {
        d.ops[1] = { code: 12, inputs: [3], outputs: [5] };
      }),
    ).toBe('TFLite model: operator #1 (L2_POOL_2D) is not supported');
    expect(
      message((d) => {
        d.ops[2] = { code: Op.CUSTOM, custom: 'MyDense', inputs: [5], outputs: [8] };
      }),
    ).toBe("TFLite model: operator #2 (CUSTOM 'MyDense') is not supported");
  });

  it('PAD/PADV2: folded into the conv or pool that reads them; refused on other axes, with other values, before other operators', () => {
    /** PAD (paddings p, PADV2's value v) on the input, then the base model's CONV_2D (or `reader`) on the padded map. */
    const padded = (p: number[], o: { v?: number; reader?: (d: ModelDef) => void } = {}) =>
      withDef((d) => {
        const padH = p[2]! + p[3]!,
          padW = p[4]! + p[5]!;
        d.tensors.push({ name: 'pad/p', shape: [4, 2], type: INT32, data: i32Bytes(p) }, { name: 'padded', shape: [1, 8 + padH, 8 + padW, 1], type: FLOAT32 });
        const inputs = [0, 9];
        if (o.v !== undefined) {
          d.tensors.push({ name: 'pad/v', shape: [], type: FLOAT32, data: f32Bytes([o.v]) });
          inputs.push(11);
        }
        d.ops.unshift({ code: o.v === undefined ? Op.PAD : Op.PADV2, inputs, outputs: [10] });
        d.ops[1]!.inputs[0] = 10;
        d.tensors[3]!.shape = [1, 6 + padH, 6 + padW, 4];
        o.reader?.(d);
      });
    const conv = importTflite(padded([0, 0, 1, 1, 1, 1, 0, 0])).spec.layers[0];
    expect(conv).toMatchObject({ op: 'conv2d', padding: 1 });
    expect(importTflite(padded([0, 0, 0, 1, 0, 2, 0, 0])).spec.layers[0]).toMatchObject({ op: 'conv2d', padding: [0, 0, 1, 2] });
    expect(refusal(padded([0, 0, 1, 1, 1, 1, 0, 0], { v: 0.5 })).message).toBe('TFLite model: operator #1 (CONV_2D): reads operator #0 (PADV2), which pads with 0.5');
    // a PAD above and to the right: the conv's leading pads differ (1 row above, no column on the left)
    expect(importTflite(padded([0, 0, 1, 0, 0, 1, 0, 0])).spec.layers[0]).toMatchObject({ op: 'conv2d', padding: [1, 0, 0, 1] });
    expect(refusal(padded([0, 0, 0, 0, 0, 0, 1, 1])).message).toBe(
      "TFLite model: operator #0 (PAD): pads the batch axis or channels before the input's (paddings [0, 0, 0, 0, 0, 0, 1, 1])",
    );
    const intoMean = (d: ModelDef) => {
      d.ops.splice(1, 1);
      d.ops[1]!.inputs[0] = 10;
    };
    expect(refusal(padded([0, 0, 1, 1, 1, 1, 0, 0], { reader: intoMean })).message).toBe('TFLite model: operator #1 (MEAN): reads the output of operator #0 (PAD)');
  });

  it('strides and SAME pads per axis import as they are (the conv kernels take both per axis)', () => {
    const layer = (o: Parameters<typeof convOptions>[0], input: number[], output: number[]) =>
      importTflite(
        withDef((d) => {
          d.tensors[0]!.shape = input;
          d.tensors[3]!.shape = output;
          d.ops[0]!.options = convOptions(o);
        }),
      ).spec.layers[0];
    expect(layer({ stride: 1, strideH: 2 }, [1, 8, 8, 1], [1, 3, 6, 4])).toMatchObject({ op: 'conv2d', stride: [2, 1] });
    // SAME, 3x3 stride 2 on 8x7: rows pad 0 above and 1 below, columns 1 on each side (TF's split, smaller half first)
    expect(layer({ padding: Padding.SAME, stride: 2 }, [1, 8, 7, 1], [1, 4, 4, 4])).toMatchObject({ op: 'conv2d', stride: 2, padding: [0, 1, 1, 1] });
  });

  it('options tinytrain has no layer for', () => {
    const conv = (o: Parameters<typeof convOptions>[0], input = [1, 8, 8, 1]): string =>
      message((d) => {
        d.tensors[0]!.shape = input;
        d.ops[0]!.options = convOptions(o);
      });
    expect(conv({ act: 4 })).toBe('TFLite model: operator #0 (CONV_2D): fused activation TANH is not supported');
    expect(conv({ dilation: 2 })).toBe('TFLite model: operator #0 (CONV_2D): dilation 2x2 is not supported');
    expect(conv({ padding: 2 })).toBe('TFLite model: operator #0 (CONV_2D): padding 2 is neither SAME nor VALID');
    // Options missing altogether read as the schema's defaults: stride 0.
    expect(
      message((d) => {
        delete d.ops[0]!.options;
      }),
    ).toBe('TFLite model: operator #0 (CONV_2D): stride 0 is not supported');
  });

  it('grouped convs and depth multipliers above 1', () => {
    expect(
      message((d) => {
        d.tensors[0]!.shape = [1, 8, 8, 2];
      }),
    ).toBe("TFLite model: operator #0 (CONV_2D): filter 'conv/w' takes 1 input channels, the input has 2 (a grouped conv, 2 groups)");
    const dw = refusal(
      withDef((d) => {
        // 4 outputs from 2 channels: depth multiplier 2 (on one channel it would be a dense conv, and import)
        d.tensors[0]!.shape = [1, 8, 8, 2];
        d.tensors[1]!.shape = [1, 3, 3, 4];
        d.ops[0] = {
          code: Op.DEPTHWISE_CONV_2D,
          inputs: [0, 1, 2],
          outputs: [3],
          optionsType: BuiltinOptions.DepthwiseConv2DOptions,
          options: [
            [DEPTHWISE_CONV_2D_OPTIONS.strideW, 'int32', 1],
            [DEPTHWISE_CONV_2D_OPTIONS.strideH, 'int32', 1],
            [DEPTHWISE_CONV_2D_OPTIONS.padding, 'int8', Padding.VALID],
            [DEPTHWISE_CONV_2D_OPTIONS.depthMultiplier, 'int32', 2],
          ],
        };
      }),
    );
    expect(dw.message).toBe('TFLite model: operator #0 (DEPTHWISE_CONV_2D): depth multiplier 2 (2 input channels, 4 outputs) is not supported');
  });

  it('MAXIMUM of two computed tensors (a constant operand of one value is a clampmin layer)', () => {
    const twoActs = withDef((d) => {
      d.tensors[5]!.shape = [1, 6, 6, 4];
      d.ops[1] = { code: Op.MAXIMUM, inputs: [3, 3], outputs: [5], optionsType: 0, options: [] };
    });
    expect(refusal(twoActs).message).toBe('TFLite model: operator #1 (MAXIMUM): takes the maximum of two computed tensors');
  });

  it('SHAPE arithmetic anywhere but a RESHAPE target; STRIDED_SLICE and PACK on activations', () => {
    const onActivation = withShapeReshape(baseDef(), [1, 3, 1]);
    onActivation.ops[4]!.inputs[0] = 3; // STRIDED_SLICE of the conv's output, not of its shape
    expect(refusal(encodeTflite(onActivation)).message).toBe('TFLite model: operator #4 (STRIDED_SLICE): input 0 is an activation');
    const readByAdd = withShapeReshape(baseDef(), [1, 3]);
    readByAdd.ops[6] = { ...readByAdd.ops[6]!, code: Op.ADD, optionsType: BuiltinOptions.AddOptions, options: [] }; // logits + the PACK output
    expect(refusal(encodeTflite(readByAdd)).message).toBe('TFLite model: operator #6 (ADD): reads the shape arithmetic of operator #5 (PACK)');
  });

  it('operators in places tinytrain cannot take them', () => {
    // SOFTMAX before the end; SOFTMAX with beta 2.
    const softmaxFirst = (beta: number, then: boolean): string =>
      message((d) => {
        d.tensors.push({ name: 'p', shape: [1, 3], type: FLOAT32 });
        d.ops.push({ code: Op.SOFTMAX, inputs: [8], outputs: [9], optionsType: BuiltinOptions.SoftmaxOptions, options: [[SOFTMAX_OPTIONS.beta, 'float32', beta]] });
        if (then) {
          d.tensors.push({ name: 'p2', shape: [1, 3], type: FLOAT32 });
          d.ops.push({ code: Op.RELU, inputs: [9], outputs: [10] });
        }
        d.outputs = [d.tensors.length - 1];
      });
    expect(softmaxFirst(2, false)).toBe('TFLite model: operator #3 (SOFTMAX): SOFTMAX with beta 2 is not supported');
    expect(softmaxFirst(1, true)).toBe('TFLite model: operator #4 (RELU): reads the output of operator #3 (SOFTMAX)');
    // MEAN over the channels; RESHAPE into a map; ADD with broadcasting and of a constant.
    expect(
      message((d) => {
        d.tensors[4]!.data = i32Bytes([3, 3]);
      }),
    ).toBe('TFLite model: operator #1 (MEAN): averages [1,6,6,4] over axes [3,3]');
    expect(
      message((d) => {
        d.tensors[5]!.shape = [1, 36, 4];
        d.ops[1] = { code: Op.RESHAPE, inputs: [3], outputs: [5] };
      }),
    ).toBe('TFLite model: operator #1 (RESHAPE): reshapes [1,6,6,4] to [1,36,4]');
    expect(
      message((d) => {
        d.tensors.push({ name: 'bias4', shape: [1, 1, 1, 4], type: FLOAT32, data: f32Bytes([1, 2, 3, 4]) });
        d.tensors.push({ name: 'added', shape: [1, 6, 6, 4], type: FLOAT32 });
        d.ops.splice(1, 0, { code: Op.ADD, inputs: [3, 9], outputs: [10] });
        d.ops[2]!.inputs[0] = 10;
      }),
    ).toBe("TFLite model: operator #1 (ADD): input 1 ('bias4') is a constant; tinytrain computes this operator on activations only");
    // A tensor written twice (here: MEAN writing the conv's output, which the dense layer then reads), and an operator reading a tensor nothing wrote yet.
    expect(
      message((d) => {
        d.ops[1]!.outputs = [3];
        d.ops[2]!.inputs[0] = 3;
      }),
    ).toBe("TFLite model: operator #1 (MEAN): writes 'conv', which the model input or an earlier operator already holds");
    expect(
      message((d) => {
        d.ops.reverse();
      }),
    ).toBe("TFLite model: operator #0 (FULLY_CONNECTED): input 'gap' is neither a constant nor the output of an earlier operator");
    // The output is a feature map (no logits).
    expect(
      message((d) => {
        d.ops = [d.ops[0]!];
        d.outputs = [3];
      }),
    ).toBe("TFLite model: the output 'conv' is a feature map [1,6,6,4]");
  });

  it('PRELU: alpha one per channel, or varying over height or width (one slope per element); refused when it does not broadcast or is computed', () => {
    /** The base model with a PRELU after its conv, alpha of `shape` (a constant) or the conv's output itself. */
    const withPrelu = (shape: number[] | 'computed'): Uint8Array =>
      withDef((d) => {
        const n = shape === 'computed' ? 0 : shape.reduce((a, b) => a * b, 1);
        if (shape !== 'computed') d.tensors.push({ name: 'alpha', shape, type: FLOAT32, data: f32Bytes(ramp(n)) });
        d.tensors.push({ name: 'act', shape: [1, 6, 6, 4], type: FLOAT32 });
        d.ops.splice(1, 0, { code: Op.PRELU, inputs: [3, shape === 'computed' ? 3 : 9], outputs: [d.tensors.length - 1] });
        d.ops[2]!.inputs[0] = d.tensors.length - 1;
      });
    const prelu = (shape: number[]) => importTflite(withPrelu(shape)).spec.layers[1]!;
    expect(prelu([1, 1, 4])).toEqual({ op: 'prelu', name: 'act', inputs: ['conv'], alpha: ramp(4).map(Math.fround) });
    expect(prelu([4])).toMatchObject({ op: 'prelu', alpha: ramp(4).map(Math.fround) });
    // Varying over height: one slope per element, HWC (row h of the alpha for every column).
    const rows = prelu([6, 1, 4]) as { alpha: number[] };
    expect(rows.alpha).toHaveLength(144);
    expect(rows.alpha.slice(4, 8)).toEqual(ramp(24).slice(0, 4).map(Math.fround));
    expect(rows.alpha.slice(24, 28)).toEqual(ramp(24).slice(4, 8).map(Math.fround));
    expect(refusal(withPrelu([3])).message).toBe('TFLite model: operator #1 (PRELU): the slope of shape [3] does not broadcast to the input [1, 6, 6, 4]');
    expect(refusal(withPrelu([2, 1, 1, 4])).message).toBe('TFLite model: operator #1 (PRELU): the slope of shape [2, 1, 1, 4] does not broadcast to the input [1, 6, 6, 4]');
    expect(refusal(withPrelu([1, 1, 1, 1, 4])).hint).toMatch(/one per channel \(\[1, 1, C\]\)/);
    expect(refusal(withPrelu('computed')).message).toBe("TFLite model: operator #1 (PRELU): its alpha ('conv') is computed at run time; tinytrain needs it constant");
  });

  it('int8 tensors tinytrain cannot keep: per-channel activations, asymmetric weights, other types, requantising QUANTIZE, mixed float/int8', () => {
    const net = smallNet(false);
    const def = (): ModelDef => netModel(net, { kind: 'int8', ranges: {}, io: 'float' });
    const int8Message = (change: (d: ModelDef) => void): string => {
      const d = def();
      change(d);
      return refusal(encodeTflite(d)).message;
    };
    const tensor = (d: ModelDef, name: string): TensorDef => d.tensors.find((t) => t.name === name)!;
    expect(
      int8Message((d) => {
        tensor(d, 'c').quant = { scale: [0.1, 0.1, 0.1], zeroPoint: [0, 0, 0], dim: 3 };
      }),
    ).toBe("TFLite model: operator #1 (CONV_2D): activation 'c' is quantised per channel (3 scales)");
    expect(
      int8Message((d) => {
        tensor(d, 'c/weights').quant!.zeroPoint[1] = 3;
      }),
    ).toBe("TFLite model: operator #1 (CONV_2D): weights 'c/weights' are quantised asymmetrically (zero point 3)");
    expect(
      int8Message((d) => {
        tensor(d, 'c/weights').quant!.dim = 3;
        tensor(d, 'c/weights').shape = [3, 3, 3, 2];
        tensor(d, 'c/weights').quant = { scale: [0.1, 0.1], zeroPoint: [0, 0], dim: 3 };
      }),
    ).toBe("TFLite model: operator #1 (CONV_2D): weights 'c/weights' are quantised along dimension 3; tinytrain's weight scales are per output channel (dimension 0)");
    expect(
      int8Message((d) => {
        tensor(d, 'c').type = INT16;
      }),
    ).toBe("TFLite model: operator #1 (CONV_2D): tensor 'c' is INT16");
    expect(
      int8Message((d) => {
        d.tensors.push({ name: 'input_r', shape: [1, 6, 6, 2], type: INT8, quant: { scale: [0.5], zeroPoint: [0] } });
        d.ops.splice(1, 0, { code: Op.QUANTIZE, inputs: [1], outputs: [d.tensors.length - 1] });
        d.ops[2]!.inputs[0] = d.tensors.length - 1;
      }),
    ).toMatch(/^TFLite model: operator #1 \(QUANTIZE\): requantises a tensor from \(0\.003921/);
    expect(
      int8Message((d) => {
        tensor(d, 'c').type = FLOAT32;
        delete tensor(d, 'c').quant;
      }),
    ).toBe("TFLite model: operator #1 (CONV_2D): mixes INT8 input 'input_q' with FLOAT32 output 'c'");
  });
});

describe('refuses models as a whole', () => {
  it('several subgraphs, inputs or outputs; dynamic, batched or odd input shapes; other schema versions', () => {
    expect(
      message((d) => {
        d.extraSubgraphs = 1;
      }),
    ).toBe('TFLite model: the model has 2 subgraphs');
    expect(
      message((d) => {
        d.inputs = [0, 5];
      }),
    ).toBe("TFLite model: the model has 2 inputs ('input', 'gap')");
    const two = refusal(
      withDef((d) => {
        d.outputs = [5, 8];
      }),
    );
    expect(two.message).toBe("TFLite model: the model has 2 outputs ('gap', 'logits')");
    expect(two.hint).toBe('tinytrain trains one output: choose it with --model-output NAME');
    expect(() =>
      importTflite(
        withDef((d) => void (d.outputs = [5, 8])),
        { output: 'boxes' },
      ),
    ).toThrow("--model-output 'boxes' is not one of its outputs ('gap', 'logits')");
    const dyn = refusal(
      withDef((d) => {
        d.tensors[0]!.shapeSignature = [1, -1, -1, 1];
      }),
    );
    expect(dyn.message).toBe("TFLite model: input 'input' has a dynamic dimension 1 (shape signature [1,-1,-1,1])");
    expect(dyn.hint).toMatch(/only the batch dimension may be dynamic/);
    expect(
      message((d) => {
        d.tensors[0]!.shape = [2, 8, 8, 1];
      }),
    ).toBe("TFLite model: input 'input' has batch size 2");
    expect(
      message((d) => {
        d.tensors[0]!.shape = [1, 8, 8];
      }),
    ).toBe("TFLite model: input 'input' has shape [1,8,8]");
    expect(
      message((d) => {
        d.tensors[0]!.type = INT16;
      }),
    ).toBe("TFLite model: tensor 'input' is INT16");
    expect(
      message((d) => {
        d.version = 2;
      }),
    ).toBe('TFLite model: TFLite schema version 2 is not supported');
  });
});

describe('loading .tflite files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tflite-load-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = encodeTflite(baseDef());

  it('by extension, or by the TFL3 identifier whatever the name', () => {
    for (const name of ['m.tflite', 'm.TFLITE', 'model.bin', 'model']) {
      writeFileSync(join(dir, name), bytes);
      const spec = loadModelFile(join(dir, name));
      expect(spec.layers.map((l) => l.op)).toEqual(['conv2d', 'globalavgpool', 'dense']);
    }
    expect(loadModelFile(join(dir, 'model.bin')).name).toBe('model');
    // .onnx decides: a TFLite file named .onnx is read (and refused) as ONNX.
    writeFileSync(join(dir, 'm.onnx'), bytes);
    expect(() => loadModelFile(join(dir, 'm.onnx'))).toThrow(/^ONNX model /);
  });

  it('names the file in errors; the CLI says so, exits 1 and writes nothing; compile --help names .tflite', () => {
    const bad = join(dir, 'wake.tflite');
    writeFileSync(
      bad,
      withDef((d) => {
        d.ops[1]!.code = 129;
      }),
    );
    expect(() => loadModelFile(bad)).toThrow(`TFLite model ${bad}: operator #1 (CALL_ONCE) is not supported`);
    const out = join(dir, 'out');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'tinytrain.js'), 'compile', bad, '--target', 'stm32f746', '--out', out], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/operator #1 \(CALL_ONCE\) is not supported\n\s+hint: supported: CONV_2D/);
    expect(existsSync(out)).toBe(false);
    const help = spawnSync(process.execPath, [join(ROOT, 'bin', 'tinytrain.js'), 'compile', '--help'], { encoding: 'utf8' });
    expect(help.stdout).toMatch(/TFLite\s+\(\.tflite,\s+float\s+or\s+int8\)/);
  });
});
