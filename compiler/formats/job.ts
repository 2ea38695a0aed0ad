/**
 * job.bin, the training-job header every WASI engine and the Cortex-M firmware read
 * (written by host/engines/job.ts, read by assembly/wasi/main.ts and
 * targets/firmware/main.c). 16 little-endian 32-bit slots.
 */
import { defineFormat, fourCC } from './format.js';

export const JOB_HEADER = defineFormat(
  'JOB',
  'job.bin: the training-job header (host/engines/job.ts writes it; every WASI engine and the firmware read it)',
  [
    { name: 'magic', type: 'u32', doc: "MAGIC ('TTJB')" },
    { name: 'version', type: 'u32', doc: 'VERSION; a reader refuses any other' },
    { name: 'steps', type: 'u32', doc: 'training steps to run' },
    { name: 'lr', type: 'f32', doc: 'learning rate, f32 as Runtime.trainStep passes it' },
    { name: 'seed', type: 'u32', doc: 'init(seed): the runtime rng' },
    { name: 'sampleBytes', type: 'u32', doc: 'int8 values per sample in samples.bin (the input size)' },
    { name: 'sampleCount', type: 'u32', doc: 'samples in samples.bin and labels.bin' },
    { name: 'inputOffset', type: 'u32', doc: "linear-memory offset of the model's input" },
    { name: 'imageOffset', type: 'u32', doc: 'where image.bin is copied' },
    { name: 'imageBytes', type: 'u32', doc: 'bytes of image.bin' },
    { name: 'ckOffset', type: 'u32', doc: 'start of the checkpoint region' },
    { name: 'ckBytes', type: 'u32', doc: 'bytes of the checkpoint region (checkpoint.bin, checkpoint-out.bin)' },
    { name: 'flags', type: 'u32', doc: 'FLAG_LOAD: restore checkpoint.bin (the firmware: the newest Flash slot) after init' },
    { name: 'statsFrom', type: 'u32', doc: 'first step counted in the reported loss and accuracy (host/train.ts statsWindowStart)' },
    { name: 'classes', type: 'u32', doc: 'labels at or above it are refused: the classes (one-output bce: 2; a loss on target values: 256)' },
    { name: 'layoutIdLow', type: 'u32', doc: "low 32 bits of the manifest's layoutId: a job for another artifact is refused" },
  ],
  [
    { name: 'MAGIC', value: fourCC('TTJB'), doc: "'TTJB' read as a little-endian u32" },
    { name: 'VERSION', value: 1, doc: 'the only version there is' },
    { name: 'FLAG_LOAD', value: 1, doc: 'flags bit: resume from a checkpoint' },
  ],
);
