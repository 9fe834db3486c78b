import { InvalidArgumentError } from "../../core/errors.js";
import { Flotilla } from "../../runtime/Flotilla.js";
import { workerOptionsSchema, type ExecutionEnded } from "../../runtime/workerOptions.js";
import { UNDO_AGENT } from "../../saga/undoPlan.js";
import { integerInRange } from "../numbers.js";
import { printJsonLine, whenStdoutCloses } from "../output.js";
import { startedByPackageManager, whenParentExits } from "../parentWatch.js";
import { runEndedLine, runEndedReport, type RunEndedReport } from "../workerLog.js";
import { loadSetup } from "../workerModule.js";

/** The range a worker option accepts, read from its schema so the flag's refusal matches it. */
function rangeOf(option: "concurrency" | "leaseMs"): { min: number; max: number } {
  const n = workerOptionsSchema.shape[option].unwrap();
  return { min: n.minValue ?? 0, max: n.maxValue ?? Number.MAX_SAFE_INTEGER };
}

/**
 * Runs agents from a user module that exports `setup(flotilla)` (or a default
 * function) until SIGINT or SIGTERM, saying on stderr (or as JSON lines on
 * stdout with --json) when it starts and when a run fails, parks, is
 * dead-lettered or cancelled.
 */
export async function workerCommand(
  modulePath: string,
  opts: { store: string; concurrency: string; leaseMs: string; json?: boolean },
): Promise<void> {
  const concurrency = integerInRange("--concurrency", opts.concurrency, rangeOf("concurrency"));
  const leaseMs = integerInRange("--lease-ms", opts.leaseMs, rangeOf("leaseMs"));
  const setup = await loadSetup(modulePath);
  const flotilla = await Flotilla.open({ store: opts.store, worker: false });
  let agents: string[];
  try {
    await setup(flotilla);
    agents = flotilla.agentNames().filter((name) => name !== UNDO_AGENT);
    if (agents.length === 0) throw new InvalidArgumentError(`${modulePath} defined no agents`);
  } catch (err) {
    await flotilla.close();
    throw err;
  }
  const print = (report: RunEndedReport | undefined) => {
    if (!report) return;
    if (opts.json) printJsonLine(report);
    else process.stderr.write(`${runEndedLine(report)}\n`);
  };
  const onEnded = (ended: ExecutionEnded) =>
    void runEndedReport(ended)
      .then(print)
      .catch((err: unknown) => flotilla.warn(`reporting how run ${ended.runId} ended`, err));
  const worker = await flotilla.worker({ concurrency, leaseMs, onEnded });
  const { workerId } = flotilla;
  const store = flotilla.store.location;
  // Stoppable first, then announced: whoever waits for the banner may stop the worker at once.
  const stopped = new Promise<void>((done, fail) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      if (opts.json) printJsonLine({ event: "worker.stopping", workerId, reason: why });
      process.stderr.write(`stopping: finishing runs in progress (${why})\n`);
      void worker
        .stop()
        .then(() => flotilla.close())
        .then(done, fail);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
    whenStdoutCloses(() => stop("stdout closed"));
    if (startedByPackageManager()) whenParentExits(() => stop("parent process exited"));
  });
  if (opts.json)
    printJsonLine({ event: "worker.started", workerId, pid: process.pid, store, agents });
  else
    process.stderr.write(
      `flotilla worker ${workerId} on ${store}: agents ${agents.join(", ")} (and undos of their runs)\n`,
    );
  await stopped;
}
