import { NotFoundError } from "../../core/errors.js";
import { text, type Json } from "../../core/json.js";
import { openStore } from "../../store/open.js";
import { deferredNotAttempted } from "../../saga/receipt.js";
import { isTerminal, type JournalEvent } from "../../store/types.js";
import { printJson, printLine } from "../output.js";

/** A JSON value on one line, cut short. */
function brief(value: Json | undefined): string {
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

function summarize(e: JournalEvent): string {
  const d = (e.data ?? {}) as Record<string, Json>;
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
    case "run.dead-lettered":
      return `${text(d.class)} → dlq ${text(d.deadLetterId)}`;
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
        `committed ${(d.committed as Json[]).length}, in flight ${(d.inFlight as Json[]).length}, ` +
        `never started ${(d.notStarted as Json[]).length}` +
        (Array.isArray(d.deferred) ? `, deferred never attempted ${d.deferred.length}` : "")
      );
    default:
      return name;
  }
}

export async function showCommand(
  runId: string,
  opts: { store: string; json?: boolean },
): Promise<void> {
  const store = await openStore(opts.store, { listen: false });
  try {
    const run = await store.getRun(runId);
    if (!run) throw new NotFoundError("run", runId);
    const events = await store.readJournal(runId);
    if (opts.json) return printJson({ run, events });
    printLine(
      `run ${run.id}  agent ${run.agent}  status ${run.status}${run.parentId ? `  parent ${run.parentId}` : ""}`,
    );
    if (run.error) printLine(`error: ${run.error.message}`);
    if (run.result !== undefined) printLine(`result: ${JSON.stringify(run.result)}`);
    printLine();
    const t0 = events[0]?.at ?? run.createdAt;
    for (const e of events) {
      const at = `+${((e.at - t0) / 1000).toFixed(3)}s`.padStart(10);
      printLine(`${at}  ${(e.step ?? "").padEnd(6)} ${e.type.padEnd(20)} ${summarize(e)}`);
    }
    const deferred = run.status === "completed" ? [] : deferredNotAttempted(events);
    if (deferred.length > 0) {
      printLine();
      printLine(
        `deferred effects ${isTerminal(run.status) ? "never attempted" : "not attempted yet"}: ` +
          deferred.map((c) => `${c.tool}@${c.step}`).join(", "),
      );
    }
  } finally {
    await store.close();
  }
}
