/**
 * The profiling firmware: the artifact's firmware with the runtime's profiling module
 * (host/profile/instrument.ts, every program step starting with env.profileMark(i)) in
 * place of its scalar module, and targets/firmware/profile-marks.c implementing that
 * import with SysTick (cycles.c). It reports, after the usual JSON line, one row of ticks
 * per program step for each training step. A separate ELF for measuring only: the
 * shipped firmware (build.ts, no TT_PROFILE) is not changed by it.
 */
import { TinytrainError } from '../../compiler/errors.js';
import type { Target } from '../../targets/index.js';
import type { LoadedArtifact } from '../artifact.js';
import { buildProfiledRuntime } from '../profile/instrument.js';
import { buildFirmware, type FirmwareBuild } from './build.js';
import { NATIVE_KERNELS, nativeKernelsEnabled, withNativeKernels } from './native-kernels.js';

export interface ProfilingFirmware {
  build: FirmwareBuild;
  /** Each program step's runtime.ts comment (for its layer labels), by step. */
  comments: string[];
}

export async function buildProfilingFirmware(a: LoadedArtifact, target: Target, outElf: string): Promise<ProfilingFirmware> {
  // The shipped firmware's kernels: native ones (host/firmware/native-kernels.ts) unless $TINYTRAIN_FIRMWARE_NATIVE=0.
  const native = nativeKernelsEnabled() ? (source: string): string => withNativeKernels(source, NATIVE_KERNELS).source : undefined;
  const { wasm, comments } = await buildProfiledRuntime(a, 'scalar', native);
  const defines = { TT_PROFILE: 1, TT_PROFILE_STEPS: a.manifest.program.length };
  const build = await buildFirmware(a, target, outElf, { instrumented: { wasm, sources: ['profile-marks.c'], defines } });
  return { build, comments };
}

/** One training step of a profiling run: SysTick ticks of the whole trainStep call and of each program step. */
export interface ProfileRow {
  total: number;
  ticks: number[];
}

export interface FirmwareProfile {
  /** trainStep calls made; rows holds the first of them (profile-marks.c keeps 16). */
  calls: number;
  rows: ProfileRow[];
}

/** The `tt-profile` lines of a profiling run's console output (profile-marks.c). */
export function parseFirmwareProfile(stdout: string, programSteps: number): FirmwareProfile {
  const lines = stdout.split('\n').map((l) => l.trim());
  const json = (prefix: string): unknown[] => lines.filter((l) => l.startsWith(prefix + ' ')).map((l) => JSON.parse(l.slice(prefix.length + 1)) as unknown);
  const [head] = json('tt-profile') as Array<{ programSteps: number; calls: number; rows: number; marksBeyond: number }>;
  if (!head) throw new TinytrainError('the firmware printed no tt-profile line', 'run a profiling build (host/firmware/profile-build.ts), not the shipped firmware');
  if (head.programSteps !== programSteps) throw new Error(`the profiling firmware counts ${head.programSteps} program steps, the artifact has ${programSteps}`);
  if (head.marksBeyond) throw new Error(`the profiling firmware saw ${head.marksBeyond} marks past the program's ${programSteps} steps`);
  const rows = (json('tt-profile-row') as Array<{ call: number; total: number; ticks: number[] }>).map((r, i) => {
    if (r.call !== i || r.ticks.length !== programSteps) throw new Error(`tt-profile-row ${i} is malformed (call ${r.call}, ${r.ticks.length} steps)`);
    return { total: r.total, ticks: r.ticks };
  });
  if (rows.length !== head.rows) throw new Error(`the profiling firmware announced ${head.rows} rows and printed ${rows.length}`);
  return { calls: head.calls, rows };
}
