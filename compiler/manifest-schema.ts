/**
 * The shape of manifest.json, checked with zod before any field is used. A manifest is
 * user input like any other file: it may be hand-edited, truncated or from another
 * version. This schema checks types and ranges field by field; host/artifact-verify.ts
 * checks that the fields agree with each other and with the files.
 *
 * The type agreement with the hand-written `Manifest` interface (compiler/manifest.ts,
 * where each field is documented) is checked at compile time at the bottom, so the two
 * cannot drift apart.
 */
import { z } from 'zod';
import type { SchemaAgrees } from './schema-agreement.js';
import type { Manifest } from './manifest.js';
import { LOSS_KINDS } from './loss.js';

/** Offsets and sizes inside a 32-bit WASM linear memory. */
const u32 = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);
const count = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1);
const finite = z.number().refine(Number.isFinite, 'expected a finite number');
const positive = finite.refine((v) => v > 0, 'expected a number > 0');
/** Names a manifest gives to layers and tensors: shown in messages, never used as paths or code. */
const label = z.string().max(4096);
/** A file of the artifact: a plain name inside its folder, never a path. */
export const ARTIFACT_FILE_NAME = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const fileName = z.string().regex(ARTIFACT_FILE_NAME, 'expected a plain file name inside the artifact folder (letters, digits, ._-; no "..")');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (sha256)');

const port = z.strictObject({
  name: label,
  offset: u32,
  shape: z
    .array(
      z
        .number()
        .int()
        .min(1)
        .max(2 ** 24),
    )
    .min(1)
    .max(4),
  dtype: z.literal('int8'),
  scale: positive,
  zeroPoint: z.number().int().min(-128).max(127),
  range: z
    .tuple([finite, finite])
    .refine(([lo, hi]) => lo < hi, 'expected [lo, hi] with lo < hi')
    .optional(),
  activation: z.enum(['none', 'softmax', 'logsoftmax', 'sigmoid']).optional(),
});

const breakdown = z.strictObject({
  savedActivationsBytes: count,
  gradientBytes: count,
  arenaBytes: count,
  trainedParamsBytes: count,
  optimizerStateBytes: count,
  runtimeStateBytes: count,
  staticDataBytes: count,
  frozenParamsBytes: count,
  kernelRecordsBytes: count,
  runtimeReserveBytes: count,
  codeBytes: count,
});

const accounting = z.strictObject({ referenceStyleBytes: count, allInclusiveBytes: count, stackBytes: count, stackSource: z.literal('target-reserve') });

export const manifestSchema = z.strictObject({
  format: z.literal('tinytrain-artifact@1'),
  model: label,
  target: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'expected a target name (see tinytrain targets)'),
  targetKind: z.enum(['mcu', 'mobile', 'desktop']),
  scheme: z.strictObject({
    name: label,
    layers: z
      .array(
        z.strictObject({
          name: label,
          bias: z.boolean(),
          weightRatio: finite.refine((r) => r >= 0 && r <= 1, 'expected a ratio in [0, 1]'),
          channels: count,
          splitChannels: count,
        }),
      )
      .max(100_000),
  }),
  optimizer: z.strictObject({
    kind: z.literal('sgd'),
    momentum: finite.refine((m) => m >= 0 && m < 1, 'expected a momentum in [0, 1)'),
    qas: z.boolean(),
    rounding: z.enum(['stochastic', 'nearest']),
  }),
  classes: z.number().int().min(1).max(65_535),
  inputs: z.array(port).length(1),
  outputs: z.array(port).length(1),
  files: z.strictObject({ wasm: fileName, wasmSimd: fileName, wasmScalar: fileName, wasmWasi: fileName, image: fileName }),
  integrity: z.record(fileName, z.strictObject({ bytes: count, sha256 })),
  image: z.strictObject({ offset: u32, bytes: count, sha256 }),
  checkpoint: z.strictObject({ offset: u32, bytes: count }),
  state: z.strictObject({ offset: u32 }),
  arena: z.strictObject({
    offset: u32,
    bytes: count,
    strategy: label,
    candidates: z.array(z.strictObject({ strategy: label, arenaBytes: count })).max(64),
    peakLiveBytes: count,
    reuse: z.boolean(),
  }),
  wasmMemoryBytes: z
    .number()
    .int()
    .min(65_536)
    .max(2 ** 32)
    .refine((b) => b % 65_536 === 0, 'expected a whole number of 64 KiB pages'),
  memory: z.strictObject({ sramPeakBytes: count, flashBytes: count, budgetBytes: count.optional(), breakdown, accounting }),
  buffers: z.array(z.strictObject({ key: label, offset: u32, bytes: count, first: count, last: count })).max(1_000_000),
  program: z.array(label).min(1).max(1_000_000),
  nodes: z.array(z.strictObject({ label, name: label, op: label })).max(100_000),
  lossStep: count,
  loss: z.strictObject({ kind: z.enum(LOSS_KINDS), targets: z.strictObject({ offset: u32, count: z.number().int().min(1).max(65_535) }).nullable() }).optional(),
  layoutId: z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 lowercase hex digits'),
  sparse: z
    .strictObject({
      prune: z.strictObject({ ratio: finite, mode: label, structure: label }).nullable(),
      flashSavedBytes: finite,
      layers: z
        .array(
          z.strictObject({
            name: label,
            structure: label,
            sparsity: finite,
            entries: count,
            pruned: z.boolean(),
            denseBytes: count,
            listBytes: count,
          }),
        )
        .max(100_000),
    })
    .optional(),
});

// Compile-time check: the schema accepts exactly the documented interface.
const schemaMatchesInterface: SchemaAgrees<z.infer<typeof manifestSchema>, Manifest> = true;
void schemaMatchesInterface;
