/**
 * ONNX import against onnxruntime.
 *
 * test/onnx/make_models.py builds float models with onnx.helper and int8 QDQ models with
 * onnxruntime's quantize_static, and runs onnxruntime on them. Here:
 *  - float models: the imported model on tinytrain's float32 reference engine gives
 *    onnxruntime's outputs within 1e-4 (relative, over the output tensor);
 *  - int8 QDQ models: the model's scales and zero points are kept exactly, the compiled
 *    int8 runtime gives onnxruntime's outputs within a bound derived from the scales
 *    (test/support/onnx.ts int8ErrorBound), and the float model compiled with calibration
 *    stays within its own (looser) derived bound of the float outputs;
 *  - everything the importer refuses is a TinytrainError naming the node, its op type and
 *    what is supported, and the CLI writes nothing.
 *
 * Needs scripts/setup-onnx.sh (onnx + onnxruntime in .cache/onnx-venv); fails without it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { loadModelFile } from '../compiler/frontend/index.js';
import { importOnnx, nchwToHwc, type OnnxImport } from '../compiler/frontend/onnx/index.js';
import { quantizeSpec } from '../compiler/index.js';
import { buildGraph } from '../compiler/ir/graph.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { loadParams } from '../compiler/ir/params.js';
import { forward } from '../compiler/float/network.js';
import { Runtime } from '../host/runtime.js';
import { getTarget } from '../targets/index.js';
import { ArtifactCache } from './support/models.js';
import {
  FLOAT,
  INT8,
  ROOT,
  UINT8,
  applyOutputActivation,
  buildModel,
  floatTensor,
  int64Tensor,
  intTensor,
  int8ErrorBound,
  modelObject,
  node,
  onnxSampleToOurs,
  relError,
  runImportedFloat,
  runPython,
  valueInfo,
} from './support/onnx.js';
import { encodeModel } from '../compiler/frontend/onnx/proto.js';

interface Fixture {
  inputs: number[][];
  inputDims: number[];
  outputs: number[][];
  outputDims: number[];
}

let dir: string;
const cache = new ArtifactCache();
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tinytrain-onnx-'));
  runPython(join(ROOT, 'test', 'onnx', 'make_models.py'), [dir]);
});
afterAll(() => {
  cache.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const fixture = (name: string): Fixture => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Fixture;
const load = (name: string): OnnxImport => importOnnx(readFileSync(join(dir, `${name}.onnx`)), { name });

describe('float models: the float32 reference engine matches onnxruntime (1e-4 relative)', () => {
  it.each(['mlp', 'cnn', 'viewnet', 'gapnet', 'qnet_float', 'poolnet', 'actnet', 'padnet', 'padopnet', 'mulcatnet', 'prelunet', 'seqnet'])('%s', (name) => {
    const imp = load(name);
    const f = fixture(name);
    f.inputs.forEach((x, i) => {
      const y = runImportedFloat(imp, x);
      const err = relError(y, f.outputs[i]!);
      expect(err, `${name} sample ${i}: relative error ${err}`).toBeLessThanOrEqual(1e-4);
    });
    expect(imp.warnings).toEqual([]);
  });

  it('maps each ONNX construct onto the tinytrain layers it promises', () => {
    const ops = (name: string): string =>
      load(name)
        .spec.layers.map((l) => `${l.op}${'activation' in l && l.activation && l.activation !== 'none' ? `+${l.activation}` : ''}`)
        .join(' ');
    // BN folded into conv1, ReLU/Clip fused, Dropout/Identity/Softmax gone, Flatten kept as a view.
    expect(ops('cnn')).toBe('conv2d+relu conv2d+relu6 conv2d add+relu avgpool flatten dense');
    // Standalone BN -> 1x1 depthwise conv; Add(constant) folded into conv1's bias; Shape arithmetic folded; MatMul+Add -> dense.
    expect(ops('viewnet')).toBe('conv2d conv2d+relu conv2d+relu flatten dense');
    expect(ops('gapnet')).toBe('conv2d+relu6 globalavgpool flatten dense');
    // MaxPool: no padding, SAME_UPPER, and explicit pads that come to SAME_UPPER.
    expect(ops('poolnet')).toBe('conv2d+relu maxpool conv2d maxpool maxpool flatten dense');
    expect(load('poolnet').spec.layers.filter((l) => l.op === 'maxpool')).toMatchObject([
      { size: 2, stride: 2, padding: 'valid' },
      { size: 3, stride: 2, padding: 'same' },
      { size: 2, stride: 1, padding: 'same' },
    ]);
    // 1-D (a [1, C, L] input): Conv/MaxPool/AveragePool over one row, kernels [1, k], strides [1, s], pads on W only.
    expect(ops('seqnet')).toBe('conv2d+relu maxpool conv2d avgpool maxpool flatten dense');
    expect(load('seqnet').spec.input).toEqual([1, 40, 3]);
    expect(load('seqnet').spec.layers.slice(0, 5)).toMatchObject([
      { op: 'conv2d', kernel: [1, 5], stride: 1, padding: [0, 2, 0, 2] },
      { op: 'maxpool', size: [1, 3], stride: [1, 3], padding: 'valid' },
      { op: 'conv2d', kernel: [1, 3], stride: [1, 2], padding: [0, 1, 0, 0] },
      { op: 'avgpool', size: [1, 2], stride: 1, padding: [0, 0, 0, 1] },
      { op: 'maxpool', size: [1, 3], stride: [1, 2], padding: 'same' },
    ]);
    expect(load('seqnet').input.dims).toEqual([1, 3, 40]);
    // Per-side padding: convs (explicit pads and SAME_UPPER), average pools by valid taps and with count_include_pad, max pools (explicit, SAME_LOWER).
    expect(ops('padnet')).toBe('conv2d+relu avgpool conv2d avgpool maxpool maxpool flatten dense');
    expect(load('padnet').spec.layers.slice(0, 6)).toMatchObject([
      { op: 'conv2d', stride: 2, padding: [0, 0, 1, 1] },
      { op: 'avgpool', size: 3, stride: 1, padding: [1, 1, 1, 1] },
      { op: 'conv2d', stride: 2, padding: [0, 0, 1, 1] },
      { op: 'avgpool', size: 2, stride: 1, padding: [0, 0, 1, 1], countIncludePad: true },
      { op: 'maxpool', size: 3, stride: 2, padding: [1, 0, 1, 1] },
      { op: 'maxpool', size: 2, stride: 1, padding: [1, 1, 0, 0] },
    ]);
    expect(load('padnet').spec.layers[1]).not.toHaveProperty('countIncludePad');
    // Pad folded into the MaxPool (0 after a ReLU), the Conv and the AveragePool (its zeros counted) that read it.
    expect(ops('padopnet')).toBe('conv2d+relu maxpool conv2d avgpool flatten dense');
    expect(load('padopnet').spec.layers.slice(1, 4)).toMatchObject([
      { op: 'maxpool', size: 3, stride: 2, padding: [1, 1, 1, 0] },
      { op: 'conv2d', padding: 1 },
      { op: 'avgpool', size: 2, stride: 2, padding: [0, 0, 1, 1], countIncludePad: true },
    ]);
    // The table activations, with ONNX's coefficients; Mul(x, Sigmoid(x)) in either order -> silu, its Sigmoid gone.
    expect(ops('actnet')).toBe('conv2d leakyrelu conv2d hardswish conv2d silu conv2d silu hardsigmoid flatten dense sigmoid dense');
    expect(load('actnet').spec.layers.filter((l) => l.op === 'leakyrelu' || l.op === 'hardsigmoid')).toMatchObject([
      { alpha: Math.fround(0.1) },
      { alpha: 0.25, beta: Math.fround(0.4) },
    ]);
    expect(load('actnet').notes.join('\n')).toMatch(/'sig3' \(Sigmoid\): 'silu3' \(Mul\) computes x \* Sigmoid\(x\) as one silu layer; removed/);
    // Squeeze-excitation (the gate second), a Fire Concat, Sub folded into its conv, Mul then Div
    // by scalars as one 1x1 depthwise conv, x * HardSigmoid(x) as hardswish, x * x.
    // PRelu -> prelu: PyTorch's [C, 1, 1] and [1, C, 1, 1] slopes one per channel, nn.PReLU()'s [1] one for all.
    expect(ops('prelunet')).toBe('conv2d prelu conv2d prelu conv2d prelu flatten dense');
    expect(
      load('prelunet')
        .spec.layers.filter((l) => l.op === 'prelu')
        .map((l) => (l.op === 'prelu' ? l.alpha.length : 0)),
    ).toEqual([6, 1, 8]);
    expect(ops('mulcatnet')).toBe('conv2d+relu conv2d globalavgpool conv2d hardsigmoid mul conv2d conv2d concat conv2d hardswish mul flatten dense');
    expect(load('mulcatnet').spec.layers.filter((l) => l.op === 'mul' || l.op === 'concat')).toMatchObject([
      { name: 'excite', inputs: ['conv2', 'gate'] },
      { name: 'fire', inputs: ['expand1', 'expand3'] },
      { name: 'square', inputs: ['hswish', 'hswish'] },
    ]);
    const notes = load('mulcatnet').notes.join('\n');
    expect(notes).toMatch(/'hsig' \(HardSigmoid\): 'hswish' \(Mul\) computes x \* HardSigmoid\(x\) as one hardswish layer; removed/);
    expect(notes).toMatch(/'shift3' \(Sub\) folded into 'expand3' \(Conv\)/);
    expect(notes).toMatch(/'halve' \(Div\) folded into 'scale' \(Mul\)/);
    expect(load('cnn').spec.outputActivation).toBe('logsoftmax');
    expect(load('mlp').spec.outputActivation).toBe('softmax');
    expect(load('viewnet').spec.outputActivation).toBeUndefined();
    // The Flatten of a 3x3x8 map: Gemm's columns were permuted from C,H,W to H,W,C at import.
    expect(load('cnn').notes.join('\n')).toMatch(/'fc' \(Gemm\): weight columns permuted from ONNX's C,H,W order to tinytrain's H,W,C order \(input is a flattened 8x3x3 map\)/);
    const v = load('viewnet');
    expect(v.spec.input).toEqual([10, 10, 2]);
    expect(v.notes.join('\n')).toMatch(/'input_norm' \(BatchNormalization\).*1x1 depthwise conv/);
    expect(v.notes.join('\n')).toMatch(/'shift' \(Add\) folded into 'conv1' \(Conv\)/);
  });

  it('takes NCHW samples through nchwToHwc (the host-side transpose); the model itself never transposes', () => {
    const imp = load('cnn');
    const f = fixture('cnn');
    const g = buildGraph(imp.spec);
    const p = loadParams(g, imp.spec);
    const run = (x: Float32Array): Float32Array => applyOutputActivation(forward(g, p, x).get(g.output)!, imp.spec.outputActivation);
    expect(relError(run(nchwToHwc(f.inputs[0]!, 3, 12, 12)), f.outputs[0]!)).toBeLessThanOrEqual(1e-4);
    expect(relError(run(Float32Array.from(f.inputs[0]!)), f.outputs[0]!)).toBeGreaterThan(1e-2);
  });
});

/** Writes a sample quantised exactly as onnxruntime's QuantizeLinear does (round half to even of a float32 division). */
function writeInt8Input(rt: Runtime, x: Float32Array, scale: number, zp: number): void {
  const port = rt.manifest.inputs[0]!;
  const mem = new Int8Array(rt.bytes().buffer, port.offset, x.length);
  for (let i = 0; i < x.length; i++) {
    const v = Math.fround(x[i]! / scale);
    let r = Math.round(v);
    if (Math.abs(v % 1) === 0.5 && r % 2 !== 0) r -= 1;
    mem[i] = Math.max(-128, Math.min(127, r + zp));
  }
}

describe('int8 QDQ models (onnxruntime quantize_static, per-channel int8 weights)', () => {
  it.each(['qnet_s8', 'qnet_u8'])('%s: keeps every scale and zero point, and the int8 runtime matches onnxruntime within the derived bound', async (name) => {
    const imp = load(name);
    expect(imp.warnings).toEqual([]);
    const q = imp.spec.quantization!;
    const layers = imp.spec.layers;
    // One (scale, zero point) for the input and every layer that computes values; one weight scale per output channel.
    expect(Object.keys(q.tensors!).sort()).toEqual(['input', ...layers.filter((l) => l.op !== 'flatten').map((l) => l.name!)].sort());
    for (const l of layers) if (l.op === 'conv2d' || l.op === 'dense') expect(q.weights![l.name!]!.length).toBe(l.op === 'conv2d' ? l.filters : l.units);
    // The quantiser uses them unchanged, with no calibration data at all.
    const { quant, graph } = quantizeSpec(imp.spec);
    for (const [t, v] of Object.entries(q.tensors!)) expect(quant.tensors.get(t)).toEqual({ scale: v.scale, zp: v.zeroPoint });
    for (const [l, s] of Object.entries(q.weights!)) expect(Array.from(quant.layers.get(l)!.wScale)).toEqual(s.map(Math.fround));
    if (name === 'qnet_u8') expect(q.tensors!.input!.zeroPoint).toBe(-128); // uint8 zero point 0 -> int8 -128, same grid

    const art = await cache.get(name, imp.spec, { target: getTarget('stm32f746') });
    const rt = await Runtime.load(art.loaded);
    const f = fixture(name);
    const bound = int8ErrorBound(quant, 'same-grid');
    const outQ = quant.tensors.get(graph.output)!;
    let worst = 0,
      total = 0,
      count = 0;
    for (let i = 0; i < f.inputs.length; i++) {
      const [, c, h, w] = f.inputDims as [number, number, number, number];
      writeInt8Input(rt, nchwToHwc(f.inputs[i]!, c, h, w), q.tensors!.input!.scale, q.tensors!.input!.zeroPoint);
      rt.predict();
      const y = rt.logits();
      for (let k = 0; k < y.length; k++) {
        const d = Math.abs(y[k]! - f.outputs[i]![k]!);
        worst = Math.max(worst, d);
        total += d / outQ.scale;
        count++;
      }
    }
    console.log(
      `${name}: int8 runtime vs onnxruntime: max |diff| ${worst.toExponential(2)} (${(worst / outQ.scale).toFixed(1)} output steps), ` +
        `mean ${(total / count).toFixed(3)} steps; derived bound ${bound.toExponential(2)} (${(bound / outQ.scale).toFixed(1)} steps)`,
    );
    expect(worst).toBeLessThanOrEqual(bound);
    // The derived bound is a worst case (every rounding difference aligned with every weight's sign);
    // what happens is a step or two. Hold that too, so a regression cannot hide under the bound.
    expect(worst / outQ.scale).toBeLessThanOrEqual(4);
  });

  it.each(['qnet_float', 'actnet', 'mulcatnet', 'prelunet', 'seqnet'])(
    '%s: the float model, calibrated on its inputs, stays within the derived float bound of onnxruntime',
    async (name) => {
      const imp = load(name);
      const f = fixture(name);
      const samples = f.inputs.map((x) => onnxSampleToOurs(x, f.inputDims));
      const { quant } = quantizeSpec(imp.spec, samples);
      const bound = int8ErrorBound(quant, 'float');
      const art = await cache.get(name, imp.spec, { target: getTarget('stm32f746'), calibration: samples });
      const rt = await Runtime.load(art.loaded);
      let worst = 0;
      f.inputs.forEach((_, i) => {
        rt.setInputPixels(Uint8Array.from(samples[i]!, (v) => Math.round(v * 255)));
        rt.predict();
        const y = rt.logits();
        for (let k = 0; k < y.length; k++) worst = Math.max(worst, Math.abs(y[k]! - f.outputs[i]![k]!));
      });
      console.log(`${name}: int8 runtime vs onnxruntime float: max |diff| ${worst.toExponential(2)}, derived bound ${bound.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(bound);
    },
  );
});

// ---------------------------------------------------------------------------------------
// What the importer refuses

const X = valueInfo('x', [1, 1, 8, 8]);
const Y = (dims: (number | string)[] = [1, 4]): object => valueInfo('y', dims);
const W = floatTensor('w', [4, 1, 3, 3], new Float32Array(36).fill(0.1));
/** conv (3x3 valid, 8x8 -> 6x6 x 4) -> GlobalAveragePool -> Flatten: a valid model to break. */
function convNet(conv: object = node('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3] }, 'conv1'), extra: object[] = [], inits: object[] = []): Uint8Array {
  return buildModel({
    nodes: [conv, node('GlobalAveragePool', ['c'], ['g'], {}, 'gap'), node('Flatten', ['g'], ['y'], {}, 'flat'), ...extra],
    inputs: [X],
    outputs: [Y()],
    initializers: [W, ...(inits as never[])],
  });
}

function refusal(bytes: Uint8Array): TinytrainError {
  try {
    importOnnx(bytes);
  } catch (e) {
    if (e instanceof TinytrainError) return e;
    throw e;
  }
  throw new Error('the model was accepted');
}

describe('errors: TinytrainError naming the node, its op type, and what is supported', () => {
  it('accepts the unbroken model', () => {
    expect(importOnnx(convNet()).spec.layers.map((l) => l.op)).toEqual(['conv2d', 'globalavgpool', 'flatten']);
  });

  it('unsupported op: names op type, node, and the supported ops', () => {
    const e = refusal(convNet(node('LpPool', ['x'], ['c'], { kernel_shape: [2, 2] }, 'pool1')));
    expect(e.message).toBe("ONNX node 'pool1' (LpPool): op LpPool is not supported");
    expect(e.hint).toMatch(/^supported: Conv \(groups 1 or = channels; pads, auto_pad\), Gemm, MatMul/);
    const custom = refusal(convNet({ ...node('QLinearConv', ['x'], ['c'], {}, 'q1'), domain: 'com.microsoft' }));
    expect(custom.message).toBe("ONNX node 'q1' (QLinearConv): op 'com.microsoft.QLinearConv' (domain 'com.microsoft') is not supported");
  });

  it('Mul: x * Sigmoid(x) as silu, by a constant folded into the conv, of two tensors a mul layer; other shapes refused', () => {
    /** conv -> (extra) -> Mul(mulInputs) -> GlobalAveragePool -> Flatten. */
    const mulNet = (mulInputs: string[], extra: object[] = [], inits: object[] = []) =>
      buildModel({
        nodes: [
          node('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3] }, 'conv1'),
          ...extra,
          node('Mul', mulInputs, ['m'], {}, 'mul1'),
          node('GlobalAveragePool', ['m'], ['g'], {}, 'gap'),
          node('Flatten', ['g'], ['y'], {}, 'flat'),
        ],
        inputs: [X],
        outputs: [Y()],
        initializers: [W, ...(inits as never[])],
      });
    const ops = (m: Uint8Array) => importOnnx(m).spec.layers.map((l) => l.op);
    const sig = node('Sigmoid', ['c'], ['s'], {}, 'sig1');
    expect(ops(mulNet(['s', 'c'], [sig]))).toEqual(['conv2d', 'silu', 'globalavgpool', 'flatten']);
    expect(ops(mulNet(['c', 'c']))).toEqual(['conv2d', 'mul', 'globalavgpool', 'flatten']);
    expect(ops(mulNet(['c', 'k'], [], [floatTensor('k', [1], [2])]))).toEqual(['conv2d', 'globalavgpool', 'flatten']);
    expect(ops(mulNet(['k', 'c'], [], [floatTensor('k', [4, 1, 1], [1, 2, 3, 4])]))).toEqual(['conv2d', 'globalavgpool', 'flatten']);
    // x * Sigmoid(y): a mul of two tensors of one shape.
    const other = [node('Relu', ['c'], ['r'], {}, 'relu1'), node('Sigmoid', ['r'], ['s'], {}, 'sig1')];
    expect(ops(mulNet(['c', 's'], other))).toEqual(['conv2d', 'relu', 'sigmoid', 'mul', 'globalavgpool', 'flatten']);
    const hint = /equal shape, or a feature map \[1, C, H, W\] by one value per channel/;
    const wide = [node('Conv', ['x', 'w'], ['p'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'conv2')];
    expect(refusal(mulNet(['c', 'p'], wide)).message).toBe("ONNX node 'mul1' (Mul): multiplies tensors of shapes [1, 4, 6, 6] and [1, 4, 8, 8]");
    expect(refusal(mulNet(['c', 'p'], wide)).hint).toMatch(hint);
    expect(refusal(mulNet(['c', 'k'], [], [floatTensor('k', [1, 1, 6, 6], new Float32Array(36).fill(2))])).message).toMatch(/varies over height\/width/);
  });

  it('PRelu: a constant slope that broadcasts to the input (one, per channel, per element); refused when it does not, or is computed', () => {
    const net = (slope: object | null, second = 'a') =>
      buildModel({
        nodes: [
          node('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3] }, 'conv1'),
          node('PRelu', ['c', second], ['o'], {}, 'prelu1'),
          node('GlobalAveragePool', ['o'], ['g'], {}, 'gap'),
          node('Flatten', ['g'], ['y'], {}, 'flat'),
        ],
        inputs: [X],
        outputs: [Y()],
        initializers: [W, ...(slope ? [slope as never] : [])],
      });
    const slopes = (dims: number[]) => {
      const n = dims.reduce((a, b) => a * b, 1);
      const l = importOnnx(
        net(
          floatTensor(
            'a',
            dims,
            Float32Array.from({ length: n }, (_, i) => i / 16),
          ),
        ),
      ).spec.layers[1]!;
      return l.op === 'prelu' ? l.alpha : [];
    };
    expect(slopes([1])).toEqual([0]);
    expect(slopes([4, 1, 1])).toEqual([0, 1, 2, 3].map((i) => i / 16));
    expect(slopes([1, 4, 1, 1])).toEqual([0, 1, 2, 3].map((i) => i / 16));
    // [6] broadcasts along W (ONNX's last axis): one slope per column, so one per element in HWC.
    const perColumn = slopes([6]);
    expect(perColumn).toHaveLength(6 * 6 * 4);
    expect(perColumn.slice(0, 8)).toEqual([0, 0, 0, 0, 1, 1, 1, 1].map((i) => i / 16));
    const bad = refusal(net(floatTensor('a', [3, 1, 1], [0.1, 0.2, 0.3])));
    expect(bad.message).toBe("ONNX node 'prelu1' (PRelu): the slope of shape [3, 1, 1] does not broadcast to the input [1, 4, 6, 6]");
    expect(bad.hint).toMatch(/one per channel \(\[C, 1, 1\]\)/);
    expect(refusal(net(floatTensor('a', [2, 4, 1, 1], new Float32Array(8)))).message).toMatch(/slope of shape \[2, 4, 1, 1\] does not broadcast/);
    expect(refusal(net(null, 'c')).message).toBe("ONNX node 'prelu1' (PRelu): slope (input 1) must be a constant (an initializer or Constant), it is computed at run time");
  });

  it('Sub and Div by a constant fold; of two computed tensors, or a constant divided by one, refused; Concat of activations along channels only', () => {
    const net = (n: object[], inits: object[] = [], outC = 4) =>
      buildModel({
        nodes: [
          node('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3] }, 'conv1'),
          ...n,
          node('GlobalAveragePool', ['o'], ['g'], {}, 'gap'),
          node('Flatten', ['g'], ['y'], {}, 'flat'),
        ],
        inputs: [X],
        outputs: [Y([1, outC])],
        initializers: [W, ...(inits as never[])],
      });
    const k = floatTensor('k', [1], [2]);
    const ops = (m: Uint8Array) => importOnnx(m).spec.layers.map((l) => l.op);
    expect(ops(net([node('Sub', ['c', 'k'], ['o'], {}, 's')], [k]))).toEqual(['conv2d', 'globalavgpool', 'flatten']);
    expect(ops(net([node('Sub', ['k', 'c'], ['o'], {}, 's')], [k]))).toEqual(['conv2d', 'globalavgpool', 'flatten']);
    expect(ops(net([node('Div', ['c', 'k'], ['o'], {}, 'd')], [k]))).toEqual(['conv2d', 'globalavgpool', 'flatten']);
    expect(refusal(net([node('Div', ['k', 'c'], ['o'], {}, 'd')], [k])).message).toBe("ONNX node 'd' (Div): divides a constant by a computed tensor");
    expect(refusal(net([node('Sub', ['c', 'c'], ['o'], {}, 's')])).message).toBe("ONNX node 's' (Sub): subtracts two computed tensors");
    expect(refusal(net([node('Div', ['c', 'c'], ['o'], {}, 'd')])).message).toBe("ONNX node 'd' (Div): divides two computed tensors");
    expect(refusal(net([node('Div', ['c', 'z'], ['o'], {}, 'd')], [floatTensor('z', [1], [0])])).message).toBe("ONNX node 'd' (Div): divides by zero");
    expect(ops(net([node('Concat', ['c', 'c', 'c'], ['o'], { axis: 1 }, 'cat')], [], 12))).toEqual(['conv2d', 'concat', 'globalavgpool', 'flatten']);
    expect(ops(net([node('Concat', ['c', 'c'], ['o'], { axis: -3 }, 'cat')], [], 8))).toEqual(['conv2d', 'concat', 'globalavgpool', 'flatten']);
    expect(ops(net([node('Concat', ['c'], ['o'], { axis: 1 }, 'cat')]))).toEqual(['conv2d', 'globalavgpool', 'flatten']);
    expect(refusal(net([node('Concat', ['c', 'c'], ['o'], { axis: 2 }, 'cat')])).message).toBe("ONNX node 'cat' (Concat): joins along axis 2 of [1, 4, 6, 6]");
    expect(refusal(net([node('Concat', ['c', 'x'], ['o'], { axis: 1 }, 'cat')])).message).toBe("ONNX node 'cat' (Concat): joins tensors of shapes [1, 4, 6, 6], [1, 1, 8, 8]");
    expect(refusal(net([node('Concat', Array<string>(9).fill('c'), ['o'], { axis: 1 }, 'cat')])).message).toBe("ONNX node 'cat' (Concat): joins 9 tensors");
    expect(refusal(net([node('Concat', ['c', 'k4'], ['o'], { axis: 1 }, 'cat')], [floatTensor('k4', [1, 4, 6, 6], new Float32Array(144))])).message).toBe(
      "ONNX node 'cat' (Concat): joins a constant and a computed tensor",
    );
  });

  it('MaxPool: per-axis windows and strides; refuses dilations, ceil_mode 1, storage_order, a used Indices output and pads a window could lie wholly in', () => {
    /** conv -> MaxPool (attributes `attrs`, outputs `outs`) -> GlobalAveragePool -> Flatten. */
    const pooled = (attrs: Record<string, number[] | number | string>, outs = ['c'], more: object[] = []) =>
      buildModel({
        nodes: [node('Conv', ['x', 'w'], ['c0'], { kernel_shape: [3, 3] }, 'conv1'), node('MaxPool', ['c0'], outs, { kernel_shape: [2, 2], ...attrs }, 'mp'), ...more],
        inputs: [X],
        outputs: [Y()],
        initializers: [W],
      });
    const tail = [node('GlobalAveragePool', ['c'], ['g'], {}, 'gap'), node('Flatten', ['g'], ['y'], {}, 'flat')];
    expect(importOnnx(pooled({}, ['c'], tail)).spec.layers.map((l) => l.op)).toEqual(['conv2d', 'maxpool', 'globalavgpool', 'flatten']);
    const why = (attrs: Record<string, number[] | number | string>, outs = ['c'], more = tail) => refusal(pooled(attrs, outs, more)).message;
    expect(why({ dilations: [2, 2] })).toBe("ONNX node 'mp' (MaxPool): dilations [2,2] are not supported");
    expect(why({ ceil_mode: 1 })).toBe("ONNX node 'mp' (MaxPool): ceil_mode 1 is not supported");
    expect(why({ storage_order: 1 })).toBe("ONNX node 'mp' (MaxPool): storage_order 1 is not supported");
    expect(why({ pads: [2, 0, 0, 0] })).toBe("ONNX node 'mp' (MaxPool): pads [2, 0, 0, 0] are not all less than the 2x2 window");
    expect(why({ kernel_shape: [3, 1], pads: [0, 1, 0, 0] })).toBe("ONNX node 'mp' (MaxPool): pads [0, 1, 0, 0] are not all less than the 3x1 window");
    // Per side and SAME_LOWER (the larger half before) import as the pads they are.
    const layer = (attrs: Record<string, number[] | number | string>) => importOnnx(pooled(attrs, ['c'], tail)).spec.layers[1];
    expect(layer({ pads: [1, 0, 0, 1] })).toMatchObject({ op: 'maxpool', padding: [1, 0, 0, 1] });
    expect(layer({ auto_pad: 'SAME_LOWER', strides: [2, 2], kernel_shape: [3, 3] })).toMatchObject({ op: 'maxpool', size: 3, stride: 2, padding: [1, 1, 0, 0] });
    // Per axis (refused before pools took a window and a stride per axis): [rows, columns] where they differ.
    expect(layer({ kernel_shape: [2, 3] })).toMatchObject({ op: 'maxpool', size: [2, 3], stride: 1, padding: 'valid' });
    expect(layer({ kernel_shape: [3, 1], strides: [3, 1] })).toMatchObject({ op: 'maxpool', size: [3, 1], stride: [3, 1], padding: 'valid' });
    expect(layer({ strides: [1, 2] })).toMatchObject({ op: 'maxpool', size: 2, stride: [1, 2] });
    expect(layer({ auto_pad: 'SAME_UPPER', kernel_shape: [3, 2], strides: [2, 1] })).toMatchObject({ op: 'maxpool', size: [3, 2], stride: [2, 1], padding: 'same' });
    const indices = [node('GlobalAveragePool', ['c'], ['g'], {}, 'gap'), node('Flatten', ['g'], ['y0'], {}, 'flat'), node('Add', ['y0', 'i'], ['y'], {}, 'use')];
    expect(why({}, ['c', 'i'], indices)).toBe("ONNX node 'mp' (MaxPool): output 1 ('i') is used: tinytrain max pooling has no Indices output");
  });

  it('1-D nodes on a [1, C, L] sequence: attributes of one spatial axis, W of rank 3; other forms refused, naming the rank', () => {
    const seq = (n: object, inits: object[] = []) =>
      buildModel({
        nodes: [n, node('GlobalAveragePool', ['c'], ['g'], {}, 'gap'), node('Flatten', ['g'], ['y'], {}, 'flat')],
        inputs: [valueInfo('x', [1, 2, 16])],
        outputs: [Y([1, 2])],
        initializers: inits,
      });
    const w1 = floatTensor('w', [2, 2, 3], new Float32Array(12).fill(0.1));
    expect(importOnnx(seq(node('Conv', ['x', 'w'], ['c'], { kernel_shape: [3], strides: [2], pads: [1, 1] }, 'conv'), [w1])).spec.layers[0]).toMatchObject({
      op: 'conv2d',
      kernel: [1, 3],
      stride: [1, 2],
      padding: [0, 1, 0, 1],
    });
    expect(importOnnx(seq(node('AveragePool', ['x'], ['c'], { kernel_shape: [4] }, 'ap'))).spec.layers[0]).toMatchObject({ op: 'avgpool', size: [1, 4], stride: 1 });
    expect(refusal(seq(node('MaxPool', ['x'], ['c'], { kernel_shape: [2, 2] }, 'mp'))).message).toBe(
      "ONNX node 'mp' (MaxPool): kernel_shape [2,2]: 1-D pooling (a [1, C, L] sequence) needs 1 value",
    );
    expect(refusal(seq(node('MaxPool', ['x'], ['c'], { kernel_shape: [2], strides: [1, 1] }, 'mp'))).message).toBe(
      "ONNX node 'mp' (MaxPool): strides/dilations must have 1 value (a 1-D op on a [1, C, L] sequence)",
    );
    expect(refusal(seq(node('Conv', ['x', 'w'], ['c'], {}, 'conv'), [floatTensor('w', [2, 2, 3, 3], new Float32Array(36))])).message).toBe(
      "ONNX node 'conv' (Conv): weight W must be 3-D [Cout, Cin/group, K] (1-D conv on a [1, C, L] sequence), it has shape [2,2,3,3]",
    );
    expect(refusal(seq(node('MaxPool', ['x'], ['c'], { kernel_shape: [2], pads: [0, 0, 1, 1] }, 'mp'))).message).toBe(
      "ONNX node 'mp' (MaxPool): pads [0,0,1,1] must be 2 non-negative values [begin, end]",
    );
  });

  it('Pad: folds into the Conv or pool that reads it; refuses what it cannot fold', () => {
    /** conv (+ relu) -> Pad (pads p, value v, mode m) -> reader -> GlobalAveragePool -> Flatten. */
    const padded = (reader: object, o: { p?: number[]; v?: number; mode?: string; relu?: boolean } = {}) =>
      buildModel({
        nodes: [
          node('Conv', ['x', 'w'], ['c0'], { kernel_shape: [3, 3] }, 'conv1'),
          ...(o.relu ? [node('Relu', ['c0'], ['c1'], {}, 'relu1')] : [node('Identity', ['c0'], ['c1'], {}, 'id1')]),
          node('Pad', ['c1', 'pads', ...(o.v === undefined ? [] : ['v'])], ['q'], o.mode ? { mode: o.mode } : {}, 'pad1'),
          reader,
          node('GlobalAveragePool', ['r'], ['g'], {}, 'gap'),
          node('Flatten', ['g'], ['y'], {}, 'flat'),
        ],
        inputs: [X],
        outputs: [Y()],
        initializers: [W, int64Tensor('pads', [8], o.p ?? [0, 0, 1, 1, 0, 0, 1, 1]), ...(o.v === undefined ? [] : [floatTensor('v', [], [o.v])])],
        opset: 13,
      });
    const maxp = node('MaxPool', ['q'], ['r'], { kernel_shape: [2, 2] }, 'mp');
    expect(refusal(padded(maxp, {})).message).toBe("ONNX node 'mp' (MaxPool): reads 'pad1' (Pad), which pads with 0 an input that may be negative");
    expect(importOnnx(padded(maxp, { relu: true })).spec.layers[1]).toMatchObject({ op: 'maxpool', padding: [1, 1, 1, 1] });
    expect(importOnnx(padded(maxp, { v: -Infinity })).spec.layers[1]).toMatchObject({ op: 'maxpool', padding: [1, 1, 1, 1] });
    expect(refusal(padded(maxp, { mode: 'reflect' })).message).toBe("ONNX node 'pad1' (Pad): mode 'reflect' is not supported");
    expect(refusal(padded(maxp, { p: [0, 1, 0, 0, 0, 1, 0, 0] })).message).toBe("ONNX node 'pad1' (Pad): pads the batch or channel axis (pads [0, 1, 0, 0, 0, 1, 0, 0])");
    expect(refusal(padded(maxp, { p: [0, 0, -1, 0, 0, 0, 0, 0] })).message).toMatch(/negative pads \(cropping\) are not supported/);
    expect(refusal(padded(node('Relu', ['q'], ['r'], {}, 'relu2'))).message).toBe("ONNX node 'relu2' (Relu): reads the output of 'pad1' (Pad)");
    // A Conv pads with zeros only; a pool dividing by valid taps cannot also count a Pad's zeros.
    expect(refusal(padded(node('Conv', ['q', 'w'], ['r'], { kernel_shape: [3, 3] }, 'conv2'), { v: 1 })).message).toBe(
      "ONNX node 'conv2' (Conv): reads 'pad1' (Pad), which pads with 1",
    );
    const avg = (attrs: Record<string, number[] | number>) => padded(node('AveragePool', ['q'], ['r'], { kernel_shape: [3, 3], ...attrs }, 'ap'));
    expect(importOnnx(avg({})).spec.layers[1]).toMatchObject({ op: 'avgpool', padding: [1, 1, 1, 1], countIncludePad: true });
    expect(refusal(avg({ pads: [1, 1, 1, 1] })).message).toMatch(/^ONNX node 'ap' \(AveragePool\): pads of its own that it does not count/);
  });

  it('unsupported attribute values of supported ops', () => {
    expect(refusal(convNet(node('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3], dilations: [2, 2] }, 'conv1'))).message).toBe(
      "ONNX node 'conv1' (Conv): dilations [2,2] are not supported",
    );
    const grouped = buildModel({
      nodes: [node('Conv', ['x', 'w2'], ['c'], { group: 2 }, 'g2'), node('GlobalAveragePool', ['c'], ['g']), node('Flatten', ['g'], ['y'])],
      inputs: [valueInfo('x', [1, 4, 8, 8])],
      outputs: [Y()],
      initializers: [floatTensor('w2', [4, 2, 3, 3], new Float32Array(72))],
    });
    expect(refusal(grouped).message).toBe("ONNX node 'g2' (Conv): grouped conv with group 2 is not supported");
    const badClip = buildModel({
      nodes: [
        node('Conv', ['x', 'w'], ['c0'], {}, 'conv1'),
        node('Clip', ['c0', 'lo', 'hi'], ['c'], {}, 'clip'),
        node('GlobalAveragePool', ['c'], ['g']),
        node('Flatten', ['g'], ['y']),
      ],
      inputs: [X],
      outputs: [Y()],
      initializers: [W, floatTensor('lo', [], [-1]), floatTensor('hi', [], [1])],
    });
    const e = refusal(badClip);
    expect(e.message).toBe("ONNX node 'clip' (Clip): Clip(min -1, max 1) is not supported");
    expect(e.hint).toBe('tinytrain supports Clip as ReLU (min 0, no max) and ReLU6 (min 0, max 6)');
    const midSoftmax = buildModel({
      nodes: [
        node('Conv', ['x', 'w'], ['c0'], {}, 'conv1'),
        node('Softmax', ['c0'], ['s'], { axis: 1 }, 'sm'),
        node('GlobalAveragePool', ['s'], ['g']),
        node('Flatten', ['g'], ['y']),
      ],
      inputs: [X],
      outputs: [Y()],
      initializers: [W],
    });
    expect(refusal(midSoftmax).message).toMatch(/^ONNX node 'sm' \(Softmax\): normalises over 4 of the 144 outputs/);
    const asym = buildModel({
      nodes: [node('Conv', ['x', 'w'], ['c'], { pads: [1, 0, 1, 0] }, 'conv1'), node('GlobalAveragePool', ['c'], ['g']), node('Flatten', ['g'], ['y'])],
      inputs: [X],
      outputs: [Y()],
      initializers: [W],
    });
    // leading pads that differ (1 row above, no column on the left) import as they are
    expect(importOnnx(asym).spec.layers[0]).toMatchObject({ op: 'conv2d', padding: [1, 0, 1, 0] });
  });

  it('dynamic shapes, batches, several inputs, non-float inputs', () => {
    const withInput = (x: object, secondInput = false): Uint8Array =>
      buildModel({
        nodes: [node('Conv', ['x', 'w'], ['c'], {}, 'conv1'), node('GlobalAveragePool', ['c'], ['g']), node('Flatten', ['g'], ['y'])],
        inputs: [x, ...(secondInput ? [valueInfo('z', [1])] : [])],
        outputs: [Y()],
        initializers: [W],
      });
    const dyn = refusal(withInput(valueInfo('x', [1, 1, 'height', 8])));
    expect(dyn.message).toBe("ONNX model: input 'x' has a dynamic dimension 2 ('height')");
    expect(dyn.hint).toMatch(/pin them with --input-shape/);
    // --input-shape pins the dynamic dimensions, in the file's order, and must agree with the fixed ones.
    const open = withInput(valueInfo('x', [1, 1, 'height', 'width']));
    expect(importOnnx(open, { inputShape: [1, 1, 8, 8] }).spec.input).toEqual([8, 8, 1]);
    expect(importOnnx(open, { inputShape: [1, 1, 12, 10] }).spec.input).toEqual([12, 10, 1]);
    expect(() => importOnnx(open, { inputShape: [1, 2, 8, 8] })).toThrow("ONNX model: --input-shape gives dimension 1 of input 'x' as 2, the file fixes it at 1");
    expect(() => importOnnx(open, { inputShape: [1, 8, 8] })).toThrow("ONNX model: --input-shape has 3 dimensions, input 'x' has 4");
    // A symbolic batch dimension is fine: tinytrain is batch 1.
    expect(importOnnx(withInput(valueInfo('x', ['N', 1, 8, 8]))).spec.input).toEqual([8, 8, 1]);
    expect(refusal(withInput(valueInfo('x', [4, 1, 8, 8]))).message).toBe("ONNX model: input 'x' has batch size 4");
    expect(refusal(withInput(valueInfo('x', [1, 1, 8, 8], UINT8))).message).toBe("ONNX model: input 'x' is UINT8");
    expect(refusal(withInput(X, true)).message).toBe("ONNX model: the model has 2 inputs ('x', 'z')");
    // Rank 3 is a sequence [1, C, L]: the 2-D conv reading it is refused, naming the 1-D form.
    expect(refusal(withInput(valueInfo('x', [1, 8, 8]))).message).toMatch(/^ONNX node 'conv1' \(Conv\): weight W must be 3-D \[Cout, Cin\/group, K\] \(1-D conv/);
    expect(refusal(withInput(valueInfo('x', [1, 1, 8, 8, 8]))).message).toBe("ONNX model: input 'x' has shape [1, 1, 8, 8, 8]");
  });

  it('several outputs: refused with their names unless --model-output chooses one; the nodes only the others need are dropped', () => {
    // A second output 'z' through a node tinytrain has no handler for (TopK): dropped when 'y' is chosen.
    const two = buildModel({
      nodes: [
        node('Conv', ['x', 'w'], ['c'], {}, 'conv1'),
        node('GlobalAveragePool', ['c'], ['g']),
        node('Flatten', ['g'], ['y']),
        node('TopK', ['y', 'k'], ['z', 'zi'], {}, 'top'),
      ],
      inputs: [X],
      outputs: [Y(), valueInfo('z', [1, 1])],
      initializers: [W, int64Tensor('k', [1], [1])],
    });
    const e = refusal(two);
    expect(e.message).toBe("ONNX model: the model has 2 outputs ('y', 'z')");
    expect(e.hint).toBe('tinytrain trains one output: choose it with --model-output NAME');
    const one = importOnnx(two, { output: 'y' }).spec;
    const alone = importOnnx(convNet(node('Conv', ['x', 'w'], ['c'], {}, 'conv1'))).spec;
    expect(one.layers.map((l) => l.op)).toEqual(alone.layers.map((l) => l.op));
    expect(one.params).toEqual(alone.params);
    expect(() => importOnnx(two, { output: 'z' })).toThrow(/TopK/);
    expect(() => importOnnx(two, { output: 'q' })).toThrow("ONNX model: --model-output 'q' is not one of its outputs ('y', 'z')");
  });

  it('unknown opsets and IR versions', () => {
    const obj = (opset: number, ir = 8): Uint8Array =>
      encodeModel(
        modelObject({
          nodes: [node('Conv', ['x', 'w'], ['c'], {}, 'conv1'), node('GlobalAveragePool', ['c'], ['g']), node('Flatten', ['g'], ['y'])],
          inputs: [X],
          outputs: [Y()],
          initializers: [W],
          opset,
          irVersion: ir,
        }),
      );
    expect(refusal(obj(23)).message).toBe('ONNX model: opset 23 is newer than this importer knows (ONNX 1.17: opsets up to 22)');
    expect(refusal(obj(13, 11)).message).toBe('ONNX model: ONNX IR version 11 is not supported');
    // Conv-1 (in effect before opset 11) is not a definition we implement.
    expect(refusal(obj(7)).message).toBe("ONNX node 'conv1' (Conv): Conv as defined in opset 7 (Conv-1) is not supported");
    expect(refusal(obj(7)).hint).toMatch(/opsets 11-22; convert the model with onnx.version_converter/);
    expect(importOnnx(obj(22)).spec.layers.length).toBe(3);
  });

  it('external data files', () => {
    const ext = { name: 'w', dims: [4, 1, 3, 3], data_type: FLOAT, data_location: 1, external_data: [{ key: 'location', value: 'weights.bin' }] };
    const bytes = buildModel({
      nodes: [node('Conv', ['x', 'w'], ['c'], {}, 'conv1'), node('GlobalAveragePool', ['c'], ['g']), node('Flatten', ['g'], ['y'])],
      inputs: [X],
      outputs: [Y()],
      initializers: [ext as never],
    });
    const e = refusal(bytes);
    expect(e.message).toBe("ONNX model: initializer 'w': tensor data is stored in an external file ('weights.bin')");
    expect(e.hint).toMatch(/save_as_external_data=False/);
  });

  it('QDQ the int8 model cannot keep: asymmetric weights, requantising pairs, per-channel activations', () => {
    const qdq = (wzp: number, dqScale = 0.05): Uint8Array =>
      buildModel({
        nodes: [
          node('QuantizeLinear', ['x', 's', 'z'], ['xq'], {}, 'xq'),
          node('DequantizeLinear', ['xq', 's2', 'z'], ['xd'], {}, 'xd'),
          node('DequantizeLinear', ['wq', 'ws', 'wz'], ['w'], { axis: 0 }, 'wdq'),
          node('Conv', ['xd', 'w'], ['c'], {}, 'conv1'),
          node('GlobalAveragePool', ['c'], ['g']),
          node('Flatten', ['g'], ['y']),
        ],
        inputs: [X],
        outputs: [Y()],
        initializers: [
          floatTensor('s', [], [0.05]),
          floatTensor('s2', [], [dqScale]),
          intTensor('z', [], [0], INT8),
          intTensor('wq', [4, 1, 3, 3], new Array(36).fill(3), INT8),
          floatTensor('ws', [4], [0.1, 0.1, 0.1, 0.1]),
          intTensor('wz', [4], [wzp, 0, 0, 0], INT8),
        ],
      });
    expect(importOnnx(qdq(0)).spec.quantization).toEqual({
      tensors: { input: { scale: Math.fround(0.05), zeroPoint: 0 } },
      weights: { conv1: [0.1, 0.1, 0.1, 0.1].map(Math.fround) },
    });
    const asym = refusal(qdq(5));
    expect(asym.message).toBe("ONNX node 'conv1' (Conv): weights are quantised asymmetrically ('wdq' (DequantizeLinear): zero point 5)");
    expect(refusal(qdq(0, 0.1)).message).toMatch(/^ONNX node 'xd' \(DequantizeLinear\): its scale\/zero point \(0\.1.*differ from those of 'xq' \(QuantizeLinear\)/);
  });

  it('QDQ it can keep only approximately: named as warnings (and in spec.notes)', () => {
    const qdqPair = (t: string, s: string, z: string): object[] => [
      node('QuantizeLinear', [t, s, z], [`${t}_q`], {}, `${t}_Q`),
      node('DequantizeLinear', [`${t}_q`, s, z], [`${t}_dq`], {}, `${t}_DQ`),
    ];
    const bytes = buildModel({
      nodes: [
        ...qdqPair('x', 's0', 'z'),
        node('DequantizeLinear', ['wq', 'ws'], ['w'], { axis: 0 }, 'wdq'),
        node('Conv', ['x_dq', 'w'], ['c'], {}, 'conv1'),
        ...qdqPair('c', 's1', 'z'),
        node('Relu', ['c_dq'], ['r'], {}, 'relu'),
        ...qdqPair('r', 's2', 'z'),
        node('GlobalAveragePool', ['r_dq'], ['g'], {}, 'gap'),
        node('Flatten', ['g'], ['y'], {}, 'flat'),
      ],
      inputs: [X],
      outputs: [Y()],
      initializers: [
        floatTensor('s0', [], [0.05]),
        floatTensor('s1', [], [0.1]),
        floatTensor('s2', [], [0.08]),
        intTensor('z', [], [-128], INT8),
        intTensor('wq', [4, 1, 3, 3], [-128, ...new Array(35).fill(3)], INT8),
        floatTensor('ws', [4], [0.1, 0.1, 0.1, 0.1]),
      ],
    });
    const imp = importOnnx(bytes);
    expect(imp.warnings).toEqual([
      "'conv1' (Conv): 1 weight value(s) are -128; tinytrain's symmetric int8 weights stop at -127, so they become -127 (one step)",
      "'conv1' (Conv) -> 'relu' (Relu): the model quantises before (0.10000000149011612, -128) and after (0.07999999821186066, -128) the activation; " +
        'tinytrain fuses the activation and quantises once, after it, so the intermediate rounding is not reproduced',
      "no QuantizeLinear/DequantizeLinear on the output of 'gap' (GlobalAveragePool): the model keeps it in float, tinytrain quantises it from calibration ranges",
    ]);
    expect(imp.spec.quantization!.tensors!.conv1).toEqual({ scale: Math.fround(0.08), zeroPoint: -128 });
    expect(imp.spec.notes).toMatch(/warning: 'conv1' \(Conv\) -> 'relu' \(Relu\)/);
  });

  it('truncated, empty and non-ONNX files', () => {
    const good = convNet();
    for (const cut of [1, 7, 20, good.length >> 1, good.length - 3]) {
      const e = refusal(good.subarray(0, cut));
      expect(e.message).toMatch(/^ONNX model: (not a readable ONNX model|not an ONNX model|initializer 'w': raw_data has)/);
    }
    expect(refusal(new Uint8Array(0)).message).toBe('ONNX model: not an ONNX model (no graph)');
    expect(refusal(new TextEncoder().encode('{"format": "tinytrain-model@1"}')).message).toMatch(/^ONNX model: not (a readable|an) ONNX model/);
    expect(refusal(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])).message).toMatch(/^ONNX model: not (a readable|an) ONNX model/);
  });
});

describe('model files and the CLI', () => {
  it('loadModelFile dispatches on the extension and sniffs the content otherwise', () => {
    const d = mkdtempSync(join(tmpdir(), 'tinytrain-load-'));
    try {
      const bytes = readFileSync(join(dir, 'cnn.onnx'));
      writeFileSync(join(d, 'm.onnx'), bytes);
      writeFileSync(join(d, 'm.model'), bytes);
      writeFileSync(join(d, 'm.txt'), readFileSync(join(ROOT, 'examples', 'mnist-cnn.json')));
      expect(loadModelFile(join(d, 'm.onnx')).name).toBe('m');
      expect(loadModelFile(join(d, 'm.model')).layers.length).toBe(7);
      expect(loadModelFile(join(d, 'm.txt')).name).toBe(JSON.parse(readFileSync(join(ROOT, 'examples', 'mnist-cnn.json'), 'utf8')).name);
      writeFileSync(join(d, 'bad.onnx'), bytes.subarray(0, 100));
      expect(() => loadModelFile(join(d, 'bad.onnx'))).toThrow(TinytrainError);
      buildGraph(loadModelFile(join(d, 'm.onnx')));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('`tinytrain compile` pins dynamic dimensions (--input-shape) and records the input normalisation (--input-norm) in the manifest', () => {
    const bin = join(ROOT, 'bin', 'tinytrain.js');
    if (!existsSync(join(ROOT, 'dist', 'host', 'cli', 'main.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT });
    const d = mkdtempSync(join(tmpdir(), 'tinytrain-cli-'));
    try {
      const open = buildModel({
        nodes: [node('Conv', ['x', 'w'], ['c'], {}, 'conv1'), node('GlobalAveragePool', ['c'], ['g']), node('Flatten', ['g'], ['y'])],
        inputs: [valueInfo('x', ['N', 1, 'height', 'width'])],
        outputs: [Y()],
        initializers: [W],
      });
      writeFileSync(join(d, 'open.onnx'), open);
      const out = join(d, 'artifact');
      const compile = (...extra: string[]) =>
        spawnSync(process.execPath, [bin, 'compile', join(d, 'open.onnx'), '--target', 'stm32f746', '--out', out, '--calibrate', 'random', ...extra], { encoding: 'utf8' });
      const refused = compile();
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/input 'x' has a dynamic dimension 2 \('height'\)/);
      expect(refused.stderr).toMatch(/--input-shape/);
      const ok = compile('--input-shape', '1,1,10,10', '--input-norm', '0.5,0.25');
      expect(ok.status, ok.stderr).toBe(0);
      const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { inputs: Array<{ shape: number[]; range: number[] }> };
      expect(m.inputs[0]!.shape).toEqual([10, 10, 1]);
      // (x - 0.5) / 0.25 for x in [0, 1]: a 0 byte stands for -2, a 255 byte for 2.
      expect(m.inputs[0]!.range).toEqual([-2, 2]);
      const both = compile('--input-shape', '1,1,10,10', '--input-norm', '0.5,0.25', '--input-range', '0,1');
      expect(both.status).toBe(1);
      expect(both.stderr).toMatch(/--input-range and --input-norm both/);
      const json = spawnSync(process.execPath, [bin, 'compile', join(ROOT, 'examples', 'mnist-cnn.json'), '--target', 'stm32f746', '--out', out, '--input-range', '0,1'], {
        encoding: 'utf8',
      });
      expect(json.status).toBe(1);
      expect(json.stderr).toMatch(/is tinytrain JSON, which states its input itself/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('`tinytrain compile bad.onnx` exits 1 with the node named and writes nothing', () => {
    const bin = join(ROOT, 'bin', 'tinytrain.js');
    if (!existsSync(join(ROOT, 'dist', 'host', 'cli', 'main.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT });
    const d = mkdtempSync(join(tmpdir(), 'tinytrain-cli-'));
    try {
      writeFileSync(join(d, 'pool.onnx'), convNet(node('LpPool', ['x'], ['c'], { kernel_shape: [2, 2] }, 'pool1')));
      const out = join(d, 'artifact');
      const r = spawnSync(process.execPath, [bin, 'compile', join(d, 'pool.onnx'), '--target', 'stm32f746', '--out', out], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/ONNX node 'pool1' \(LpPool\): op LpPool is not supported/);
      expect(r.stderr).toMatch(/supported: Conv/);
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('spec.quantization (the quantiser override QDQ models use)', () => {
  const spec = (): ModelSpec => ({
    format: 'tinytrain-model@1',
    name: 'q',
    input: [4, 4, 1],
    seed: 1,
    layers: [
      { op: 'flatten', name: 'flat' },
      { op: 'dense', name: 'fc1', units: 3, activation: 'relu' },
      { op: 'dense', name: 'fc2', units: 2 },
    ],
  });
  const calib = [Float32Array.from({ length: 16 }, (_, i) => i / 16)];

  it('fixed tensors and weight scales win over calibration; only the others need ranges', () => {
    const s = { ...spec(), quantization: { tensors: { input: { scale: 0.01, zeroPoint: -100 }, fc1: { scale: 0.02, zeroPoint: -128 } }, weights: { fc2: [0.5, 0.25] } } };
    const { quant } = quantizeSpec(s, calib);
    expect(quant.tensors.get('input')).toEqual({ scale: 0.01, zp: -100 });
    expect(quant.tensors.get('fc1')).toEqual({ scale: 0.02, zp: -128 });
    expect(quant.tensors.get('flat')).toEqual({ scale: 0.01, zp: -100 }); // flatten keeps its input's
    expect(Array.from(quant.layers.get('fc2')!.wScale)).toEqual([0.5, 0.25]);
    // Without calibration data, the one unfixed tensor (fc2) is named.
    expect(() => quantizeSpec(s)).toThrow(/has no calibration ranges/);
    const all = { ...s, quantization: { ...s.quantization, tensors: { ...s.quantization.tensors, fc2: { scale: 0.1, zeroPoint: 3 } } } };
    expect(quantizeSpec(all).quant.tensors.get('fc2')).toEqual({ scale: 0.1, zp: 3 });
  });

  it('refuses overrides that are not an int8 quantisation of this model', () => {
    const bad = (quantization: ModelSpec['quantization']): string => {
      try {
        quantizeSpec({ ...spec(), quantization }, calib);
      } catch (e) {
        if (e instanceof TinytrainError) return e.message;
        throw e;
      }
      return 'accepted';
    };
    // The model schema refuses these before quantisation, naming the field (compiler/ir/model-schema.ts, model-refs.ts).
    expect(bad({ tensors: { fc1: { scale: 0.1, zeroPoint: 200 } } })).toBe('model "q": quantization.tensors.fc1.zeroPoint: expected an integer zero point in -128..127, got 200');
    expect(bad({ tensors: { fc1: { scale: 0, zeroPoint: 0 } } })).toMatch(/quantization\.tensors\.fc1\.scale: expected a scale in \[1.2e-38, 3.4e\+38\], got 0/);
    expect(bad({ tensors: { nope: { scale: 1, zeroPoint: 0 } } })).toBe('model "q": quantization.tensors["nope"]: not a tensor of this model ("input" or a layer name)');
    expect(bad({ weights: { fc1: [1, 1] } })).toBe('model "q": quantization.weights["fc1"]: expected 3 scales (one per output channel), got 2');
    expect(bad({ weights: { flat: [1] } })).toBe('model "q": quantization.weights["flat"]: not a conv2d or dense layer of this model');
  });
});
