import { text, type Json } from "../core/json.js";
import type { JournalEvent } from "../store/types.js";
import type { UndoReport } from "./undoTypes.js";

export interface EffectRef {
  step: string;
  tool: string;
  key: string;
}

export interface InFlightEffect extends EffectRef {
  /** How the effect ended after the stop came: it may still have committed. */
  settled: "committed" | "failed" | "unknown";
}

/** What a cancel actually stopped, derived from the journal alone. */
export interface CancelReceipt {
  runId: string;
  reason: string;
  /** Effects whose outcome was journaled as done before the stop came. */
  committed: EffectRef[];
  /** Effects whose tool was running when the stop came. */
  inFlight: InFlightEffect[];
  /** Effects the agent asked for after the stop: refused before they started. */
  notStarted: { step: string; tool: string }[];
  /** Child runs that were asked to cancel too. */
  children: string[];
  /** With `compensate: true`: the undo of what the run (and its children) committed. */
  undo?: UndoReport;
}

function data(e: JournalEvent): Record<string, Json> {
  return e.data !== null && typeof e.data === "object" && !Array.isArray(e.data) ? e.data : {};
}

export function cancelReceipt(
  runId: string,
  events: readonly JournalEvent[],
  children: string[],
): CancelReceipt {
  const request = events.find((e) => e.type === "run.cancel-requested");
  const cutoff = request?.id ?? Number.POSITIVE_INFINITY;
  const intents = new Map<string, EffectRef & { at: number }>();
  const outcomes = new Map<string, { at: number; type: string }>();
  const receipt: CancelReceipt = {
    runId,
    reason: request ? text(data(request).reason ?? "cancelled") : "cancelled",
    committed: [],
    inFlight: [],
    notStarted: [],
    children,
  };
  for (const e of events) {
    if (!e.step) continue;
    const d = data(e);
    if (e.type === "effect.intent") {
      intents.set(e.step, { step: e.step, tool: text(d.name), key: text(d.key), at: e.id });
    } else if (
      e.type === "effect.committed" ||
      e.type === "effect.failed" ||
      e.type === "effect.unknown"
    ) {
      if (!outcomes.has(e.step) || e.type !== "effect.unknown")
        outcomes.set(e.step, { at: e.id, type: e.type });
    } else if (e.type === "effect.revoked") {
      receipt.notStarted.push({ step: e.step, tool: text(d.name) });
    }
  }
  for (const [step, intent] of intents) {
    const { at, ...ref } = intent;
    const outcome = outcomes.get(step);
    if (at > cutoff) continue;
    if (outcome && outcome.at < cutoff) {
      if (outcome.type === "effect.committed") receipt.committed.push(ref);
      continue;
    }
    const settled =
      outcome?.type === "effect.committed"
        ? "committed"
        : outcome?.type === "effect.failed"
          ? "failed"
          : "unknown";
    receipt.inFlight.push({ ...ref, settled });
  }
  return receipt;
}
