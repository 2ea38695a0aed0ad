/**
 * The kernels' calling convention (compiler/formats/kernel-records.ts, issue 12): every
 * kernel a program step calls takes a pointer to its parameter record and at most a few
 * run-time arguments, and no function of the library takes more than a handful.
 *
 *  - parameter counts, from the TypeScript AST of assembly/kernels/*.ts: at most
 *    MAX_PARAMS everywhere but the listed must-inline SIMD helpers;
 *  - the library exports every kernel of the table with the record address and the
 *    table's run-time arguments;
 *  - each record's fields read back in AssemblyScript (through the generated classes of
 *    assembly/kernels/records.ts) exactly as the TS writer put them;
 *  - the writer refuses a field an entry point does not take.
 * That kernels never write their records is checked on every call the kernel tests make
 * (test/support/kernel-module.ts).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeRecord, type Field } from '../compiler/formats/format.js';
import { recordClassName } from '../compiler/formats/generate-kernels.js';
import { libraryKernels, libraryRecords } from '../compiler/formats/kernel-library.js';
import { KERNEL_RECORDS, kernelRecord, type RecordFormat } from '../compiler/formats/kernel-records.js';
import { compileAs, instantiateAs, loadKernels, type KernelModule } from './support/kernel-module.js';

const KERNELS_DIR = join(import.meta.dirname, '..', 'assembly', 'kernels');
/** Every kernel and record: the shared table's and the ops' own (OpDef.kernels). */
const KERNELS = libraryKernels();
const RECORDS = libraryRecords();
const MAX_PARAMS = 6;

/**
 * The functions allowed more parameters, and why: each is @inline (no call at run time)
 * and sits in a hot loop whose operands are already in registers there; passing the
 * record instead would reload its fields per call.
 */
const EXCEPTIONS: Record<string, string> = {
  'conv2d-wgrad-simd.ts update4': 'the 4 lanes of a gradient vector and the update rule operands, per 4 weights of the fused update',
  'sparse.ts requant16': "4 accumulator vectors and one channel's requantisation operands, per channel of a 16-pixel tile",
  'sparse.ts requant4': 'a vector and the 64-bit requantisation constants, 4 times per requant16',
};

interface Fn {
  where: string;
  params: number;
  inline: boolean;
  exported: boolean;
}

function functionsOf(file: string): Fn[] {
  const src = ts.createSourceFile(file, readFileSync(join(KERNELS_DIR, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const out: Fn[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) && n.name) {
      const mods = (n.modifiers ?? []) as readonly ts.ModifierLike[];
      out.push({
        where: `${file} ${n.name.getText()}`,
        params: n.parameters.length,
        inline: mods.some((m) => ts.isDecorator(m) && m.expression.getText() === 'inline'),
        exported: mods.some((m) => m.kind === ts.SyntaxKind.ExportKeyword),
      });
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return out;
}

const ALL = readdirSync(KERNELS_DIR)
  .filter((f) => f.endsWith('.ts'))
  .flatMap(functionsOf);

describe('kernel parameters', () => {
  it('the AST sees the library (every kernel of the table is a function of its file)', () => {
    expect(ALL.length).toBeGreaterThan(80);
    for (const k of KERNELS) expect(ALL.some((f) => f.where === `${k.file}.ts ${k.name}` && f.exported)).toBe(true);
  });

  it(`no function takes more than ${MAX_PARAMS} parameters but the listed must-inline helpers`, () => {
    const over = ALL.filter((f) => f.params > MAX_PARAMS);
    expect(over.map((f) => f.where).sort()).toEqual(Object.keys(EXCEPTIONS).sort());
    for (const f of over) expect(f.inline, `${f.where} is an exception only because it is inlined`).toBe(true);
  });

  it('each kernel takes its record address and its run-time arguments, at most five in all', () => {
    for (const k of KERNELS) {
      const f = ALL.find((x) => x.where === `${k.file}.ts ${k.name}`)!;
      expect(f.params, k.name).toBe((k.record ? 1 : 0) + k.args.length);
      expect(f.params, k.name).toBeLessThanOrEqual(5);
    }
  });
});

describe('the kernel library', () => {
  let simd: KernelModule;
  let scalar: KernelModule;
  beforeAll(async () => {
    [simd, scalar] = await Promise.all([loadKernels({ simd: true }), loadKernels({ simd: false })]);
  }, 180_000);

  it('exports every kernel of the table with the record address and the run-time arguments', () => {
    for (const k of [simd, scalar]) {
      for (const spec of KERNELS) {
        const f = k.exports[spec.name] as (...a: unknown[]) => unknown;
        expect(f.length, spec.name).toBe((spec.record ? 1 : 0) + spec.args.length);
      }
    }
  });
});

/** A value for every field of a record, different from field to field (and from 0). */
function sampleValues(r: RecordFormat): Record<string, number | boolean> {
  return Object.fromEntries(
    r.fields.map((f, i) => {
      const v = { ptr: 0x10000 + 16 * i, u32: 3000000000 + i, i32: -1000 - i, f32: Math.fround(0.1 * (i + 1)), bool: i % 2 === 0, ascii16: 0 }[f.type];
      return [f.name, v];
    }),
  );
}

/** AssemblyScript that reads every field of `r` through its generated class and stores it, as f64, at out + 8 i. */
function echoFunction(r: RecordFormat): string {
  const cls = recordClassName(r);
  const reads = r.fields.map((f: Field, i) => `  store<f64>(out, ${f.type === 'bool' ? `r.${f.name} ? 1.0 : 0.0` : `<f64>r.${f.name}`}, ${8 * i});`);
  return [`export function echo${cls}(at: usize, out: usize): void {`, `  const r = changetype<${cls}>(at);`, ...reads, '}'].join('\n');
}

describe('kernel records', () => {
  it('every field reads back in AssemblyScript as the writer put it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinytrain-records-echo-'));
    try {
      copyFileSync(join(KERNELS_DIR, 'records.ts'), join(dir, 'records.ts'));
      const names = RECORDS.map(recordClassName);
      writeFileSync(join(dir, 'echo.ts'), [`import { ${names.join(', ')} } from './records';`, ...RECORDS.map(echoFunction)].join('\n\n'));
      const { memory, exports } = await instantiateAs(await WebAssembly.compile(await compileAs(join(dir, 'echo.ts'), false)));
      const at = 1 << 16;
      const out = at + 4096;
      for (const r of RECORDS) {
        const values = sampleValues(r);
        new Uint8Array(memory.buffer, at, r.bytes).set(writeRecord(r, values));
        (exports[`echo${recordClassName(r)}`] as (a: number, o: number) => void)(at, out);
        const got = new Float64Array(memory.buffer, out, r.fields.length);
        expect(Array.from(got), r.id).toEqual(r.fields.map((f) => Number(values[f.name])));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a record extends its view: the view fields come first, at the same offsets', () => {
    for (const r of RECORDS.filter((x) => x.view)) {
      expect(r.fields.slice(0, r.view!.fields.length).map((f) => [f.name, f.type, f.offset])).toEqual(r.view!.fields.map((f) => [f.name, f.type, f.offset]));
    }
  });

  it('an entry point is refused a field it does not take, and gets 0 for it', () => {
    const rows = { x: 16, y: 32, H: 2, W: 2, C: 1, zx: 0, w: 48, bias: 64, mult: 80, shift: 96, OH: 2, OW: 2, CO: 1, zy: 0, lo: -128, hi: 127 };
    const conv = { ...rows, KH: 1, KW: 1, strideH: 1, strideW: 1, padH: 0, padW: 0, depthwise: false, w2: 0, split: 0 };
    const bytes = kernelRecord('conv2dForwardS8', conv);
    expect(new DataView(bytes.buffer).getUint32(KERNEL_RECORDS.find((r) => r.id === 'CONV_FORWARD')!.offset.inRing, true)).toBe(0);
    expect(() => kernelRecord('conv2dForwardS8', { ...conv, inRing: 3 } as never)).toThrow(/does not take inRing/);
    expect(() => kernelRecord('conv2dForwardRowsS8', conv as never)).toThrow(/field inRing is missing/);
  });
});
