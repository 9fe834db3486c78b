import type { SerializedError } from "../core/errors.js";
import { deriveId } from "../core/ids.js";
import { text, type Json } from "../core/json.js";
import type { JournalEvent, RunRecord } from "../store/types.js";
import type { DeadLetterClass } from "./taxonomy.js";
import type { DeadLetterContext, NewDeadLetter } from "./types.js";

type Data = Record<string, Json>;

function dataOf(e: JournalEvent | { data: Json }): Data {
  return e.data !== null && typeof e.data === "object" && !Array.isArray(e.data) ? e.data : {};
}

/** The error and what it wraps (a child's error, the last attempt's error), outermost first. */
export function errorChain(error: SerializedError): SerializedError[] {
  const chain: SerializedError[] = [];
  let next: unknown = error;
  while (chain.length < 8 && next !== null && typeof next === "object" && "message" in next) {
    const e = next as SerializedError;
    chain.push(e);
    const d = e.details ?? {};
    next = d.error ?? d.lastError ?? d.cause;
  }
  return chain;
}

/** Cost and tokens the run's LLM steps reported (each journaled with its response). */
export function spentBy(events: readonly JournalEvent[]): DeadLetterContext["cost"] {
  const cost = { usd: 0, inputTokens: 0, outputTokens: 0, llmCalls: 0 };
  for (const e of events) {
    const d = dataOf(e);
    if (d.kind !== "llm" || e.type !== "step.completed") continue;
    const response = dataOf({ data: d.response ?? null });
    const usage = dataOf({ data: response.usage ?? null });
    cost.llmCalls++;
    cost.usd += typeof response.costUsd === "number" ? response.costUsd : 0;
    cost.inputTokens += typeof usage.inputTokens === "number" ? usage.inputTokens : 0;
    cost.outputTokens += typeof usage.outputTokens === "number" ? usage.outputTokens : 0;
  }
  return cost;
}

/** Folds a run's journal into what an operator needs to decide about it. */
export function deadLetterContext(
  input: Json,
  events: readonly JournalEvent[],
  finalError: SerializedError | null,
): DeadLetterContext {
  const context: DeadLetterContext = {
    input,
    checkpoint: null,
    partialResults: [],
    attempts: [],
    cost: spentBy(events),
    effects: [],
    steps: 0,
  };
  const effects = new Map<string, DeadLetterContext["effects"][number]>();
  const steps = new Set<string>();
  for (const e of events) {
    if (!e.step) continue;
    steps.add(e.step);
    const d = dataOf(e);
    const kind = text(d.kind ?? "");
    const name = text(d.name ?? "");
    if (e.type === "step.completed" || e.type === "effect.committed") {
      context.checkpoint = { eventId: e.id, step: e.step };
      // LLM answers live in payload storage; their usage is what an operator weighs.
      const value =
        kind === "llm" ? (dataOf({ data: d.response ?? null }).usage ?? null) : (d.value ?? null);
      context.partialResults.push({ step: e.step, kind, name, value });
    } else if (e.type === "step.failed" || e.type === "effect.failed") {
      const error = d.error as unknown as SerializedError;
      context.attempts.push({ step: e.step, kind, name, error, chain: errorChain(error) });
    }
    if (e.type === "effect.intent")
      effects.set(e.step, { step: e.step, tool: name, key: text(d.key), state: "intent" });
    const effect = effects.get(e.step);
    if (effect && e.type === "effect.committed") effect.state = "committed";
    if (effect && e.type === "effect.failed") effect.state = "failed";
    if (effect && e.type === "effect.unknown") effect.state = "unknown";
  }
  if (finalError)
    context.attempts.push({
      step: null,
      kind: "run",
      name: "run",
      error: finalError,
      chain: errorChain(finalError),
    });
  context.effects = [...effects.values()];
  context.steps = steps.size;
  return context;
}

/** The run's root: journaled at creation, the run itself when it has no parent. */
export function rootOf(runId: string, events: readonly JournalEvent[]): string {
  const created = events.find((e) => e.type === "run.created");
  const root = created ? dataOf(created).root : undefined;
  return typeof root === "string" ? root : runId;
}

/** A dead-letter entry for `run`, its id derived from the event it follows so a retried capture is one entry. */
export function captureDeadLetter(
  run: Pick<RunRecord, "id" | "agent" | "tenant" | "input">,
  events: readonly JournalEvent[],
  cls: DeadLetterClass,
  error: SerializedError | null,
): NewDeadLetter {
  const last = events.at(-1)?.id ?? 0;
  return {
    id: deriveId(run.id, "dead-letter", String(last)),
    runId: run.id,
    rootId: rootOf(run.id, events),
    agent: run.agent,
    tenant: run.tenant,
    class: cls,
    error,
    context: deadLetterContext(run.input, events, error),
  };
}
