/**
 * Model and scheme validation (compiler/ir/model-schema.ts, model-refs.ts, limits.ts,
 * compiler/scheme/parse.ts) and the check on emitted sources (compiler/codegen/
 * no-user-text.ts): each rule refuses what it should with a message naming the field,
 * and accepts the odd-but-honest inputs it should.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TinytrainError } from '../compiler/errors.js';
import { assertNoUserText } from '../compiler/codegen/no-user-text.js';
import { loadModelFile } from '../compiler/frontend/index.js';
import { buildGraph, hasParams } from '../compiler/ir/graph.js';
import { LIMITS } from '../compiler/ir/limits.js';
import type { ModelSpec } from '../compiler/ir/model.js';
import { f32ToBase64, loadParams } from '../compiler/ir/params.js';
import { schemeFromJson } from '../compiler/scheme/parse.js';
import { splitChannels } from '../compiler/scheme/scheme.js';
import { classify } from '../host/profile/profile.js';
import { mnistCnn, mlp } from './support/models.js';

const work = mkdtempSync(join(tmpdir(), 'tinytrain-validation-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function refusal(f: () => unknown): TinytrainError {
  try {
    f();
  } catch (e) {
    if (e instanceof TinytrainError) return e;
    throw e;
  }
  throw new Error('expected a TinytrainError');
}

function edited(edit: (s: ModelSpec & Record<string, unknown>) => void): ModelSpec {
  const s = mnistCnn() as ModelSpec & Record<string, unknown>;
  edit(s);
  return s;
}

describe('model schema', () => {
  it.each<[string, (s: ModelSpec & Record<string, unknown>) => void, RegExp]>([
    [
      'negative kernel',
      (s) => {
        (s.layers[0] as { kernel: number }).kernel = -1;
      },
      /layers\[0\]\.kernel \(layer "stem"\): expected a positive integer <= 64, got -1/,
    ],
    [
      'kernel over the limit',
      (s) => {
        (s.layers[0] as { kernel: number }).kernel = 65;
      },
      /layers\[0\]\.kernel \(layer "stem"\): .*got 65/,
    ],
    [
      'unknown key',
      (s) => {
        (s.layers[2] as Record<string, unknown>).kernal = 3;
      },
      /layers\[2\]: unknown key "kernal"/,
    ],
    [
      'unknown op',
      (s) => {
        (s.layers[1] as { op: string }).op = 'conv3d';
      },
      /layers\[1\]\.op \(layer "dw1"\): expected op to be one of conv2d.*got "conv3d"/,
    ],
    [
      'newline in a name',
      (s) => {
        s.layers[1]!.name = 'a\nb';
      },
      /layers\[1\]\.name: names may not contain control.*got "a\\nb"/,
    ],
    [
      'bidi override in a name',
      (s) => {
        s.layers[1]!.name = '\u202eevil';
      },
      /layers\[1\]\.name: names may not contain/,
    ],
    [
      'too long a name',
      (s) => {
        s.name = 'x'.repeat(LIMITS.maxNameLength + 1);
      },
      /name: expected a name of at most 256 characters/,
    ],
    [
      'empty name',
      (s) => {
        s.name = '';
      },
      /name: expected a non-empty name/,
    ],
    [
      'duplicate name',
      (s) => {
        s.layers[2]!.name = s.layers[1]!.name;
      },
      /layers\[2\]\.name: duplicate layer name/,
    ],
    [
      'a layer called input',
      (s) => {
        s.layers[0]!.name = 'input';
      },
      /layers\[0\]\.name: 'input' names the model input/,
    ],
    [
      'input of a later layer',
      (s) => {
        s.layers[1]!.inputs = [s.layers[3]!.name!];
      },
      /layers\[1\]\.inputs\[0\] \(layer "dw1"\): expected "input" or the name of a layer above/,
    ],
    [
      'NaN',
      (s) => {
        s.inputRange = [0, NaN];
      },
      /inputRange\[1\]: expected a finite number/,
    ],
    [
      'reversed input range',
      (s) => {
        s.inputRange = [1, 0];
      },
      /inputRange: expected min < max, got \[1, 0\]/,
    ],
    [
      'reversed calibration range',
      (s) => {
        s.calibration = { input: [1, 0] };
      },
      /calibration\.input: expected lo <= hi/,
    ],
    [
      'huge calibration range',
      (s) => {
        s.calibration = { input: [0, 1e300] };
      },
      /calibration\.input\[1\]: expected a finite number of magnitude <= 3.4e\+38/,
    ],
    [
      'zero scale',
      (s) => {
        s.quantization = { tensors: { input: { scale: 0, zeroPoint: 0 } } };
      },
      /quantization\.tensors\.input\.scale: expected a scale in/,
    ],
    [
      'zero point out of int8',
      (s) => {
        s.quantization = { tensors: { input: { scale: 1, zeroPoint: 128 } } };
      },
      /zeroPoint: expected an integer zero point in -128\.\.127, got 128/,
    ],
    [
      'too many layers',
      (s) => {
        s.layers = Array.from({ length: LIMITS.maxLayers + 1 }, () => ({ op: 'relu' as const }));
      },
      /layers: expected at most 4096 layers/,
    ],
    [
      'no layers',
      (s) => {
        s.layers = [];
      },
      /layers: expected at least one layer/,
    ],
    [
      'wrong format',
      (s) => {
        (s as Record<string, unknown>).format = 'keras';
      },
      /format: expected "tinytrain-model@1", got "keras"/,
    ],
    [
      'not base64',
      (s) => {
        s.params = { stem: { weight: '<script>', bias: '' } };
      },
      /params\.stem\.weight: expected base64 text/,
    ],
  ])('%s', (_, edit, message) => {
    const e = refusal(() => buildGraph(edited(edit)));
    expect(e.message).toMatch(message);
    expect(e.hint).toBeTruthy();
  });

  it('lists at most three problems, and counts the rest', () => {
    const e = refusal(() =>
      buildGraph(
        edited((s) => {
          for (const l of s.layers) (l as Record<string, unknown>).extra = 1;
        }),
      ),
    );
    expect(e.message).toMatch(/\(and \d+ more\)$/);
    expect(e.message.split('unknown key').length - 1).toBe(3);
  });

  it('accepts odd but printable names, and names that are words of the generated code', () => {
    const names = ['/features/0/Conv', 'conv 1 (copy)', '*/ unreachable(); /*', 'é名前😀', 'constructor', 'forward', 'n3_conv2d', 'x'.repeat(LIMITS.maxNameLength)];
    const spec = edited((s) => {
      s.layers.slice(0, names.length).forEach((l, i) => {
        const old = l.name!;
        l.name = names[i]!;
        for (const m of s.layers) if (m.inputs) m.inputs = m.inputs.map((t) => (t === old ? names[i]! : t)) as [string, string];
      });
    });
    expect(
      buildGraph(spec)
        .nodes.map((n) => n.name)
        .slice(0, names.length),
    ).toEqual(names);
  });
});

describe('limits on shapes and parameters', () => {
  it('refuses a tensor over the element limit before any planning', () => {
    const spec: ModelSpec = { format: 'tinytrain-model@1', name: 'big', input: [4096, 4096, 8], layers: [{ op: 'globalavgpool' }, { op: 'dense', units: 2 }] };
    expect(refusal(() => buildGraph(spec)).message).toMatch(/input \[4096,4096,8\] has 134217728 elements, more than the limit of 67108864/);
    const wide: ModelSpec = {
      format: 'tinytrain-model@1',
      name: 'wide',
      input: [1024, 1024, 3],
      layers: [{ op: 'conv2d', filters: 128, kernel: 1 }, { op: 'globalavgpool' }, { op: 'dense', units: 2 }],
    };
    expect(refusal(() => buildGraph(wide)).message).toMatch(/output \[1024,1024,128\] has 134217728 elements, more than the limit of 67108864/);
  });

  it('refuses more parameters than the limit', () => {
    const spec: ModelSpec = { format: 'tinytrain-model@1', name: 'fat', input: [64, 64, 64], layers: [{ op: 'flatten' }, { op: 'dense', units: 512 }] };
    expect(refusal(() => buildGraph(spec)).message).toMatch(/weights, more than the limit of 67108864/);
  });
});

describe('parameters, calibration and quantisation against the graph', () => {
  const floats = (n: number, v = 0.1): string => f32ToBase64(new Float32Array(n).fill(v));

  it('params must decode to exactly the right number of finite float32s', () => {
    const spec = mlp(4);
    const g = buildGraph(spec);
    const [h1, out] = g.nodes.filter((n) => n.op === 'dense');
    const good = { [h1!.name]: { weight: floats(28 * 28 * 4), bias: floats(4) }, [out!.name]: { weight: floats(4 * 10), bias: floats(10) } };
    expect(() => buildGraph({ ...spec, params: good })).not.toThrow();
    expect(refusal(() => buildGraph({ ...spec, params: { ...good, [h1!.name]: { weight: floats(3), bias: floats(4) } } })).message).toMatch(
      /params\[".*"\]\.weight: expected 3136 float32 values \(12544 bytes\), found 12 bytes/,
    );
    expect(refusal(() => buildGraph({ ...spec, params: { ...good, [out!.name]: { weight: floats(40), bias: floats(10, NaN) } } })).message).toMatch(
      /\.bias: value 0 is NaN; parameters must be finite/,
    );
    expect(refusal(() => buildGraph({ ...spec, params: { ...good, nothere: { weight: '', bias: '' } } })).message).toMatch(/params\["nothere"\]: not a conv2d or dense layer/);
  });

  it('calibration and quantisation must name tensors of the model', () => {
    expect(
      refusal(() =>
        buildGraph(
          edited((s) => {
            s.calibration = { nothere: [0, 1] };
          }),
        ),
      ).message,
    ).toMatch(/calibration\["nothere"\]: not a tensor of this model/);
    expect(
      refusal(() =>
        buildGraph(
          edited((s) => {
            s.quantization = { weights: { stem: [1, 2] } };
          }),
        ),
      ).message,
    ).toMatch(/quantization\.weights\["stem"\]: expected 8 scales/);
  });

  it('a layer called "constructor" does not pick up Object.prototype as stored params', () => {
    const spec = edited((s) => {
      const old = s.layers[0]!.name!;
      s.layers[0]!.name = 'constructor';
      for (const m of s.layers) if (m.inputs) m.inputs = m.inputs.map((t) => (t === old ? 'constructor' : t)) as [string, string];
      s.params = {};
    });
    expect(loadParams(buildGraph(spec), spec).get('constructor')!.weight.length).toBe(72);
  });

  it('a model file error names the file', () => {
    const path = join(work, 'bad.json');
    writeFileSync(
      path,
      JSON.stringify(
        edited((s) => {
          (s.layers[0] as { stride: number }).stride = 0;
        }),
      ),
    );
    expect(refusal(() => loadModelFile(path)).message).toMatch(
      /^model file .*bad\.json: model "mnist-cnn": layers\[0\]\.stride \(layer "stem"\): expected a positive integer <= 64, got 0/,
    );
  });
});

describe('scheme schema', () => {
  const g = buildGraph(mnistCnn());
  const refuse = (json: unknown): string => refusal(() => schemeFromJson(g, json, 'test.json')).message;

  it('our form: unknown layers, keys and ratios are refused by field', () => {
    expect(refuse({ layers: { nothere: { bias: true } } })).toMatch(/layers\["nothere"\]: not a conv\/dense layer of model "mnist-cnn"/);
    expect(refuse({ layers: { pool: { bias: true } } })).toMatch(/layers\["pool"\]: not a conv\/dense layer/);
    expect(refuse({ layers: { stem: { bias: true, weightratio: 1 } } })).toMatch(/layers\.stem: unknown key "weightratio"/);
    expect(refuse({ layers: { stem: { weightRatio: 0.3 } } })).toMatch(/layers\.stem\.weightRatio: expected a weight ratio: 0, 1\/8, 1\/4, 1\/2 or 1, got 0\.3/);
    expect(refuse({ layers: { stem: { bias: 'yes' } } })).toMatch(/layers\.stem\.bias: expected true or false/);
    expect(refuse({ layers: { stem: null } })).toMatch(/layers\.stem: /);
    expect(refuse({ layers: {}, extra: 1 })).toMatch(/unknown key "extra"/);
  });

  it('ratios snap to the exact allowed value (5e-324 is 0, not one channel)', () => {
    const s = schemeFromJson(g, { layers: { stem: { weightRatio: 5e-324 }, fc: { weightRatio: 0.12500000001 } } }, 't');
    expect(s.layers.get('stem')!.weightRatio).toBe(0);
    expect(s.layers.get('fc')!.weightRatio).toBe(0.125);
  });

  it("the reference's form means what it means in the reference and refuses what it cannot mean", () => {
    const params = g.nodes.filter(hasParams);
    const head = params.length - 1;
    const s = schemeFromJson(g, { n_bias_update: 2, manual_weight_idx: [head - 2], weight_update_ratio: [0.5], weight_select_criteria: 'magnitude+' }, 't');
    // n counts the layers before the classifier; the classifier always trains, weight and bias.
    expect([...s.layers].filter(([, t]) => t.bias).map(([n]) => n)).toEqual(params.slice(-3).map((n) => n.name));
    expect(s.layers.get(params[head]!.name)).toEqual({ bias: true, weightRatio: 1 });
    const c = splitChannels(params[head - 2]!);
    expect(s.layers.get(params[head - 2]!.name)!.weightRatio).toBe(Math.floor(c / 2) / c);
    expect(refuse({ n_bias_update: params.length })).toMatch(/n_bias_update: expected an integer in 0\.\.8 \(the model's conv\/dense layers before the classifier\)/);
    expect(refuse({ n_bias_update: -1 })).toMatch(/n_bias_update: expected a layer count/);
    expect(refuse({ n_bias_update: 2, manual_weight_idx: [head] })).toMatch(/manual_weight_idx\[0\]: 8 is not a conv\/dense layer index before the classifier \(0\.\.7\)/);
    expect(refuse({ n_bias_update: 2, manual_weight_idx: [7, 7] })).toMatch(/manual_weight_idx\[1\]: 7 after 7: the indices must be increasing/);
    expect(refuse({ n_bias_update: 2, manual_weight_idx: [1] })).toMatch(/manual_weight_idx\[0\]: layer 1 is outside the bias-trained range 6\.\.7/);
    expect(refuse({ n_bias_update: 2, manual_weight_idx: [6, 7], weight_update_ratio: [1] })).toMatch(/2 entries but weight_update_ratio has 1/);
    expect(refuse({ n_bias_update: 2, manual_weight_idx: [7], weight_update_ratio: [1.5] })).toMatch(/weight_update_ratio\[0\]: expected a weight ratio in \[0, 1\]/);
    expect(refuse({ n_bias_update: 1, weight_select_criteria: 'magnitude' })).toMatch(/weight_select_criteria: expected "magnitude\+"/);
    expect(refuse({ n_bias_update: 1, pw1_weight_only: 1 })).toMatch(/pw1_weight_only: expected 0/);
    expect(refuse({ n_bias_update: 1, layers: {} })).toMatch(/mixes our "layers" form/);
    expect(refuse([1])).toMatch(/not a JSON object/);
  });
});

describe('the check on emitted sources', () => {
  const template = 'function forward(): void {}\n// Resets optimizer and runtime state\n';

  it('finds a name with syntax wherever it occurs', () => {
    const name = '*/ unreachable(); /*';
    expect(() => assertNoUserText(`/*step 1*/ f(); // ${name}\n`, [name], template)).toThrow(/contains the model's name/);
    expect(() => assertNoUserText(`// x\nexport function evil(): void {}\n`, ['x\nexport function evil(): void {}'], template)).toThrow(/contains the model's name/);
  });

  it('finds a plain-word name used as a word, but not the template words or labels it shares', () => {
    expect(() => assertNoUserText('f(); // stem\n', ['stem'], template)).toThrow(/"stem"/);
    expect(() => assertNoUserText('f(); // stemcell\n', ['stem'], template)).not.toThrow();
    expect(() => assertNoUserText('function forward(): void {} // state n3_conv2d\n', ['forward', 'state', 'n3_conv2d', '16'], template)).not.toThrow();
  });

  it('refuses non-numbers and out-of-range numbers in code, not in comments', () => {
    expect(() => assertNoUserText('f(NaN);\n', [], template)).toThrow(/'NaN' where a number belongs/);
    expect(() => assertNoUserText('f(undefined);\n', [], template)).toThrow(/'undefined'/);
    expect(() => assertNoUserText('f(4294967296);\n', [], template)).toThrow(/does not fit 32 bits/);
    expect(() => assertNoUserText('f(1e+21);\n', [], template)).toThrow(/outside an f32 constant/);
    expect(() => assertNoUserText('f(<f32>1e-7, <f32>-0.5, 4294967295); // NaN 1e99\n', [], template)).not.toThrow();
  });
});

describe('profiler layer names from labels', () => {
  const names = new Map([
    ['n0_conv2d', 'stem one'],
    ['n1_conv2d', '/features/1/Conv'],
    ['n9_avgpool', 'pool'],
  ]);
  it('maps the labels of a step comment to the model names (names may contain spaces)', () => {
    expect(classify('forward stem one', 'n0_conv2d', names)).toEqual({ phase: 'forward', layer: 'stem one' });
    expect(classify('forwardStream', 'n0_conv2d -> n1_conv2d', names)).toEqual({ phase: 'forward', layer: 'stem one -> /features/1/Conv' });
    expect(classify('gapHeadBackward pool', 'n9_avgpool + n10_conv2d', names)).toEqual({ phase: 'backward', layer: 'pool' });
    expect(classify('weightUpdate stem one (8 ch)', '', new Map())).toEqual({ phase: 'update', layer: 'stem one' });
  });
});
