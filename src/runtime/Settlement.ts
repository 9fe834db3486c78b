import { EventEmitter } from "node:events";
import {
  CancelledError,
  NotFoundError,
  RunDeadLetteredError,
  RunFailedError,
  RunParkedError,
  TimeoutError,
} from "../core/errors.js";
import { classOf } from "../deadletter/taxonomy.js";
import type { RunRecord, Store } from "../store/types.js";

/**
 * Waiting for runs to settle. A worker in this process announces a run it
 * finished, so a waiter wakes at once; runs finished by other processes are
 * seen by polling the store.
 */
export class Settlement {
  private readonly runs = new EventEmitter();

  constructor(private readonly store: Store) {
    this.runs.setMaxListeners(0);
  }

  /** Wakes whoever waits on `runId` in this process. */
  settled(runId: string): void {
    this.runs.emit(runId);
  }

  async getRun(runId: string): Promise<RunRecord> {
    const run = await this.store.getRun(runId);
    if (!run) throw new NotFoundError("run", runId);
    return run;
  }

  /** The run's result; rejects with the typed error of how it ended otherwise. */
  async result<O>(runId: string, timeoutMs?: number): Promise<O> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const run = await this.getRun(runId);
      if (run.status === "completed") return run.result as O;
      if (run.status === "failed")
        throw new RunFailedError(runId, run.error ?? { name: "Error", message: "failed" });
      if (run.status === "cancelled")
        throw new CancelledError(runId, run.error?.message ?? "cancelled");
      if (run.status === "parked") throw new RunParkedError(runId, run.error);
      if (run.status === "dead-lettered") {
        const [entry] = await this.store.listDeadLetters({ runId, limit: 1 });
        throw new RunDeadLetteredError(
          runId,
          entry?.class ?? classOf(run.error) ?? "non-retryable",
          entry?.id ?? null,
          run.error,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(`run ${runId}`, timeoutMs ?? 0);
      await this.settledOrPoll(runId, Math.min(left, 250));
    }
  }

  /** Resolves when `runId` settles in this process or after `ms`, whichever is first. */
  settledOrPoll(runId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.runs.off(runId, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.runs.on(runId, done);
    });
  }
}
