import type { Json } from "../core/json.js";
import type { CancelRunOptions } from "../saga/cancelRun.js";
import type { CancelReceipt } from "../saga/receipt.js";
import type { UndoOptions } from "../saga/undo.js";
import type { UndoPlan, UndoReport } from "../saga/undoTypes.js";
import type { RunRecord } from "../store/types.js";
import type { RetryOptions } from "./retryRun.js";

/** What a handle asks of the runtime it came from. */
export interface RunOperations {
  getRun(runId: string): Promise<RunRecord>;
  waitForResult<O>(runId: string, timeoutMs?: number): Promise<O>;
  cancel(runId: string, options?: CancelRunOptions): Promise<CancelReceipt>;
  signal(runId: string, name: string, payload?: Json): Promise<void>;
  retry(runId: string, options?: RetryOptions): Promise<void>;
  undo(runId: string, options?: UndoOptions): Promise<UndoReport>;
  undoPlan(runId: string): Promise<UndoPlan>;
}

/** A started run: await its result, cancel, signal, retry or undo it. */
export class RunHandle<O = unknown> {
  constructor(
    private readonly runtime: RunOperations,
    readonly id: string,
  ) {}

  status(): Promise<RunRecord> {
    return this.runtime.getRun(this.id);
  }

  /** Resolves with the run's result; rejects if it failed, was cancelled, is parked or was dead-lettered (`FLOTILLA_DEAD_LETTERED`). */
  result(options: { timeoutMs?: number } = {}): Promise<O> {
    return this.runtime.waitForResult<O>(this.id, options.timeoutMs);
  }

  /**
   * Cancels the run (a string is the reason); `{ compensate: true }` then
   * undoes what it committed (`receipt.undo`), within `timeoutMs` if given.
   */
  cancel(options?: string | CancelRunOptions): Promise<CancelReceipt> {
    const given = typeof options === "string" ? { reason: options } : (options ?? {});
    return this.runtime.cancel(this.id, given);
  }

  signal(name: string, payload: Json = null): Promise<void> {
    return this.runtime.signal(this.id, name, payload);
  }

  /** Resumes a failed run from its journal; the failed step runs again under the current code. */
  retry(options: RetryOptions = {}): Promise<void> {
    return this.runtime.retry(this.id, options);
  }

  /** Undoes the run's committed effects and its children's, latest first; see `Flotilla.undo`. */
  undo(options: UndoOptions = {}): Promise<UndoReport> {
    return this.runtime.undo(this.id, options);
  }

  /** What `undo()` would do about each effect, before anything runs. */
  undoPlan(): Promise<UndoPlan> {
    return this.runtime.undoPlan(this.id);
  }
}
