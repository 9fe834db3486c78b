import { CancelledError } from "../core/errors.js";
import { text, type Json } from "../core/json.js";
import { captureDeadLetter } from "../deadletter/capture.js";
import type { Commit, RunRecord, Store } from "../store/types.js";
import { cancelReceipt, type CancelReceipt } from "./receipt.js";

/**
 * Builds the commit that ends a run as cancelled: asks its unfinished children
 * to cancel too, and records a receipt computed from the journal. A cancel
 * that leaves effects whose outcome nobody knows also puts the run on the
 * dead-letter queue (class cancelled-with-unsettled-effects): someone has to
 * find out what happened to them.
 */
export async function cancellationCommit(
  store: Store,
  run: Pick<RunRecord, "id" | "parentId" | "agent" | "tenant" | "input">,
  fence: Commit["fence"],
): Promise<{ commit: Commit; receipt: CancelReceipt }> {
  const events = await store.readJournal(run.id);
  const finished = new Set<string>();
  for (const e of events) {
    const d = e.data as Record<string, Json> | null;
    if ((e.type === "step.completed" || e.type === "step.failed") && d?.kind === "spawn")
      finished.add(e.step ?? "");
  }
  const children = events
    .filter((e) => e.type === "child.spawned" && !finished.has(e.step ?? ""))
    .map((e) => text((e.data as Record<string, Json>).childId));
  await Promise.all(children.map((id) => store.requestCancel(id, `parent ${run.id} cancelled`)));
  const receipt = cancelReceipt(run.id, events, children);
  const error = new CancelledError(run.id, receipt.reason).toJSON();
  const unsettled = receipt.inFlight.some((e) => e.settled === "unknown");
  const deadLetter = unsettled
    ? captureDeadLetter(run, events, "cancelled-with-unsettled-effects", error)
    : undefined;
  return {
    receipt,
    commit: {
      runId: run.id,
      fence,
      events: [{ type: "run.cancelled", data: receipt as unknown as Json }],
      status: { status: "cancelled", error, wakeAt: null },
      release: true,
      ...(run.parentId ? { wake: [run.parentId] } : {}),
      ...(deadLetter ? { deadLetter } : {}),
    },
  };
}
