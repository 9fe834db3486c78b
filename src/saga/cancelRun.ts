import { FlotillaError, InvalidArgumentError, TimeoutError } from "../core/errors.js";
import type { Settlement } from "../runtime/Settlement.js";
import { isTerminal, type Store } from "../store/types.js";
import { cancellationCommit } from "./cancel.js";
import type { CancelReceipt } from "./receipt.js";
import type { UndoOptions } from "./undo.js";
import type { UndoReport } from "./undoTypes.js";

export interface CancelRunOptions {
  reason?: string;
  /**
   * How long to wait for the cancel to take effect (default: the stop grace
   * plus 5 s); with `compensate`, for the cancel and the undo together (the
   * undo run goes on durably after). Without it, the undo waits up to its
   * own default (`UndoOptions.timeoutMs`).
   */
  timeoutMs?: number;
  /**
   * Then undo what the run and its children committed (`Flotilla.undo`),
   * once every in-flight effect has settled; the report is the receipt's `undo`.
   */
  compensate?: boolean;
}

/** What a cancel that may compensate needs from the runtime. */
export interface CancelHost {
  readonly store: Store;
  /** How long a stopping run's steps get: the cancel waits that plus 5 s by default. */
  readonly stopGraceMs: number;
  undo(runId: string, options: UndoOptions): Promise<UndoReport>;
}

/**
 * Cancels a run (`cancelRun`) and, with `compensate`, then undoes what it
 * committed (`receipt.undo`). A `timeoutMs` given bounds both; without one,
 * the cancel waits the stop grace plus 5 s and the undo its own default.
 */
export async function cancelThenUndo(
  host: CancelHost,
  settlement: Settlement,
  runId: string,
  options: CancelRunOptions,
): Promise<CancelReceipt> {
  const startedAt = Date.now();
  const receipt = await cancelRun(host.store, settlement, runId, {
    ...options,
    timeoutMs: options.timeoutMs ?? host.stopGraceMs + 5_000,
  });
  if (!options.compensate) return receipt;
  const left =
    options.timeoutMs === undefined
      ? {}
      : { timeoutMs: Math.max(1, options.timeoutMs - (Date.now() - startedAt)) };
  return { ...receipt, undo: await host.undo(runId, left) };
}

/**
 * Cancels a run: records the request durably, then either lets the worker
 * holding the run stop it (its steps and tools see the abort) or, when no
 * live worker holds it, ends it here. Returns the receipt of what was
 * committed, in flight and never started.
 */
export async function cancelRun(
  store: Store,
  settlement: Settlement,
  runId: string,
  options: CancelRunOptions & { timeoutMs: number },
): Promise<CancelReceipt> {
  const reason = options.reason ?? "cancelled by request";
  const requested = await store.requestCancel(runId, reason);
  if (["completed", "failed", "dead-lettered"].includes(requested.status)) {
    throw new InvalidArgumentError(
      `run ${runId} already ${requested.status}; there is nothing to cancel`,
      { runId, status: requested.status },
    );
  }
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const run = await settlement.getRun(runId);
    if (run.status === "cancelled") return receiptOf(store, runId);
    if (isTerminal(run.status)) {
      throw new InvalidArgumentError(`run ${runId} ${run.status} before the cancel took effect`, {
        runId,
      });
    }
    const leased = run.leaseOwner !== null && (run.leaseExpiresAt ?? 0) >= Date.now();
    if (!leased) {
      const { commit, receipt } = await cancellationCommit(store, run, {
        unleasedIn: ["pending", "waiting", "parked", "running"],
      });
      try {
        await store.commit(commit);
        settlement.settled(runId);
        return receipt;
      } catch (err) {
        // A worker claimed the run meanwhile: it will see the request and stop it.
        if (!(err instanceof FlotillaError && err.code === "FLOTILLA_LEASE_LOST")) throw err;
      }
    }
    if (Date.now() > deadline) throw new TimeoutError(`cancelling run ${runId}`, options.timeoutMs);
    await settlement.settledOrPoll(runId, 100);
  }
}

async function receiptOf(store: Store, runId: string): Promise<CancelReceipt> {
  const events = await store.readJournal(runId);
  const last = events.filter((e) => e.type === "run.cancelled").at(-1);
  return last?.data as unknown as CancelReceipt;
}
