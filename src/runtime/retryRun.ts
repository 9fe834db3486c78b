import { InvalidArgumentError, NotFoundError } from "../core/errors.js";
import { childrenOfFailedSpawns } from "../deadletter/redrive.js";
import type { Store } from "../store/types.js";

export interface RetryOptions {
  /** Who asked (journaled). Default "operator". */
  by?: string;
  reason?: string;
}

/**
 * Resumes a `failed` run from its journal: completed steps and effects are
 * replayed, not repeated; the failed step (and any recorded failure) runs
 * again under the current code. Children whose failure failed a spawn step
 * are retried first, so the parent finds them running again. Journaled as
 * `run.retried` with who and why.
 */
export async function retryRun(
  store: Store,
  runId: string,
  options: RetryOptions = {},
  now: () => number = Date.now,
): Promise<void> {
  if (typeof runId !== "string" || runId === "")
    throw new InvalidArgumentError("retry needs a run id", { field: "runId" });
  if (options.by !== undefined && (typeof options.by !== "string" || options.by === ""))
    throw new InvalidArgumentError("retry: by must be a non-empty string", { field: "by" });
  if (options.reason !== undefined && typeof options.reason !== "string")
    throw new InvalidArgumentError("retry: reason must be a string", { field: "reason" });
  const run = await store.getRun(runId);
  if (!run) throw new NotFoundError("run", runId);
  if (run.status !== "failed")
    throw new InvalidArgumentError(
      `run ${runId} is ${run.status}; only a failed run can be retried` +
        (run.status === "dead-lettered" ? " (redrive its dead letter instead)" : ""),
      { runId, status: run.status },
    );
  for (const child of await childrenOfFailedSpawns(store, runId)) {
    if ((await store.getRun(child))?.status === "failed")
      await retryRun(store, child, options, now);
  }
  await store.commit({
    runId,
    fence: { unleasedIn: ["failed"] },
    events: [
      {
        type: "run.retried",
        data: { by: options.by ?? "operator", at: now(), reason: options.reason ?? null },
      },
    ],
    status: { status: "pending", error: null, wakeAt: null },
  });
}
