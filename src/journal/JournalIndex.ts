import type { SerializedError } from "../core/errors.js";
import { text, type Json } from "../core/json.js";
import type { JournalEvent } from "../store/types.js";

/** What kind of step an event belongs to; checked on replay. */
export type StepKind = "llm" | "tool" | "spawn" | "sleep" | "signal" | "now" | "random" | "race";

export type StepOutcome =
  { ok: true; value: Json | undefined } | { ok: false; error: SerializedError };

export interface EffectIntent {
  key: string;
  effect: string;
  args: Json | undefined;
}

/** Everything the journal says about one step, folded from its events. */
export interface StepRecord {
  step: string;
  kind: StepKind;
  name: string;
  outcome?: StepOutcome;
  intent?: EffectIntent;
  attempts: number;
  /** The worker died inside the tool and nothing could tell whether it acted. */
  unknown: boolean;
  /** An operator said to call the tool again. */
  retryApproved: boolean;
  revoked: boolean;
  childId?: string;
  wakeAt?: number;
  signalId?: number;
  /** Extra data of the event that completed the step (e.g. dedupe, reconcile). */
  meta: Record<string, Json>;
}

function dataOf(e: JournalEvent): Record<string, Json> {
  return e.data !== null && typeof e.data === "object" && !Array.isArray(e.data) ? e.data : {};
}

/**
 * The replay view of a run's journal: steps by id. The journal stays the
 * source of truth; this is rebuilt from it whenever a run is (re)started.
 */
export class JournalIndex {
  readonly steps = new Map<string, StepRecord>();
  readonly consumedSignals = new Set<number>();

  constructor(readonly events: readonly JournalEvent[]) {
    for (const e of events) this.apply(e);
  }

  get(step: string): StepRecord | undefined {
    return this.steps.get(step);
  }

  /** Folds one event in; used for the initial load and for every new event written. */
  apply(e: JournalEvent | { type: string; step?: string | null; data: Json }): void {
    if (!e.step) return;
    const d = dataOf(e as JournalEvent);
    let rec = this.steps.get(e.step);
    if (!rec) {
      rec = {
        step: e.step,
        kind: d.kind as StepKind,
        name: d.name as string,
        attempts: 0,
        unknown: false,
        retryApproved: false,
        revoked: false,
        meta: {},
      };
      this.steps.set(e.step, rec);
    }
    switch (e.type) {
      case "step.completed":
      case "effect.committed":
        rec.outcome = { ok: true, value: d.value };
        rec.unknown = false;
        for (const [k, v] of Object.entries(d))
          if (k !== "value" && k !== "kind" && k !== "name") rec.meta[k] = v;
        if (typeof d.signalId === "number") {
          rec.signalId = d.signalId;
          this.consumedSignals.add(d.signalId);
        }
        break;
      case "step.failed":
      case "effect.failed":
        rec.outcome = { ok: false, error: d.error as unknown as SerializedError };
        rec.unknown = false;
        break;
      case "effect.intent":
        rec.intent = { key: d.key as string, effect: d.effect as string, args: d.args };
        rec.attempts = 1;
        break;
      case "effect.attempt":
        rec.attempts = d.attempt as number;
        rec.retryApproved = false;
        break;
      case "effect.unknown":
        rec.unknown = true;
        break;
      case "effect.resolved":
        this.resolve(rec, d);
        break;
      case "effect.revoked":
        rec.revoked = true;
        break;
      case "child.spawned":
        rec.childId = d.childId as string;
        break;
      case "timer.set":
        rec.wakeAt = d.wakeAt as number;
        break;
    }
  }

  private resolve(rec: StepRecord, d: Record<string, Json>): void {
    rec.unknown = false;
    if (d.decision === "committed") rec.outcome = { ok: true, value: d.value };
    else if (d.decision === "failed") {
      rec.outcome = {
        ok: false,
        error: { name: "Error", message: text(d.reason ?? "failed by operator") },
      };
    } else rec.retryApproved = true;
  }
}
