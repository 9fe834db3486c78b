import type { Json } from "../../core/json.js";
import type { NewDeadLetter } from "../../deadletter/types.js";
import type { Commit, NewEvent } from "../../store/types.js";
import type { Redactor } from "./Redactor.js";

/**
 * Fields of event data the runtime reads back to decide what to do (an
 * effect's idempotency key, a child's id, the payload refs of an LLM step,
 * the facts a run was created with): never redacted, so redaction cannot
 * change what replay and recovery decide. Every other field is a payload.
 */
const STRUCTURAL = new Set([
  "kind",
  "name",
  "key",
  "effect",
  "step",
  "childId",
  "deadLetterId",
  "dedupedFrom",
  "deadline",
  "wakeAt",
  "since",
  "signalId",
  "attempt",
  "notCalled",
  "decision",
  "deferred",
  "reversible",
  "worker",
  "class",
  "provider",
  "request",
]);

function redactData(r: Redactor, data: Json): Json {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return r.stored(data);
  let out: Record<string, Json> | undefined;
  for (const k of Object.keys(data)) {
    if (STRUCTURAL.has(k)) continue;
    const v = data[k] as Json;
    const red = r.stored(v);
    if (red !== v) (out ??= { ...data })[k] = red;
  }
  return out ?? data;
}

/** A dead letter's error and context (input, partial results, attempts) redacted. */
export function redactDeadLetter(r: Redactor, entry: NewDeadLetter): NewDeadLetter {
  if (!r.active) return entry;
  const error = r.stored(entry.error);
  const context = r.stored(entry.context);
  return error === entry.error && context === entry.context ? entry : { ...entry, error, context };
}

/**
 * A commit with every payload it carries redacted: event data, effect
 * results, new runs' inputs, the run's result and error, a dead letter.
 * Payload blobs are redacted before they are hashed (see PayloadWriter).
 * Parts with nothing to redact are the same objects.
 */
export function redactCommit<C extends Pick<Commit, "events"> & Partial<Commit>>(
  r: Redactor,
  commit: C,
): C {
  if (!r.active) return commit;
  const out: C = { ...commit };
  out.events = commit.events.map((e: NewEvent) => {
    const data = redactData(r, e.data);
    return data === e.data ? e : { ...e, data };
  });
  if (commit.effects)
    out.effects = commit.effects.map((e) => {
      if (e.result === undefined) return e;
      const result = r.stored(e.result);
      return result === e.result ? e : { ...e, result };
    });
  if (commit.newRuns) out.newRuns = commit.newRuns.map((n) => ({ ...n, input: r.stored(n.input) }));
  if (commit.status) {
    const { result, error } = commit.status;
    out.status = {
      ...commit.status,
      ...(result !== undefined ? { result: r.stored(result) } : {}),
      ...(error ? { error: r.stored(error) } : {}),
    };
  }
  if (commit.deadLetter) out.deadLetter = redactDeadLetter(r, commit.deadLetter);
  return out;
}
