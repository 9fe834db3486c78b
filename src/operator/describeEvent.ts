import { text, type Json } from "../core/json.js";
import type { JournalEvent } from "../store/types.js";

/*
 * One line per journal event, as an operator reads it: `flotilla show` prints
 * it, the dashboard's timeline shows it.
 */

/** A JSON value on one line, cut short. */
export function brief(value: Json | undefined): string {
  const s = JSON.stringify(value ?? null);
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}

/** A wait as `run.suspended` names it, an approval's said as such. */
function waitLabel(reason: string): string {
  const approval = /^signal (approve:(.+))$/.exec(reason);
  return approval ? `approval of ${approval[2]} (signal ${approval[1]})` : reason;
}

/** What a completed step says: a deferral, an approval's decision, or its name. */
function completed(name: string, d: Record<string, Json>): string {
  if (d.deferred === true) return `${name} deferred to the end of the run, args ${brief(d.args)}`;
  if (!name.startsWith("approve:")) return name;
  const decision = (d.value ?? {}) as Record<string, Json>;
  const reason = typeof decision.reason === "string" ? ` (${decision.reason})` : "";
  if (decision.approved === true) return `${name} approved${reason}`;
  if (decision.approved === false) return `${name} denied${reason}`;
  return `${name} malformed decision ${brief(d.value)}`;
}

/** The event's data as an object (an empty one when it is not). */
export function eventData(e: Pick<JournalEvent, "data">): Record<string, Json> {
  return e.data !== null && typeof e.data === "object" && !Array.isArray(e.data) ? e.data : {};
}

const count = (v: Json | undefined) => (Array.isArray(v) ? v.length : 0);

/** `, after <code or name>: <message>` for an event's `error`, or nothing without one. */
function causeOf(d: Record<string, Json>): string {
  const e = eventData({ data: d.error ?? null });
  if (typeof e.message !== "string") return "";
  return `, after ${text(e.code ?? e.name ?? "Error")}: ${e.message}`;
}

export function describeEvent(e: JournalEvent): string {
  const d = eventData(e);
  const name = typeof d.name === "string" ? d.name : "";
  switch (e.type) {
    case "effect.intent":
      return `${name} (${text(d.effect)}) key=${text(d.key)}`;
    case "approval.requested":
      return `${text(d.tool)} waits for signal ${name}, args ${brief(d.args)}`;
    case "step.completed":
      return completed(name, d);
    case "effect.committed":
      return `${name}${d.dedupedFrom ? " (deduplicated)" : ""}${d.reconciled ? " (reconciled)" : ""}`;
    case "step.failed":
    case "effect.failed":
    case "run.failed":
    case "run.parked":
      return `${name} ${text((d.error as Record<string, Json> | undefined)?.message ?? "")}`.trim();
    case "effect.unknown":
      return `${name} key=${text(d.key)}: outcome unknown${causeOf(d)}`;
    case "effect.resolved":
      return (
        `${name} resolved as ${text(d.decision)} by ${text(d.by)}` +
        (typeof d.reason === "string" ? ` (${d.reason})` : "")
      );
    case "run.dead-lettered":
      return `${text(d.class)} → dlq ${text(d.deadLetterId)}`;
    case "run.cancel-requested":
      return text(d.reason ?? "");
    case "run.redriven":
    case "run.retried":
      return `by ${text(d.by)}${d.reason ? ` (${text(d.reason)})` : ""}`;
    case "run.resumed":
      return `worker ${text(d.worker)}`;
    case "run.suspended":
      return `waiting for ${((d.waitingFor as string[]) ?? []).map(waitLabel).join(", ")}`;
    case "timer.set":
      return `until ${new Date(Number(d.wakeAt)).toISOString()}`;
    case "outage.waiting":
      return `${name} waits for ${text(d.reason).replace(/^dependency /, "")}`;
    case "child.spawned":
      return `${name} → ${text(d.childId)}`;
    case "run.cancelled":
      return (
        `committed ${count(d.committed)}, in flight ${count(d.inFlight)}, ` +
        `never started ${count(d.notStarted)}` +
        (Array.isArray(d.deferred) ? `, deferred never attempted ${d.deferred.length}` : "")
      );
    default:
      return name;
  }
}
