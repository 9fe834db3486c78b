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
import { settles, type RunRecord, type Store } from "../store/types.js";

/** How often a waiter looks at the store itself when no settlement is pushed to it. */
const POLL_MS = { postgres: 250, sqlite: 50 } as const;

/**
 * Waiting for runs to settle. An execution in this process that ends a run
 * hands over the run as it ended, so a waiter returns without reading it
 * back; the store pushes settlements from other processes (PostgreSQL
 * NOTIFY); a waiter still polls, as a fallback for what is not pushed (a
 * SQLite file written by another process, a dropped LISTEN connection).
 */
export class Settlement {
  private readonly runs = new EventEmitter();
  /** Stops listening to the store's settlements. */
  readonly close: () => void;

  constructor(
    private readonly store: Store,
    /**
     * Whether an execution in this process holds the run: it hands the run
     * over as it settles, so a waiter need not read the run first (the read
     * would cost a round trip while the run is still going). Should it end
     * otherwise (suspended, lease lost), the waiter polls as always.
     */
    private readonly executingHere: (runId: string) => boolean = () => false,
  ) {
    this.runs.setMaxListeners(0);
    this.close = store.onSettled((runId) => {
      if (runId !== undefined) this.settled(runId);
      // The store cannot say which: every waiter looks again.
      else for (const id of this.runs.eventNames()) this.runs.emit(id);
    });
  }

  /**
   * Wakes whoever waits on `runId` in this process; `run`, when given, is the
   * run as it settled (its status, result and error are what a waiter uses).
   */
  settled(runId: string, run?: RunRecord): void {
    this.runs.emit(runId, run);
  }

  async getRun(runId: string): Promise<RunRecord> {
    const run = await this.store.getRun(runId);
    if (!run) throw new NotFoundError("run", runId);
    return run;
  }

  /** The run's result; rejects with the typed error of how it ended otherwise. */
  async result<O>(runId: string, timeoutMs?: number): Promise<O> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const pollMs = () => Math.min(deadline - Date.now(), POLL_MS[this.store.kind]);
    let pushed = this.executingHere(runId) ? await this.next(runId, pollMs()).settled : undefined;
    // Handed over settled: nothing to read, nothing more to wait for.
    if (pushed && settles(pushed.status)) return this.outcome<O>(pushed);
    for (;;) {
      // Listening before reading: a settlement between the read and the wait is not missed.
      const next = this.next(runId, pollMs());
      let run: RunRecord;
      try {
        run = pushed ?? (await this.getRun(runId));
      } catch (err) {
        next.cancel();
        throw err;
      }
      if (settles(run.status)) {
        next.cancel();
        return this.outcome<O>(run);
      }
      if (deadline - Date.now() <= 0) {
        next.cancel();
        throw new TimeoutError(`run ${runId}`, timeoutMs ?? 0);
      }
      pushed = await next.settled;
    }
  }

  private async outcome<O>(run: RunRecord): Promise<O> {
    const runId = run.id;
    if (run.status === "completed") return run.result as O;
    if (run.status === "failed")
      throw new RunFailedError(runId, run.error ?? { name: "Error", message: "failed" });
    if (run.status === "cancelled")
      throw new CancelledError(runId, run.error?.message ?? "cancelled");
    if (run.status === "parked") throw new RunParkedError(runId, run.error);
    const [entry] = await this.store.listDeadLetters({ runId, limit: 1 });
    throw new RunDeadLetteredError(
      runId,
      entry?.class ?? classOf(run.error) ?? "non-retryable",
      entry?.id ?? null,
      run.error,
    );
  }

  /** Resolves when `runId` settles in this process or after `ms`, whichever is first. */
  async settledOrPoll(runId: string, ms: number): Promise<void> {
    await this.next(runId, ms).settled;
  }

  /**
   * The next settlement of `runId` (with the run, when the settler handed it
   * over), or undefined after `ms`; `cancel` stops listening.
   */
  private next(
    runId: string,
    ms: number,
  ): { settled: Promise<RunRecord | undefined>; cancel: () => void } {
    let cancel!: () => void;
    const settled = new Promise<RunRecord | undefined>((resolve) => {
      const done = (run?: RunRecord) => {
        clearTimeout(timer);
        this.runs.off(runId, done);
        resolve(run);
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.runs.on(runId, done);
      cancel = () => done();
    });
    return { settled, cancel };
  }
}
