/**
 * Progress for long host-side loops (calibration, training epochs, evaluation).
 * Always on stderr, so `--json` output on stdout stays one clean object.
 *
 * A live bar only makes sense on a terminal; in logs and CI a redrawn bar is noise, so
 * there we print one `label: done (N)` line at the end. TINYTRAIN_QUIET silences both.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Advance by `n` (default 1); `info` is shown after the bar, e.g. { loss: 0.31 }. */
  tick(n?: number, info?: Record<string, string | number>): void;
  /** Ends the bar; safe to call more than once. */
  stop(): void;
}

export function startProgress(label: string, total: number): Progress {
  const quiet = Boolean(process.env.TINYTRAIN_QUIET);
  const bar =
    !quiet && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `${label} [{bar}] {value}/{total} {info}`,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(total, 0, { info: '' });

  let done = 0;
  let stopped = false;
  return {
    tick(n = 1, info) {
      if (stopped) return;
      done += n;
      bar?.update(done, info ? { info: formatInfo(info) } : {});
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (bar) bar.stop();
      else if (!quiet) process.stderr.write(`${label}: done (${done})\n`);
    },
  };
}

function formatInfo(info: Record<string, string | number>): string {
  return Object.entries(info)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(4) : v}`)
    .join(' ');
}

/** What the training loops report: steps done so far (cumulative), mean loss and accuracy since the last report. */
export type TrainingProgressFn = (done: number, loss: number, acc: number) => void;

/** A bar for a training loop: `onProgress` turns the loop's cumulative count into ticks. */
export function trainingProgress(label: string, total: number): { onProgress: TrainingProgressFn; stop(): void } {
  const bar = startProgress(label, total);
  let last = 0;
  return {
    onProgress: (done, loss, acc) => {
      bar.tick(done - last, { loss, acc });
      last = done;
    },
    stop: () => bar.stop(),
  };
}
