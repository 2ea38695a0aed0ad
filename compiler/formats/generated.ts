/**
 * Which generated file holds which formats. Both are committed (so the code that reads
 * them is readable and reviewable as it is built, and a firmware source tree stands on
 * its own) and test/formats.test.ts fails if either differs from what this renders now.
 */
import { asModule } from './generate-as.js';
import { cHeader } from './generate-c.js';
import { FIRMWARE_JOB } from './firmware-job.js';
import { FLASH_SLOT } from './flash-slot.js';
import { JOB_HEADER } from './job.js';
import { asKernelIndex, asRecordsModule, cKernelRecordsHeader } from './generate-kernels.js';

export interface GeneratedFile {
  /** Path from the package root. */
  readonly path: string;
  readonly text: () => string;
}

export const GENERATED_FILES: readonly GeneratedFile[] = [
  { path: 'assembly/wasi/job-format.ts', text: () => asModule([JOB_HEADER], 'compiler/formats/job.ts') },
  {
    path: 'targets/firmware/tt-formats.h',
    text: () => cHeader([JOB_HEADER, FIRMWARE_JOB, FLASH_SLOT], 'TT_FORMATS_H', 'compiler/formats/{job,firmware-job,flash-slot}.ts'),
  },
  { path: 'assembly/kernels/records.ts', text: asRecordsModule },
  { path: 'assembly/kernels/index.ts', text: asKernelIndex },
  { path: 'targets/firmware/tt-kernel-records.h', text: cKernelRecordsHeader },
];
