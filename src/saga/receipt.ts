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

export interface NotStartedEffect {
  step: string;
  tool: string;
  /** The approval signal the effect was waiting for when the stop came. */
  waitingFor?: string;
}

/** A call of a deferred tool, by the step that journaled it. */
export interface DeferredEffect {
  step: string;
  tool: string;
}

/** What a cancel actually stopped, derived from the journal alone. */
export interface CancelReceipt {
  runId: string;
  reason: string;
  /** Effects whose outcome was journaled as done before the stop came. */
  committed: EffectRef[];
  /** Effects whose tool was running when the stop came. */
  inFlight: InFlightEffect[];
  /**
   * Effects the agent asked for after the stop, refused before they started,
   * and effects stopped while they waited for their approval (`waitingFor`
   * names the signal).
   */
  notStarted: NotStartedEffect[];
  /**
   * Deferred effects (`defer: "end-of-run"`) never attempted: the run ended
   * before its end-of-run phase reached them.
   */
  deferred: DeferredEffect[];
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
    deferred: deferredNotAttempted(events),
    children,
  };
  const approvals = new Map<string, NotStartedEffect>();
  for (const e of events) {
    if (!e.step) continue;
    const d = data(e);
    if (e.type === "approval.requested") {
      approvals.set(e.step, { step: e.step, tool: text(d.tool), waitingFor: text(d.name) });
    } else if (e.type === "step.completed" || e.type === "step.failed") {
      approvals.delete(e.step);
    } else if (e.type === "effect.intent") {
      intents.set(e.step, { step: e.step, tool: text(d.name), key: text(d.key), at: e.id });
    } else if (
      e.type === "effect.committed" ||
      e.type === "effect.failed" ||
      e.type === "effect.unknown"
    ) {
      // A failure that may hide an effect (an idempotent call's lost answer) is unknown, not failed.
      const type =
        e.type === "effect.failed" && d.mayHaveActed === true ? "effect.unknown" : e.type;
      if (!outcomes.has(e.step) || type !== "effect.unknown")
        outcomes.set(e.step, { at: e.id, type });
    } else if (e.type === "effect.revoked") {
      receipt.notStarted.push({ step: e.step, tool: text(d.name) });
    }
  }
  receipt.notStarted.push(...approvals.values());
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

/**
 * The deferred calls a run never got to perform: journaled (a completed step
 * marked `deferred`) with no event yet at the steps its end-of-run phase
 * uses for them, `<step>.approve` and `<step>.effect` (see `deferredSteps`).
 */
export function deferredNotAttempted(events: readonly JournalEvent[]): DeferredEffect[] {
  const calls = new Map<string, DeferredEffect>();
  const touched = new Set<string>();
  for (const e of events) {
    if (!e.step) continue;
    touched.add(e.step);
    const d = data(e);
    if (e.type === "step.completed" && d.deferred === true)
      calls.set(e.step, { step: e.step, tool: text(d.name) });
  }
  return [...calls.values()].filter(
    (c) => !touched.has(`${c.step}.approve`) && !touched.has(`${c.step}.effect`),
  );
}
