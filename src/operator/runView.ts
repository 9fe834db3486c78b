import type { SerializedError } from "../core/errors.js";
import { text, type Json } from "../core/json.js";
import { spentBy } from "../deadletter/capture.js";
import type { CancelReceipt } from "../saga/receipt.js";
import type { JournalEvent, RunRecord } from "../store/types.js";
import { describeEvent, eventData } from "./describeEvent.js";

/*
 * What an operator sees of one run, folded from its journal alone: the
 * timeline, its steps, effects with their state, LLM calls, the resilience
 * events (outages waited out, budget alarms), children and cancel receipts.
 * The CLI's `show` and the server's `GET /api/runs/:id` both use it.
 */

export interface TimelineEntry {
  id: number;
  at: number;
  /** Milliseconds since the run's first event. */
  offsetMs: number;
  step: string | null;
  type: string;
  summary: string;
}

export type StepState = "running" | "completed" | "failed" | "unknown" | "revoked";

export interface StepView {
  step: string;
  kind: string;
  name: string;
  state: StepState;
  attempts: number | null;
  error: SerializedError | null;
}

/** An effect's state as the journal tells it, with the decisions made about it. */
export type EffectView = {
  step: string;
  tool: string;
  key: string;
  /** The tool's contract: read, idempotent, compensable, irreversible. */
  effect: string;
  state: "intent" | "committed" | "failed" | "unknown" | "revoked";
  args: Json;
  result: Json;
  error: SerializedError | null;
  /** What made its outcome unknown (the error that lost the tool's answer), when it was. */
  unknownBecause: SerializedError | null;
  /** How a parked effect was decided, by whom, when; `reason` for a decision of failed. */
  resolved: { decision: string; by: string; at: number; reason: string | null } | null;
  dedupedFrom: Json;
  reconciled: boolean;
  /** Its outcome was lost and its run parked on it: `resolve` decides it. */
  awaitingDecision: boolean;
};

export interface LlmCallView {
  step: string;
  name: string;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  attempts: number;
  samples: number;
  /** Where the answer came from: `degraded` with a reason when not the primary. */
  provenance: Json;
  finishReason: string | null;
  state: "completed" | "failed";
  error: SerializedError | null;
}

/** Outages waited out, suspensions, budget alarms, interruptions: what the resilience layer did. */
export interface ResilienceEvent {
  at: number;
  step: string | null;
  type: string;
  summary: string;
  data: Json;
}

export interface RunCost {
  usd: number;
  inputTokens: number;
  outputTokens: number;
  llmCalls: number;
}

export interface RunView {
  timeline: TimelineEntry[];
  steps: StepView[];
  effects: EffectView[];
  llmCalls: LlmCallView[];
  resilience: ResilienceEvent[];
  /** Children by the step that spawned them. */
  children: { step: string; name: string; runId: string }[];
  receipts: CancelReceipt[];
  /** Operator actions journaled on the run: retries, redrives, resolutions, discards, cancel requests. */
  actions: {
    at: number;
    type: string;
    by: string | null;
    reason: string | null;
    step: string | null;
  }[];
  cost: RunCost;
}

const RESILIENCE = new Set([
  "outage.waiting",
  "run.suspended",
  "run.interrupted",
  "budget.alarm",
  "timer.set",
  "approval.requested",
]);
const ACTIONS = new Set([
  "run.cancel-requested",
  "run.retried",
  "run.redriven",
  "effect.resolved",
  "dead-letter.discarded",
]);

function errorOf(d: Record<string, Json>): SerializedError | null {
  const e = d.error;
  return e !== null && typeof e === "object" && !Array.isArray(e)
    ? (e as unknown as SerializedError)
    : null;
}

const num = (v: Json | undefined): number => (typeof v === "number" ? v : 0);
const str = (v: Json | undefined): string | null => (typeof v === "string" ? v : null);

export function timelineOf(events: readonly JournalEvent[], t0?: number): TimelineEntry[] {
  const start = t0 ?? events[0]?.at ?? 0;
  return events.map((e) => ({
    id: e.id,
    at: e.at,
    offsetMs: e.at - start,
    step: e.step,
    type: e.type,
    summary: describeEvent(e),
  }));
}

function llmCall(e: JournalEvent, d: Record<string, Json>): LlmCallView {
  const request = eventData({ data: d.request ?? null });
  const response = eventData({ data: d.response ?? null });
  const usage = eventData({ data: response.usage ?? null });
  const failed = e.type === "step.failed";
  const error = errorOf(d);
  return {
    step: e.step ?? "",
    name: text(d.name ?? ""),
    provider: text(d.provider ?? ""),
    model: str(response.model) ?? str(request.model) ?? "",
    inputTokens: num(usage.inputTokens),
    outputTokens: num(usage.outputTokens),
    costUsd: num(response.costUsd),
    attempts: num(response.attempts ?? d.attempts ?? (error?.details?.attempts as Json)) || 1,
    samples: num(response.samples) || 1,
    provenance: response.provenance ?? (failed ? null : { degraded: false, source: "primary" }),
    finishReason: str(response.finishReason),
    state: failed ? "failed" : "completed",
    error: failed ? error : null,
  };
}

/** Folds a run's journal into what an operator looks at. */
export function runView(run: RunRecord, events: readonly JournalEvent[]): RunView {
  const steps = new Map<string, StepView>();
  const effects = new Map<string, EffectView>();
  const view: RunView = {
    timeline: timelineOf(events, events[0]?.at ?? run.createdAt),
    steps: [],
    effects: [],
    llmCalls: [],
    resilience: [],
    children: [],
    receipts: [],
    actions: [],
    cost: spentBy(events),
  };
  for (const e of events) {
    const d = eventData(e);
    const step = e.step;
    if (RESILIENCE.has(e.type))
      view.resilience.push({
        at: e.at,
        step,
        type: e.type,
        summary: describeEvent(e),
        data: e.data,
      });
    if (ACTIONS.has(e.type))
      view.actions.push({
        at: e.at,
        type: e.type,
        by: str(d.by),
        reason: str(d.reason) ?? str(d.decision),
        step,
      });
    if (e.type === "run.cancelled") view.receipts.push(e.data as unknown as CancelReceipt);
    if (e.type === "child.spawned")
      view.children.push({ step: step ?? "", name: text(d.name ?? ""), runId: text(d.childId) });
    if (step === null) continue;
    if (e.type === "step.completed" || e.type === "step.failed") {
      const kind = text(d.kind ?? "");
      const prior = steps.get(step);
      steps.set(step, {
        step,
        kind,
        name: text(d.name ?? ""),
        state: e.type === "step.completed" ? "completed" : "failed",
        attempts: typeof d.attempts === "number" ? d.attempts : (prior?.attempts ?? null),
        error: e.type === "step.failed" ? errorOf(d) : null,
      });
      if (kind === "llm") view.llmCalls.push(llmCall(e, d));
    }
    if (e.type === "effect.intent") {
      effects.set(step, {
        step,
        tool: text(d.name ?? ""),
        key: text(d.key ?? ""),
        effect: text(d.effect ?? ""),
        state: "intent",
        args: d.args ?? null,
        result: null,
        error: null,
        unknownBecause: null,
        resolved: null,
        dedupedFrom: null,
        reconciled: false,
        awaitingDecision: false,
      });
      if (!steps.has(step))
        steps.set(step, {
          step,
          kind: "tool",
          name: text(d.name ?? ""),
          state: "running",
          attempts: null,
          error: null,
        });
    }
    const effect = effects.get(step);
    if (!effect) continue;
    const stepView = steps.get(step);
    if (e.type === "effect.committed") {
      effect.state = "committed";
      effect.awaitingDecision = false;
      effect.result = d.value ?? null;
      effect.dedupedFrom = d.dedupedFrom ?? null;
      effect.reconciled = d.reconciled === true;
    } else if (e.type === "effect.failed") {
      effect.state = d.mayHaveActed === true ? "unknown" : "failed";
      effect.awaitingDecision = false;
      effect.error = errorOf(d);
    } else if (e.type === "effect.unknown") {
      effect.state = "unknown";
      effect.awaitingDecision = true;
      effect.unknownBecause = errorOf(d);
    } else if (e.type === "effect.revoked") {
      effect.state = "revoked";
    } else if (e.type === "effect.resolved") {
      const decision = text(d.decision ?? "");
      effect.resolved = { decision, by: text(d.by ?? ""), at: e.at, reason: str(d.reason) };
      effect.awaitingDecision = false;
      if (decision === "committed") effect.state = "committed";
      else if (decision === "failed") effect.state = "failed";
      else effect.state = "intent";
    }
    // A tool step with an effect ends with its effect's outcome, not a step event.
    if (stepView && effect.state !== "intent")
      stepView.state =
        effect.state === "committed"
          ? "completed"
          : effect.state === "revoked"
            ? "revoked"
            : effect.state;
    if (stepView && effect.state === "failed") stepView.error = effect.error;
  }
  view.steps = [...steps.values()];
  view.effects = [...effects.values()];
  return view;
}
