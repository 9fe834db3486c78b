import type { SerializedError } from "../core/errors.js";
import { text, type Json } from "../core/json.js";
import type { JournalEvent } from "../store/types.js";

/** What kind of step an event belongs to; checked on replay. */
export type StepKind =
  "llm" | "tool" | "spawn" | "sleep" | "signal" | "now" | "random" | "race" | "state" | "reconcile";

export type StepOutcome =
  { ok: true; value: Json | undefined } | { ok: false; error: SerializedError };

export interface EffectIntent {
  key: string;
  effect: string;
  args: Json | undefined;
  /** When the latest attempt stops being able to land (its call deadline). */
  deadline: number | undefined;
}

/** What an operator changed when redriving a dead letter. */
export interface RedrivePatch {
  input?: Json;
  model?: string;
  budget?: Record<string, Json>;
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
  /** The effect happened but its result could not be stored: never performed again. */
  performed: boolean;
  childId?: string;
  wakeAt?: number;
  /** When the step first suspended to wait out its dependency's outage. */
  waitingSince?: number;
  signalId?: number;
  /** How many redrives the journal had when this step was first recorded. */
  epoch: number;
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
  /** Redrives so far: steps recorded before the last one are not held against loop detectors. */
  redrives = 0;
  /** What redrives changed (input, model, budget), later patches winning. */
  readonly patch: RedrivePatch = {};

  constructor(readonly events: readonly JournalEvent[]) {
    for (const e of events) this.apply(e);
  }

  get(step: string): StepRecord | undefined {
    return this.steps.get(step);
  }

  /** Folds one event in; used for the initial load and for every new event written. */
  apply(e: JournalEvent | { type: string; step?: string | null; data: Json }): void {
    const d = dataOf(e as JournalEvent);
    if (e.type === "run.redriven" || e.type === "run.retried") return this.redrive(d);
    if (e.type === "run.interrupted") return this.interrupted(d);
    if (!e.step) return;
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
        performed: false,
        epoch: this.redrives,
        meta: {},
      };
      this.steps.set(e.step, rec);
    }
    switch (e.type) {
      case "step.completed":
      case "effect.committed":
        if (e.type === "effect.committed" && d.unstorable) {
          rec.performed = true;
          rec.outcome = { ok: false, error: d.unstorable as unknown as SerializedError };
          break;
        }
        rec.outcome = { ok: true, value: d.value };
        rec.unknown = false;
        // Keys, not entries: no [key, value] pair allocated per member on every step.
        for (const k of Object.keys(d))
          if (k !== "value" && k !== "kind" && k !== "name") rec.meta[k] = d[k] as Json;
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
        rec.intent = {
          key: d.key as string,
          effect: d.effect as string,
          args: d.args,
          deadline: typeof d.deadline === "number" ? d.deadline : undefined,
        };
        rec.attempts = 1;
        break;
      case "effect.attempt":
        rec.attempts = d.attempt as number;
        if (rec.intent && typeof d.deadline === "number") rec.intent.deadline = d.deadline;
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
      case "outage.waiting":
        rec.waitingSince ??= d.since as number;
        break;
    }
  }

  /**
   * A redrive (or a retry of a failed run, which patches nothing) resumes from the last checkpoint: every recorded success is kept
   * (so no effect repeats) and every recorded failure is forgotten, so the
   * step that caused the dead letter runs again. A failed effect was journaled
   * only when it certainly did nothing, so calling it again is safe.
   */
  private redrive(d: Record<string, Json>): void {
    this.redrives++;
    const patch = dataOf({ data: d.patch ?? null } as JournalEvent) as RedrivePatch;
    Object.assign(this.patch, patch);
    for (const rec of this.steps.values()) {
      if (rec.outcome?.ok !== false || rec.performed) continue;
      delete rec.outcome;
      if (rec.intent) rec.retryApproved = true;
    }
  }

  /**
   * An interrupted execution names the effect steps whose write before the
   * call failed: it never called their tool, so calling it now cannot repeat
   * an effect (the next `effect.attempt` withdraws the approval).
   */
  private interrupted(d: Record<string, Json>): void {
    const steps = Array.isArray(d.notCalled) ? d.notCalled : [];
    for (const step of steps) {
      const rec = typeof step === "string" ? this.steps.get(step) : undefined;
      if (rec?.intent && !rec.outcome) rec.retryApproved = true;
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
