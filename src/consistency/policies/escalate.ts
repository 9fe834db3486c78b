import { InvalidArgumentError } from "../../core/errors.js";
import type { Json } from "../../core/json.js";
import type { JournalEvent, Store } from "../../store/types.js";
import { checkJson } from "../../state/values.js";
import { sameValue } from "../assertions.js";
import type { Candidate, Subject } from "../conflicts.js";
import type { ReconcileScope, Settled } from "./verdict.js";

/** The signal a human sends a run to settle a conflict escalated by `ctx.reconcile`; payload `{ value }`. */
export function reconcileSignal(entity: string, key: string): string {
  return `reconcile:${entity}/${key}`;
}

/** A conflict waiting for a human: send `signal` to `runId` with `{ value }`. */
export interface Escalation {
  runId: string;
  signal: string;
  entity: string;
  key: string;
  candidates: Candidate[];
}

export const ESCALATE_STEP = "reconcile.escalate";

/**
 * `escalate`: journals the conflicts (so the run's timeline and
 * `escalatedConflicts` show what a human must choose), then waits durably for
 * one signal per conflict, in order; signals sent early wait for their turn.
 * The human's value is taken as is: it may be a value no branch asserted.
 */
export async function escalate(
  scope: ReconcileScope,
  subjects: readonly Subject[],
  timeoutMs: number | undefined,
): Promise<Settled[]> {
  const conflicts = subjects.map((s) => ({
    signal: reconcileSignal(s.entity, s.key),
    entity: s.entity,
    key: s.key,
    candidates: s.candidates,
  }));
  await scope.step(ESCALATE_STEP, () => Promise.resolve({ value: { conflicts } }));
  const verdicts: Settled[] = [];
  for (const c of conflicts) {
    const payload = await scope.ctx.waitFor<unknown>(
      c.signal,
      timeoutMs === undefined ? {} : { timeoutMs },
    );
    const value = chosenBy(c.signal, payload);
    const asserted = c.candidates.find((k) => sameValue(k.value, value));
    verdicts.push({
      value,
      resolution: "human",
      pinned: false,
      note: `chosen by a human (signal ${c.signal})${asserted ? "" : ": a value no branch asserted"}`,
    });
  }
  return verdicts;
}

function chosenBy(signal: string, payload: unknown): Json {
  if (typeof payload !== "object" || payload === null || !("value" in payload))
    throw new InvalidArgumentError(
      `the signal '${signal}' must carry { value }: the value chosen for the conflict, ` +
        `received ${JSON.stringify(payload)?.slice(0, 80) ?? "nothing"}`,
      { field: "payload", signal },
    );
  return checkJson(payload.value, `the value of signal '${signal}'`);
}

/**
 * Conflicts a run escalated that no signal has settled yet, read from its
 * journal: what an operator (or a dashboard) shows a human.
 */
export async function escalatedConflicts(
  host: { readonly store: Store } | Store,
  runId: string,
): Promise<Escalation[]> {
  const store = "store" in host ? host.store : host;
  const events = await store.readJournal(runId);
  const asked: Escalation[] = [];
  const answered = new Map<string, number>();
  for (const e of events) {
    const d = completed(e);
    if (d?.kind === "reconcile" && d.name === ESCALATE_STEP) {
      const value = d.value as unknown as { conflicts: Omit<Escalation, "runId">[] };
      for (const c of value.conflicts) asked.push({ runId, ...c });
    } else if (d?.kind === "signal" && typeof d.name === "string")
      answered.set(d.name, (answered.get(d.name) ?? 0) + 1);
  }
  return asked.filter((c) => {
    const left = answered.get(c.signal) ?? 0;
    answered.set(c.signal, left - 1);
    return left <= 0;
  });
}

function completed(e: JournalEvent): Record<string, Json> | undefined {
  if (e.type !== "step.completed" || typeof e.data !== "object" || e.data === null)
    return undefined;
  return Array.isArray(e.data) ? undefined : e.data;
}
