// The WASI command variant of a compiled runtime: one training job per run.
//
// Build-dir layout (compiler/codegen/wasi.ts): this file is copied next to the generated
// model as main.ts, so `./model` is the runtime source and `./kernels/` its kernel library:
//
//   work/main.ts  work/model.ts  work/kernels/*.ts
//
// The job lives in the first preopened directory (fd 3), written by the host
// (host/engines/job.ts). The header's layout is described once in compiler/formats/job.ts
// and generated into ./job-format (copied beside this file like ./model):
//
//   job.bin          64-byte header, little-endian (JOB_AT_* in ./job-format)
//   image.bin        initial image, copied to [imageOffset, +imageBytes)
//   checkpoint.bin   checkpoint payload (no file header), only when JOB_FLAG_LOAD is set
//   samples.bin      sampleCount * sampleBytes int8, already quantised by the host
//   labels.bin       sampleCount u8
//   order.bin        steps u32: the sample index of each step
//   targets.bin      sampleCount * K f32, only when the model's loss trains on K target
//                    values (targetCount() > 0): read straight into its target buffer
//
// Output: checkpoint-out.bin (the checkpoint payload after training) and one JSON line
// on stdout: {"steps":N,"loss":x,"accuracy":y,"skipped":k}.
//
// Memory never grows: linear memory is fixed (initial = maximum pages) and the only
// memory this file uses beyond the compiled plan is SCRATCH, a fixed static region
// after the plan. Samples are read straight into the input offset, one per step, so the
// dataset is never held in linear memory. Nothing is allocated: no strings are built
// (messages are static literals, numbers are formatted into SCRATCH).
import {
  fd_close, fd_prestat_get, fd_pread, fd_read, fd_write, iovec, path_open, proc_exit,
  oflags, prestat, rights,
} from 'bindings/wasi_snapshot_preview1';
import { dtoa_buffered, itoa_buffered } from 'util/number';
import { init, lastPrediction, layoutId, stepsSkipped, targetCount, targetOffset, trainStep } from './model';
import {
  JOB_AT_CK_BYTES, JOB_AT_CK_OFFSET, JOB_AT_CLASSES, JOB_AT_FLAGS, JOB_AT_IMAGE_BYTES, JOB_AT_IMAGE_OFFSET,
  JOB_AT_INPUT_OFFSET, JOB_AT_LAYOUT_ID_LOW, JOB_AT_LR, JOB_AT_MAGIC, JOB_AT_SAMPLE_BYTES, JOB_AT_SAMPLE_COUNT,
  JOB_AT_SEED, JOB_AT_STATS_FROM, JOB_AT_STEPS, JOB_AT_VERSION, JOB_BYTES, JOB_FLAG_LOAD, JOB_MAGIC, JOB_VERSION,
} from './job-format';

const JOB_DIR_FD: u32 = 3; // the first preopen: WASI numbers preopens from 3 upwards

// Scratch layout (SCRATCH_BYTES in total, 16-aligned):
//   0 iovec (8) | 8 byte count (4) | 12 opened fd (4) | 16 prestat (8)
//   24 order entry u32 (4) | 28 label u8 (4) | 32 job header (64) | 96 text (416)
const SCRATCH_BYTES: i32 = 512;
const SCRATCH: usize = memory.data(SCRATCH_BYTES, 16);
const IOV: usize = SCRATCH;
const COUNT: usize = SCRATCH + 8;
const OPENED: usize = SCRATCH + 12;
const PRESTAT: usize = SCRATCH + 16;
const ORDER_ENTRY: usize = SCRATCH + 24;
const LABEL: usize = SCRATCH + 28;
const HEADER: usize = SCRATCH + 32;
const TEXT: usize = SCRATCH + 96;
const TEXT_END: usize = SCRATCH + <usize>SCRATCH_BYTES;
/** dtoa/itoa write UTF-16; they get this many bytes below TEXT_END to do it in. */
const NUMBER_ROOM: usize = 64;

// ---------------------------------------------------------------------------------------
// Output without allocation

let cursor: usize = TEXT;

function put(s: string): void {
  // Static ASCII literals only: copy the low byte of each UTF-16 unit.
  for (let i = 0; i < s.length; i++) store<u8>(cursor++, <u8>s.charCodeAt(i));
}

/** A number from the UTF-16 digits itoa/dtoa left at `at`: narrowed to ASCII at the cursor. */
function putUtf16(at: usize, units: u32): void {
  for (let i: u32 = 0; i < units; i++) store<u8>(cursor++, <u8>load<u16>(at + (<usize>i << 1)));
}

function putU32(v: u32): void {
  const at = TEXT_END - NUMBER_ROOM;
  putUtf16(at, itoa_buffered<u32>(at, v));
}

/** JSON has no NaN/Infinity: they become null (the host reads null back as NaN). */
function putF64(v: f64): void {
  if (!isFinite(v)) { put('null'); return; }
  const at = TEXT_END - NUMBER_ROOM;
  putUtf16(at, dtoa_buffered<f64>(at, v));
}

/** Writes the text gathered since the last flush to `fd`. */
function flush(fd: u32): void {
  writeAll(fd, TEXT, cursor - TEXT);
  cursor = TEXT;
}

/** Exit status of a job for another artifact: the host reports it as the user's artifact problem, not a crash. */
const EXIT_WRONG_ARTIFACT: u32 = 5;

/** Reports a failed job on stderr and exits with `status` (1: a bad job). */
function fail(what: string, errno: u32 = 0, status: u32 = 1): void {
  cursor = TEXT;
  put('tinytrain-wasi: ');
  put(what);
  if (errno != 0) { put(' (wasi errno '); putU32(errno); put(')'); }
  put('\n');
  flush(2);
  proc_exit(status);
}

// ---------------------------------------------------------------------------------------
// Files in the job directory

function open(name: string, write: bool): u32 {
  cursor = TEXT;
  put(name); // the path goes to the syscall as ASCII bytes
  const len = cursor - TEXT;
  cursor = TEXT;
  const flags: u16 = write ? (oflags.CREAT | oflags.TRUNC) : 0;
  const r: u64 = write ? rights.FD_WRITE : (rights.FD_READ | rights.FD_SEEK);
  const err = path_open(JOB_DIR_FD, 0, TEXT, len, flags, r, 0, 0, OPENED);
  if (err != 0) fail(write ? 'cannot create an output file in the job directory' : 'cannot open a job file', err);
  return load<u32>(OPENED);
}

/** Reads exactly `bytes` from the file's current position, or fails. */
function readAll(fd: u32, dst: usize, bytes: usize): void {
  while (bytes > 0) {
    changetype<iovec>(IOV).buf = dst;
    changetype<iovec>(IOV).buf_len = bytes;
    const err = fd_read(fd, IOV, 1, COUNT);
    if (err != 0) fail('read failed', err);
    const got = load<u32>(COUNT);
    if (got == 0) fail('a job file is shorter than the header says');
    dst += got;
    bytes -= got;
  }
}

/** Reads exactly `bytes` at file offset `at` (no seek state), or fails. */
function preadAll(fd: u32, dst: usize, bytes: usize, at: u64): void {
  while (bytes > 0) {
    changetype<iovec>(IOV).buf = dst;
    changetype<iovec>(IOV).buf_len = bytes;
    const err = fd_pread(fd, IOV, 1, at, COUNT);
    if (err != 0) fail('read failed', err);
    const got = load<u32>(COUNT);
    if (got == 0) fail('a sample or label lies past the end of its file');
    dst += got;
    bytes -= got;
    at += got;
  }
}

function writeAll(fd: u32, src: usize, bytes: usize): void {
  while (bytes > 0) {
    changetype<iovec>(IOV).buf = src;
    changetype<iovec>(IOV).buf_len = bytes;
    const err = fd_write(fd, IOV, 1, COUNT);
    if (err != 0) proc_exit(1); // stdout/stderr gone or disk full: nowhere left to report
    const n = load<u32>(COUNT);
    src += n;
    bytes -= n;
  }
}

/** Reads a whole small file into [dst, dst+bytes) and closes it. */
function loadFile(name: string, dst: usize, bytes: usize): void {
  const fd = open(name, false);
  readAll(fd, dst, bytes);
  fd_close(fd);
}

// ---------------------------------------------------------------------------------------
// The job

/** A u32 field of the job header, by its byte offset (JOB_AT_*). */
function field(at: usize): u32 { return load<u32>(HEADER + at); }

/** A region the host names must lie inside the compiled plan, below SCRATCH. */
function checkRegion(offset: u32, bytes: u32, what: string): void {
  if (offset < 16 || <u64>offset + <u64>bytes > <u64>SCRATCH) fail(what);
}

function run(): void {
  // The build sizes memory so this holds; checked anyway because growing is impossible.
  if (<u64>__heap_base > (<u64>memory.size() << 16)) fail('static data does not fit the fixed linear memory');
  if (fd_prestat_get(JOB_DIR_FD, changetype<prestat>(PRESTAT)) != 0) fail('no preopened job directory (fd 3)');
  loadFile('job.bin', HEADER, JOB_BYTES);
  if (field(JOB_AT_MAGIC) != JOB_MAGIC || field(JOB_AT_VERSION) != JOB_VERSION) fail('job.bin is not a version-1 tinytrain job header');
  const steps = field(JOB_AT_STEPS);
  const lr = load<f32>(HEADER + JOB_AT_LR);
  const seed = field(JOB_AT_SEED);
  const sampleBytes = field(JOB_AT_SAMPLE_BYTES);
  const sampleCount = field(JOB_AT_SAMPLE_COUNT);
  const inputOffset = field(JOB_AT_INPUT_OFFSET);
  const imageOffset = field(JOB_AT_IMAGE_OFFSET);
  const imageBytes = field(JOB_AT_IMAGE_BYTES);
  const ckOffset = field(JOB_AT_CK_OFFSET);
  const ckBytes = field(JOB_AT_CK_BYTES);
  const flags = field(JOB_AT_FLAGS);
  const statsFrom = field(JOB_AT_STATS_FROM);
  const classes = field(JOB_AT_CLASSES);
  // The host writes the low half of the manifest's layoutId: a job for another artifact
  // (or a module swapped under a manifest) stops here, before any memory is written.
  if (field(JOB_AT_LAYOUT_ID_LOW) != <u32>layoutId()) fail('this runtime-wasi.wasm belongs to another artifact than job.bin (layout id mismatch)', 0, EXIT_WRONG_ARTIFACT);
  checkRegion(inputOffset, sampleBytes, 'the input region lies outside the compiled plan');
  checkRegion(imageOffset, imageBytes, 'the image region lies outside the compiled plan');
  checkRegion(ckOffset, ckBytes, 'the checkpoint region lies outside the compiled plan');

  // Same order as host/runtime.ts: image, init(seed), then the checkpoint (which
  // overwrites the runtime state init just set, rng included).
  loadFile('image.bin', imageOffset, imageBytes);
  init(seed);
  if (flags & JOB_FLAG_LOAD) loadFile('checkpoint.bin', ckOffset, ckBytes);

  const samples = open('samples.bin', false);
  const labels = open('labels.bin', false);
  const order = open('order.bin', false);
  const targetBytes = <u32>targetCount() << 2;
  const targets = targetBytes > 0 ? open('targets.bin', false) : 0;
  // Loss and accuracy are means over steps [statsFrom, steps), summed in f64 in step
  // order exactly like host/train.ts, so every engine reports the same numbers.
  let lossSum: f64 = 0;
  let correct: u32 = 0;
  let counted: u32 = 0;
  for (let s: u32 = 0; s < steps; s++) {
    readAll(order, ORDER_ENTRY, 4);
    const i = load<u32>(ORDER_ENTRY);
    if (i >= sampleCount) fail('order.bin names a sample past the end of samples.bin');
    preadAll(samples, inputOffset, sampleBytes, <u64>i * <u64>sampleBytes);
    preadAll(labels, LABEL, 1, <u64>i);
    const label = <i32>load<u8>(LABEL);
    if (targetBytes > 0) preadAll(targets, targetOffset(), targetBytes, <u64>i * <u64>targetBytes);
    if (<u32>label >= classes) fail('a label is outside the model\'s classes');
    const loss = trainStep(label, lr);
    if (s >= statsFrom) {
      lossSum += <f64>loss;
      if (lastPrediction() == label) correct++;
      counted++;
    }
  }
  fd_close(samples);
  fd_close(labels);
  fd_close(order);
  if (targetBytes > 0) fd_close(targets);

  const out = open('checkpoint-out.bin', true);
  writeAll(out, ckOffset, ckBytes);
  fd_close(out);

  cursor = TEXT;
  put('{"steps":'); putU32(steps);
  put(',"loss":'); putF64(lossSum / <f64>counted);
  // A loss on target values has no accuracy: null, as the node host's NaN.
  put(',"accuracy":'); putF64(targetBytes > 0 ? NaN : <f64>correct / <f64>counted);
  put(',"skipped":'); putU32(stepsSkipped());
  put('}\n');
  flush(1);
}

run();
