/**
 * ONNX backend conformance: every case of Debian's libonnx-testdata (the ONNX project's
 * node tests, /usr/share/libonnx-testdata/data/node/<case>/model.onnx with
 * test_data_set_*) that uses an op the importer claims is imported and run on the float32
 * reference engine, and compared with the expected outputs (relative error <= 1e-4 over
 * the tensor). Per-op pass counts are printed; every failing case, with its reason, is in
 * test/fixtures/onnx-conformance-failures.json and the test asserts the failures are
 * exactly those (regenerate it with UPDATE_ONNX_CONFORMANCE=1 after a deliberate change).
 *
 * How a node test becomes a tinytrain model (the harness, not the importer, does this):
 *  - graph inputs after the first are given by the test data: they become initializers
 *    (tinytrain models have one run-time input; weights are constants);
 *  - a batch of N samples, where the output keeps the batch axis, runs as N batch-1 runs;
 *  - the importer's test-only `appendFlatten` reads outputs that are not [1, classes].
 * Then, where the imported model is a classifier tinytrain can compile, the int8 runtime
 * runs it too (the last test).
 *
 * Needs `apt-get install libonnx-testdata` (scripts/setup-onnx.sh); fails, not skips, without it.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { importOnnx, type OnnxImport } from '../compiler/frontend/onnx/index.js';
import { decodeModel, decodeTensorProto, encodeModel, type OnnxModel, type OnnxTensor, type OnnxValueInfo } from '../compiler/frontend/onnx/proto.js';
import { readTensor } from '../compiler/frontend/onnx/tensor.js';
import { ROOT, int8ErrorBound, onnxSampleToOurs, relError, runImportedFloat } from './support/onnx.js';
import { ArtifactCache } from './support/models.js';
import { hwcToNchw } from '../compiler/frontend/onnx/index.js';
import { quantizeSpec } from '../compiler/index.js';
import { Runtime } from '../host/runtime.js';
import { getTarget } from '../targets/index.js';

const DATA = '/usr/share/libonnx-testdata/data/node';
const FAILURES_FILE = join(ROOT, 'test', 'fixtures', 'onnx-conformance-failures.json');
const TOLERANCE = 1e-4;

/** The ops the importer claims to run (shape ops on constants only are not listed: node tests feed them run-time data). */
export const CLAIMED = [
  'Conv',
  'Gemm',
  'MatMul',
  'Relu',
  'Clip',
  'Add',
  'AveragePool',
  'MaxPool',
  'Pad',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'LeakyRelu',
  'PRelu',
  'Mul',
  'Sub',
  'Div',
  'Concat',
  'GlobalAveragePool',
  'Flatten',
  'Reshape',
  'Squeeze',
  'Unsqueeze',
  'BatchNormalization',
  'Softmax',
  'LogSoftmax',
  'Identity',
  'Dropout',
  'QuantizeLinear',
  'DequantizeLinear',
];

/** Shape-only helpers a case may also contain; and ops whose result does not depend on the input's rank. */
const HELPERS = ['Constant', 'Shape', 'Gather', 'Cast'];
const ELEMENTWISE = ['Relu', 'Clip', 'Identity', 'Dropout', 'Add', 'Constant', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'PRelu', 'Mul', 'Sub', 'Div'];

interface CaseResult {
  name: string;
  ops: string[];
  reason: string | null;
  imports: OnnxImport[];
}

function tensorValues(t: OnnxTensor, where: string): { dims: number[]; data: Float64Array } {
  const c = readTensor(t, where);
  return { dims: c.dims, data: c.data };
}

function dataSets(dir: string): { inputs: OnnxTensor[]; outputs: OnnxTensor[] }[] {
  return readdirSync(dir)
    .filter((d) => d.startsWith('test_data_set_'))
    .sort()
    .map((d) => {
      const files = readdirSync(join(dir, d));
      const read = (prefix: string): OnnxTensor[] =>
        files
          .filter((f) => f.startsWith(prefix))
          .sort((a, b) => parseInt(a.slice(prefix.length)) - parseInt(b.slice(prefix.length)))
          .map((f) => decodeTensorProto(readFileSync(join(dir, d, f)), f));
      return { inputs: read('input_'), outputs: read('output_') };
    });
}

/** Run one case; null reason = pass. */
function runCase(name: string): CaseResult {
  const dir = join(DATA, name);
  const original = decodeModel(readFileSync(join(dir, 'model.onnx')), name);
  const ops = [...new Set((original.graph?.node ?? []).map((n) => n.op_type ?? ''))];
  const imports: OnnxImport[] = [];
  try {
    for (const set of dataSets(dir)) {
      const model = structuredClone(original) as OnnxModel;
      const g = model.graph!;
      const inits = new Set(g.initializer.map((t) => t.name));
      const runtime = g.input.filter((v) => !inits.has(v.name));
      // Inputs after the first: constants from the test data.
      runtime.slice(1).forEach((v) => {
        const k = g.input.indexOf(v);
        const t = set.inputs[k];
        if (!t) return;
        g.initializer.push({ ...t, name: v.name });
      });
      const firstIndex = g.input.indexOf(runtime[0]!);
      const x = set.inputs[firstIndex];
      if (!x) throw new TinytrainError('harness: no test data for the first input');
      const dimsOf = (v: OnnxValueInfo): number[] => v.type?.tensor_type?.shape?.dim.map((d) => d.dim_value ?? 0) ?? [];
      const declared = dimsOf(runtime[0]!);
      // A batch of N whose outputs keep the batch axis: N runs of one sample.
      const n = declared.length === 2 || declared.length === 4 ? declared[0]! : 1;
      const split = n > 1 && g.output.every((o) => dimsOf(o)[0] === n);
      const setDims = (v: OnnxValueInfo, dims: (d: number[]) => number[]): void => {
        const t = v.type?.tensor_type;
        if (t?.shape) t.shape.dim = dims(t.shape.dim.map((d) => d.dim_value ?? 0)).map((d) => ({ dim_value: d }));
      };
      if (split) [runtime[0]!, ...g.output].forEach((v) => setDims(v, (d) => [1, ...d.slice(1)]));
      // Elementwise-only cases on ranks tinytrain does not take: the same data seen as [1, ...] (rank 4, or 2 for vectors).
      if (!split && (declared.length === 1 || declared.length === 3) && g.node.every((nd) => ELEMENTWISE.includes(nd.op_type ?? ''))) {
        const lift = (d: number[]): number[] => (d.length === 1 ? [1, ...d] : d.length === 3 ? [1, ...d] : d);
        [runtime[0]!, ...g.output].forEach((v) => setDims(v, lift));
        for (const t of g.initializer) if (t.dims.length === declared.length) t.dims = lift(t.dims.map(Number));
      }
      const imp = importOnnx(encodeModel(model), { appendFlatten: true }, 'model');
      imports.push(imp);
      const xv = tensorValues(x, 'input');
      const expected = set.outputs.map((t, i) => tensorValues(t, `output ${i}`));
      if (expected.length !== 1) throw new TinytrainError(`harness: ${expected.length} expected outputs`);
      const samples = split ? n : 1;
      const xPer = xv.data.length / samples;
      const yPer = expected[0]!.data.length / samples;
      for (let b = 0; b < samples; b++) {
        const y = runImportedFloat(imp, xv.data.subarray(b * xPer, (b + 1) * xPer));
        const want = expected[0]!.data.subarray(b * yPer, (b + 1) * yPer);
        if (y.length !== want.length) throw new TinytrainError(`output has ${y.length} values, expected ${want.length}`);
        const err = relError(y, want);
        if (!(err <= TOLERANCE)) throw new TinytrainError(`output differs: relative error ${err.toPrecision(2)} > ${TOLERANCE}`);
      }
    }
    return { name, ops, reason: null, imports };
  } catch (e) {
    if (!(e instanceof TinytrainError)) throw new Error(`${name}: ${(e as Error).stack}`);
    return { name, ops, reason: e.message.replace(/^model: |^ONNX model: /, ''), imports };
  }
}

describe('ONNX node conformance (libonnx-testdata)', () => {
  const available = existsSync(DATA);

  it('has the test data installed', () => {
    expect(available, `${DATA} is missing: run \`bash scripts/setup-onnx.sh\` (apt-get install libonnx-testdata)`).toBe(true);
  });

  const cases = available
    ? readdirSync(DATA)
        .sort()
        .filter((name) => {
          const m = decodeModel(readFileSync(join(DATA, name, 'model.onnx')), name);
          // Cases that test a claimed op: every node is claimed (or a shape helper), at least one is claimed.
          const ops = (m.graph?.node ?? []).map((n) => n.op_type ?? '');
          return ops.some((op) => CLAIMED.includes(op)) && ops.every((op) => CLAIMED.includes(op) || HELPERS.includes(op));
        })
    : [];
  let results: CaseResult[] = [];

  it('passes every case except the committed failures, each for its recorded reason', () => {
    results = cases.map(runCase);
    const failures: Record<string, string> = {};
    for (const r of results) if (r.reason !== null) failures[r.name] = r.reason;
    // Per-op pass counts (a case counts for every claimed op it uses).
    const rows = CLAIMED.map((op) => {
      const mine = results.filter((r) => r.ops.includes(op));
      return { op, pass: mine.filter((r) => r.reason === null).length, total: mine.length };
    });
    console.log(
      `ONNX node conformance: ${results.filter((r) => r.reason === null).length}/${results.length} cases pass\n` +
        rows.map((r) => `  ${r.op.padEnd(20)} ${String(r.pass).padStart(3)}/${r.total}`).join('\n'),
    );
    if (process.env.UPDATE_ONNX_CONFORMANCE) {
      writeFileSync(FAILURES_FILE, JSON.stringify({ passCounts: rows, failures }, null, 2) + '\n');
    }
    const committed = JSON.parse(readFileSync(FAILURES_FILE, 'utf8')) as { passCounts: typeof rows; failures: Record<string, string> };
    expect(failures).toEqual(committed.failures);
    expect(rows).toEqual(committed.passCounts);
    expect(cases.length).toBeGreaterThan(100);
  });

  /**
   * The int8 runtime where it is meaningful: passing cases that have a conv or dense layer
   * (something to quantise and train). Each is compiled (calibrated on its test input, with
   * the input range set to the test input's), run with the input quantised by the
   * manifest's (scale, zero point), and compared with the expected output within the
   * 'float' bound derived from the scales (test/support/onnx.ts int8ErrorBound).
   */
  it('int8 runtime on the passing cases with a conv or dense layer, within the derived bound', async () => {
    if (results.length === 0) results = cases.map(runCase);
    const chosen = results.filter((r) => r.reason === null && r.imports.length === 1 && r.imports[0]!.spec.layers.some((l) => l.op === 'conv2d' || l.op === 'dense'));
    const cache = new ArtifactCache();
    const lines: string[] = [];
    try {
      for (const r of chosen) {
        const set = dataSets(join(DATA, r.name))[0]!;
        const imp = r.imports[0]!;
        const x = tensorValues(set.inputs[0]!, 'input').data;
        const want = tensorValues(set.outputs[0]!, 'output').data;
        const per = imp.input.dims.reduce((a, b) => a * b, 1); // one sample (a batch ran as batch-1 runs)
        const samples = x.length / per;
        const toOurs = (v: Float64Array): Float32Array => onnxSampleToOurs(v, imp.input.dims);
        const xs = Array.from({ length: samples }, (_, b) => toOurs(x.subarray(b * per, (b + 1) * per)));
        let lo = Infinity,
          hi = -Infinity;
        for (const v of x) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        const spec = { ...imp.spec, inputRange: [Math.min(lo, 0), Math.max(hi, lo + 1e-3, 0)] as [number, number] };
        const { quant } = quantizeSpec(spec, xs);
        const bound = int8ErrorBound(quant, 'float');
        const art = await cache.get(r.name, spec, { target: getTarget('desktop'), calibration: xs });
        const rt = await Runtime.load(art.loaded);
        const inQ = art.loaded.manifest.inputs[0]!;
        let worst = 0;
        const yPer = want.length / samples;
        xs.forEach((xb, b) => {
          const mem = new Int8Array(rt.bytes().buffer, inQ.offset, xb.length);
          for (let i = 0; i < xb.length; i++) mem[i] = Math.max(-128, Math.min(127, Math.round(xb[i]! / inQ.scale) + inQ.zeroPoint));
          rt.predict();
          let y = rt.logits();
          const o = imp.output.chw;
          if (o) y = hwcToNchw(y, o.c, o.h, o.w);
          for (let k = 0; k < yPer; k++) worst = Math.max(worst, Math.abs(y[k]! - want[b * yPer + k]!));
        });
        lines.push(`  ${r.name.padEnd(44)} max |diff| ${worst.toExponential(2)}  bound ${bound.toExponential(2)}`);
        expect(worst, r.name).toBeLessThanOrEqual(bound);
      }
    } finally {
      cache.dispose();
      console.log(`int8 runtime on ${chosen.length} conformance cases:\n${lines.join('\n')}`);
    }
    expect(chosen.length).toBeGreaterThanOrEqual(10);
  }, 600_000); // one compile (three asc builds) per case, in sequence: minutes on a loaded 2-core machine
});
