/**
 * Fuzzing the ONNX importer: thousands of mutated and truncated .onnx files, each of
 * which must either import into a valid tinytrain model or fail with a TinytrainError,
 * never anything else (no crash, no RangeError, no hang: every file is timed).
 *
 * Seeds: models built here with protobufjs (float and QDQ), the committed PyTorch
 * export, and small models from Debian's ONNX test data when installed. Mutations:
 * byte-level (truncate, flip bits, overwrite, insert, delete, duplicate ranges) and
 * structural (decode, change one field of the model, encode: dims, data types,
 * attributes, op types, input names, opsets, node order). Deterministic (seeded).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { forward } from '../compiler/float/network.js';
import { importOnnx } from '../compiler/frontend/onnx/index.js';
import { decodeModel, encodeModel } from '../compiler/frontend/onnx/proto.js';
import { buildGraph, shapeSize } from '../compiler/ir/graph.js';
import { loadParams } from '../compiler/ir/params.js';
import { Rng } from '../compiler/ir/rng.js';
import { INT8, ROOT, buildModel, floatTensor, int64Tensor, intTensor, node, valueInfo } from './support/onnx.js';
import { caseCount } from './tiers.js';

const BYTE_CASES = caseCount('onnx-fuzz.BYTE_CASES', 8000);
const STRUCT_CASES = caseCount('onnx-fuzz.STRUCT_CASES', 6000);
const SLOW_MS = 2000;

function seeds(): Uint8Array[] {
  const rng = new Rng(5);
  const f = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * 0.3);
  const out: Uint8Array[] = [];
  out.push(
    buildModel({
      nodes: [
        node('Conv', ['x', 'w1', 'b1'], ['c1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] }, 'conv1'),
        node('BatchNormalization', ['c1', 's', 'b', 'm', 'v'], ['bn'], { epsilon: { float: 1e-3 } }, 'bn'),
        node('Relu', ['bn'], ['r1'], {}, 'relu'),
        node('Conv', ['r1', 'dw'], ['d'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 4 }, 'dw'),
        node('Clip', ['d', 'zero', 'six'], ['d6'], {}, 'relu6'),
        node('Add', ['r1', 'd6'], ['res'], {}, 'add'),
        node('AveragePool', ['res'], ['p'], { kernel_shape: [2, 2], strides: [2, 2] }, 'pool'),
        node('Flatten', ['p'], ['fl'], { axis: 1 }, 'flatten'),
        node('Gemm', ['fl', 'fc', 'fcb'], ['logits'], { transB: 1 }, 'fc'),
        node('Softmax', ['logits'], ['y'], { axis: 1 }, 'softmax'),
      ],
      inputs: [valueInfo('x', [1, 2, 8, 8])],
      outputs: [valueInfo('y', [1, 5])],
      initializers: [
        floatTensor('w1', [4, 2, 3, 3], f(72)),
        floatTensor('b1', [4], f(4)),
        floatTensor('s', [4], [1, 1.1, 0.9, 1]),
        floatTensor('b', [4], f(4)),
        floatTensor('m', [4], f(4)),
        floatTensor('v', [4], [1, 2, 0.5, 1]),
        floatTensor('dw', [4, 1, 3, 3], f(36)),
        floatTensor('zero', [], [0]),
        floatTensor('six', [], [6]),
        floatTensor('fc', [5, 16], f(80)),
        floatTensor('fcb', [5], f(5)),
      ],
    }),
  );
  out.push(
    buildModel({
      nodes: [
        node('QuantizeLinear', ['x', 'xs', 'xz'], ['xq'], {}, 'xq'),
        node('DequantizeLinear', ['xq', 'xs', 'xz'], ['xd'], {}, 'xd'),
        node('DequantizeLinear', ['wq', 'ws'], ['w'], { axis: 0 }, 'wdq'),
        node('Conv', ['xd', 'w'], ['c'], { kernel_shape: [3, 3] }, 'conv1'),
        node('QuantizeLinear', ['c', 'cs', 'xz'], ['cq'], {}, 'cq'),
        node('DequantizeLinear', ['cq', 'cs', 'xz'], ['cd'], {}, 'cd'),
        node('GlobalAveragePool', ['cd'], ['g'], {}, 'gap'),
        node('Shape', ['g'], ['sh'], {}, 'shape'),
        node('Gather', ['sh', 'i0'], ['n'], { axis: 0 }, 'gather'),
        node('Unsqueeze', ['n', 'ax'], ['n1'], {}, 'unsq'),
        node('Concat', ['n1', 'm1'], ['ns'], { axis: 0 }, 'concat'),
        node('Reshape', ['g', 'ns'], ['fl'], {}, 'reshape'),
        node('MatMul', ['fl', 'mw'], ['mm'], {}, 'mm'),
        node('Add', ['mm', 'mb'], ['y'], {}, 'bias'),
      ],
      inputs: [valueInfo('x', ['N', 1, 6, 6])],
      outputs: [valueInfo('y', ['N', 3])],
      initializers: [
        floatTensor('xs', [], [1 / 255]),
        intTensor('xz', [], [-128], INT8),
        intTensor(
          'wq',
          [4, 1, 3, 3],
          Array.from({ length: 36 }, (_, i) => ((i * 37) % 255) - 127),
          INT8,
        ),
        floatTensor('ws', [4], [0.01, 0.02, 0.03, 0.04]),
        floatTensor('cs', [], [0.05]),
        int64Tensor('i0', [], [0]),
        int64Tensor('ax', [1], [0]),
        int64Tensor('m1', [1], [-1]),
        floatTensor('mw', [4, 3], f(12)),
        floatTensor('mb', [3], f(3)),
      ],
    }),
  );
  const torch = join(ROOT, 'examples', 'torch', 'mnist-torch.onnx');
  if (existsSync(torch)) out.push(readFileSync(torch));
  const data = '/usr/share/libonnx-testdata/data/node';
  for (const c of [
    'test_basic_conv_with_padding',
    'test_gemm_default_vector_bias',
    'test_averagepool_2d_strides',
    'test_batchnorm_example',
    'test_softmax_example',
    'test_reshape_reordered_all_dims',
    'test_quantizelinear_axis',
    'test_dropout_default_mask',
    'test_identity_sequence',
  ]) {
    const p = join(data, c, 'model.onnx');
    if (existsSync(p)) out.push(readFileSync(p));
  }
  // Mutations of files that import reach the op handlers; the others mostly stop at the model checks.
  const ok = out.filter((s) => importOrTinytrainError(s) === 'ok');
  return [...ok, ...ok, ...ok, ...out];
}

/** Import, and use what comes out: must end in success or a TinytrainError. */
function importOrTinytrainError(bytes: Uint8Array): 'ok' | 'refused' {
  try {
    const { spec } = importOnnx(bytes);
    const g = buildGraph(spec);
    const p = loadParams(g, spec);
    if (shapeSize(g.inputShape) <= 4096 && g.nodes.length <= 30) forward(g, p, new Float32Array(shapeSize(g.inputShape)).fill(0.5));
    return 'ok';
  } catch (e) {
    if (e instanceof TinytrainError) return 'refused';
    throw e;
  }
}

function mutateBytes(rng: Rng, s: Uint8Array): Uint8Array {
  const r = (n: number): number => rng.nextU32() % Math.max(1, n);
  const b = Uint8Array.from(s);
  switch (r(7)) {
    case 0:
      return b.subarray(0, r(b.length));
    case 1:
      for (let k = 1 + r(8); k > 0; k--) b[r(b.length)]! ^= 1 << r(8);
      return b;
    case 2:
      for (let k = 1 + r(4); k > 0; k--) b[r(b.length)] = [0, 0xff, 0x7f, 0x80, 0x01, r(256)][r(6)]!;
      return b;
    case 3: {
      const at = r(b.length);
      const ins = Uint8Array.from({ length: 1 + r(16) }, () => r(256));
      return concat(b.subarray(0, at), ins, b.subarray(at));
    }
    case 4: {
      const at = r(b.length);
      return concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r(64))));
    }
    case 5: {
      const at = r(b.length);
      const len = 1 + r(128);
      return concat(b.subarray(0, at), b.subarray(at, at + len), b.subarray(at));
    }
    default: {
      // a varint-looking length byte made huge
      const at = r(b.length);
      return concat(b.subarray(0, at), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f), b.subarray(at + 1));
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const INTERESTING = [0, 1, -1, 2, 3, 7, 64, 255, 256, 65536, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -7];
const OPS = [
  'Conv',
  'Gemm',
  'MatMul',
  'Relu',
  'Clip',
  'Add',
  'AveragePool',
  'GlobalAveragePool',
  'Flatten',
  'Reshape',
  'BatchNormalization',
  'Softmax',
  'LogSoftmax',
  'Identity',
  'Dropout',
  'QuantizeLinear',
  'DequantizeLinear',
  'Shape',
  'Gather',
  'Concat',
  'Squeeze',
  'Unsqueeze',
  'Cast',
  'Constant',
  'MaxPool',
  'Loop',
  '',
];

/** One random change to a decoded model, re-encoded. */
function mutateStructure(rng: Rng, s: Uint8Array): Uint8Array {
  const r = (n: number): number => rng.nextU32() % Math.max(1, n);
  const m = structuredClone(decodeModel(s, 'seed')) as unknown as Record<string, unknown> & { graph: Record<string, unknown[]> };
  const g = m.graph;
  const nodes = g.node as { op_type?: string; input: string[]; output: string[]; attribute: Record<string, unknown>[] }[];
  const inits = g.initializer as Record<string, unknown>[];
  const pickInt = (): number => INTERESTING[r(INTERESTING.length)]!;
  switch (r(12)) {
    case 10: {
      // a float initializer with new, consistent dims and data (reaches the shape checks of every op)
      const t = inits[r(inits.length)];
      if (t && t.data_type === 1) {
        const dims = Array.from({ length: r(5) }, () => 1 + r(4));
        const n = dims.reduce((a, b) => a * b, 1);
        t.dims = dims;
        t.raw_data = new Uint8Array(Float32Array.from({ length: n }, () => (r(2000) - 1000) / 500).buffer);
        delete t.float_data;
      }
      break;
    }
    case 11: {
      // small attribute values: kernels, pads, strides, groups, axes, flags
      const n = nodes[r(nodes.length)];
      const a = n?.attribute[r(n.attribute.length)];
      if (a) {
        if (Array.isArray(a.ints) && (a.ints as number[]).length) (a.ints as number[])[r((a.ints as number[]).length)] = r(7) - 2;
        else a.i = r(7) - 2;
      }
      break;
    }
    case 0: {
      const t = inits[r(inits.length)];
      if (t) {
        const d = t.dims as number[];
        if (d.length) d[r(d.length)] = pickInt();
        else t.dims = [pickInt()];
      }
      break;
    }
    case 1: {
      const t = inits[r(inits.length)];
      if (t) t.data_type = r(24);
      break;
    }
    case 2: {
      const n = nodes[r(nodes.length)];
      const a = n?.attribute[r(n.attribute.length)];
      if (a) {
        if (Array.isArray(a.ints) && (a.ints as number[]).length) (a.ints as number[])[r((a.ints as number[]).length)] = pickInt();
        else a.i = pickInt();
        if (r(4) === 0) a.type = r(15);
      }
      break;
    }
    case 3: {
      const n = nodes[r(nodes.length)];
      if (n) n.op_type = OPS[r(OPS.length)];
      break;
    }
    case 4: {
      const n = nodes[r(nodes.length)];
      if (n && n.input.length) {
        const all = nodes.flatMap((k) => k.output);
        n.input[r(n.input.length)] = r(3) ? (all[r(all.length)] ?? '') : '';
      }
      break;
    }
    case 5: {
      const o = (m.opset_import as { version?: number }[])[0];
      if (o) o.version = [1, 6, 10, 11, 13, 17, 21, 22, 23, 100][r(10)];
      break;
    }
    case 6: {
      if (nodes.length > 1) {
        const i = r(nodes.length),
          j = r(nodes.length);
        [nodes[i], nodes[j]] = [nodes[j]!, nodes[i]!];
      }
      break;
    }
    case 7: {
      const io = [...(g.input as { type?: { tensor_type?: { shape?: { dim: object[] } } } }[]), ...(g.output as never[])];
      const v = io[r(io.length)];
      const d = v?.type?.tensor_type?.shape?.dim;
      if (d && d.length) d[r(d.length)] = r(3) ? { dim_value: pickInt() } : { dim_param: 'n' };
      break;
    }
    case 8: {
      const n = nodes[r(nodes.length)];
      if (n) n.attribute.splice(r(n.attribute.length + 1), 1);
      break;
    }
    default: {
      const t = inits[r(inits.length)];
      if (t?.raw_data instanceof Uint8Array && t.raw_data.length) {
        const raw = Uint8Array.from(t.raw_data);
        raw[r(raw.length)] = r(256);
        t.raw_data = r(4) ? raw : raw.subarray(0, r(raw.length));
      }
      break;
    }
  }
  try {
    return encodeModel(m);
  } catch {
    return s; // protobufjs refused to encode the mutation (not a file a user can have)
  }
}

describe('ONNX importer fuzzing: mutated and truncated files', () => {
  const base = seeds();

  it.each([
    ['byte-level', BYTE_CASES, mutateBytes],
    ['structural', STRUCT_CASES, mutateStructure],
  ] as const)('%s mutations: %i files, each imported or refused with a TinytrainError, none slow', (kind, count, mutate) => {
    const rng = new Rng(kind === 'byte-level' ? 11 : 12);
    const tally = { ok: 0, refused: 0 };
    const messages = new Map<string, number>();
    let slowest = 0;
    for (let i = 0; i < count; i++) {
      let bytes = base[i % base.length]!;
      const rounds = [1, 1, 1, 1, 1, 1, 1, 2, 2, 3][rng.nextU32() % 10]!;
      for (let k = rounds; k > 0; k--) bytes = mutate(rng, bytes);
      const t0 = performance.now();
      let outcome: 'ok' | 'refused';
      try {
        outcome = importOrTinytrainError(bytes);
      } catch (e) {
        throw new Error(`${kind} case ${i}: not a TinytrainError: ${(e as Error).stack}\n  file (base64): ${Buffer.from(bytes).toString('base64')}`);
      }
      const ms = performance.now() - t0;
      slowest = Math.max(slowest, ms);
      expect(ms, `${kind} case ${i} took ${ms} ms`).toBeLessThan(SLOW_MS);
      tally[outcome]++;
      if (outcome === 'refused') {
        try {
          importOnnx(bytes);
        } catch (e) {
          const key = (e as Error).message.replace(/'[^']*'|\d+(\.\d+)?(e-?\d+)?/g, '_').slice(0, 70);
          messages.set(key, (messages.get(key) ?? 0) + 1);
        }
      }
    }
    const top = [...messages]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([m, n]) => `    ${String(n).padStart(5)}  ${m}`)
      .join('\n');
    console.log(`${kind}: ${count} files, ${tally.ok} imported, ${tally.refused} refused (TinytrainError), slowest ${slowest.toFixed(0)} ms\n  most common refusals:\n${top}`);
    expect(tally.ok + tally.refused).toBe(count);
  });
});
