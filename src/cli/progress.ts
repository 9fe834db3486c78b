import cliProgress from "cli-progress";

export type Progress = (done: number, total: number, label: string) => void;

export interface ProgressReporter {
  /** A new phase begins: one line on stderr, at once (the bar, if any, follows it). */
  phase: (text: string) => void;
  update: Progress;
  stop: () => void;
}

/**
 * Progress on stderr. On a terminal: each phase as a line and a bar for
 * counted work. Without one (CI logs, pipes): each phase as a line and a
 * line at every quarter of counted work, so a log shows where the time went.
 */
export function progressBar(): ProgressReporter {
  return process.stderr.isTTY ? terminalReporter() : lineReporter();
}

function lineReporter(): ProgressReporter {
  let last = "";
  return {
    phase: (text) => {
      last = "";
      process.stderr.write(`${text}\n`);
    },
    update: (done, total, label) => {
      const mark = `${label} ${total === 0 ? 4 : Math.floor((4 * done) / total)}`;
      if (mark === last) return;
      last = mark;
      process.stderr.write(`  ${done}/${total} ${label}\n`);
    },
    stop: () => undefined,
  };
}

function terminalReporter(): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: " {bar} {value}/{total} {label}",
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const stop = () => {
    if (started) bar.stop();
    started = false;
  };
  return {
    phase: (text) => {
      stop();
      process.stderr.write(`${text}\n`);
    },
    update: (done, total, label) => {
      if (!started) {
        bar.start(total, done, { label });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { label });
    },
    stop,
  };
}
