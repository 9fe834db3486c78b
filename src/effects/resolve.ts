import { InvalidArgumentError } from "../core/errors.js";
import { text, type Json } from "../core/json.js";
import type { Settlement } from "../runtime/Settlement.js";
import type { EffectState, Store } from "../store/types.js";

/** An operator's answer for an effect whose outcome was lost. */
export type EffectDecision =
  | { outcome: "committed"; result?: Json }
  | { outcome: "retry" }
  | { outcome: "failed"; reason: string };

/**
 * Settles a parked run's effect of unknown outcome as the operator decided,
 * closes its dead letter, and makes the run runnable again: replay then
 * returns the decided result, re-runs the tool, or fails the step.
 */
export async function resolveEffect(
  store: Store,
  settlement: Settlement,
  at: number,
  request: { runId: string; step: string; decision: EffectDecision; by: string },
): Promise<void> {
  const { runId, step, decision, by } = request;
  const run = await settlement.getRun(runId);
  if (run.status !== "parked") {
    throw new InvalidArgumentError(
      `run ${runId} is ${run.status}, not parked; only parked effects can be resolved`,
    );
  }
  const events = await store.readJournal(runId);
  const unknown = events.some((e) => e.type === "effect.unknown" && e.step === step);
  if (!unknown)
    throw new InvalidArgumentError(`run ${runId} has no effect of unknown outcome at step ${step}`);
  if (!["committed", "retry", "failed"].includes(decision.outcome)) {
    throw new InvalidArgumentError(
      `decision must be committed, retry or failed, received ${JSON.stringify(decision.outcome)}`,
    );
  }
  const intent = events.find((e) => e.type === "effect.intent" && e.step === step)?.data as Record<
    string,
    Json
  >;
  const [entry] = await store.listDeadLetters({
    runId,
    class: "effect-outcome-unknown",
    status: "open",
    limit: 1,
  });
  const resolution = { action: "resolve", by, at, step, decision: decision.outcome };
  await store.commit({
    ...(entry
      ? { deadLetterUpdate: { id: entry.id, status: "resolved" as const, resolution } }
      : {}),
    runId,
    fence: { unleasedIn: ["parked"] },
    events: [
      {
        type: "effect.resolved",
        step,
        data: {
          kind: "tool",
          name: intent.name ?? null,
          decision: decision.outcome,
          by,
          ...decisionData(decision),
        },
      },
    ],
    // The key's row says what was decided: a failed effect frees its key for later units of work.
    effects: keyed(intent, runId, step)
      ? [{ key: text(intent.key), runId, step, tool: text(intent.name), ...effectRow(decision) }]
      : [],
    status: { status: "pending", error: null, wakeAt: null },
  });
}

/**
 * Whether the intent's key is the tool's own, registered in the store (see
 * keyRows): journaled as such, or, in a journal from before that was, any
 * key but the default `<run>:<step>`, which has no row.
 */
function keyed(intent: Record<string, Json>, runId: string, step: string): boolean {
  return intent.keyed === true || intent.key !== `${runId}:${step}`;
}

function effectRow(d: EffectDecision): { state: EffectState; result?: Json } {
  if (d.outcome === "committed") return { state: "committed", result: d.result ?? null };
  return { state: d.outcome === "failed" ? "failed" : "intent" };
}

function decisionData(d: EffectDecision): Record<string, Json> {
  if (d.outcome === "committed") return { value: d.result ?? null };
  if (d.outcome === "failed") return { reason: d.reason };
  return {};
}
