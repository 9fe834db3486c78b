import type { Json } from "../core/json.js";
import { text } from "../core/json.js";
import { eventData } from "../operator/describeEvent.js";
import type { ExecutionOutcome } from "../runtime/Execution.js";
import type { ExecutionEnded } from "../runtime/workerOptions.js";
import { firstLine } from "./output.js";

/*
 * What `flotilla worker` says when a run it executed ends in a way someone
 * must look at: failed, parked, dead-lettered or cancelled. Completions,
 * suspensions and hand-overs (lease lost, store fault) are routine: silent.
 */

const REPORTED: ReadonlySet<ExecutionOutcome> = new Set([
  "failed",
  "parked",
  "dead-lettered",
  "cancelled",
]);

interface ErrorLine {
  code: string;
  message: string;
}

/** One run's ending, as printed (a JSON line with --json). */
export interface RunEndedReport {
  event: `run.${ExecutionOutcome}`;
  runId: string;
  agent: string;
  outcome: ExecutionOutcome;
  error: ErrorLine | null;
  /** A park on an effect: which one, and the error that lost its answer (null: none recorded). */
  unknown?: { step: string; tool: string; key: string; cause: ErrorLine | null };
  deadLetter?: { class: string; id: string };
  /** A cancel's reason. */
  reason?: string;
}

function errorLine(value: Json | undefined): ErrorLine | null {
  const e = eventData({ data: value ?? null });
  if (typeof e.message !== "string") return null;
  return { code: text(e.code ?? e.name ?? "Error"), message: firstLine(e.message) };
}

/** The report for an execution's end, or undefined when it is routine. */
export async function runEndedReport(ended: ExecutionEnded): Promise<RunEndedReport | undefined> {
  const { runId, agent, outcome } = ended;
  if (!REPORTED.has(outcome)) return undefined;
  const journal = await ended.journal();
  const ending = journal.findLast((e) => e.type === `run.${outcome}`);
  const d = ending ? eventData(ending) : {};
  const report: RunEndedReport = {
    event: `run.${outcome}`,
    runId,
    agent,
    outcome,
    error: errorLine(d.error),
  };
  if (outcome === "cancelled") report.reason = text(d.reason ?? "cancelled");
  if (outcome === "dead-lettered")
    report.deadLetter = { class: text(d.class), id: text(d.deadLetterId) };
  const step = eventData({ data: eventData({ data: d.error ?? null }).details ?? null }).step;
  const unknown = journal.findLast((e) => e.type === "effect.unknown" && e.step === step);
  if (outcome === "parked" && unknown) {
    const u = eventData(unknown);
    report.unknown = {
      step: unknown.step ?? "",
      tool: text(u.name),
      key: text(u.key),
      cause: errorLine(u.error),
    };
  }
  return report;
}

const said = (e: ErrorLine | null) => (e ? `${e.code}: ${e.message}` : "no error recorded");

/** The report as one line for stderr. */
export function runEndedLine(r: RunEndedReport): string {
  const head = `run ${r.runId} (agent ${r.agent}) ${r.outcome}`;
  if (r.outcome === "cancelled") return `${head}: ${r.reason ?? "cancelled"}`;
  if (r.unknown) {
    const u = r.unknown;
    return (
      `${head}: outcome of ${u.tool} (step ${u.step}, key ${u.key}) unknown ` +
      `${u.cause ? `after ${said(u.cause)}` : "(the call was cut short, no answer journaled)"}; ` +
      `decide with flotilla resolve ${r.runId} ${u.step} --committed|--retry|--failed`
    );
  }
  const dlq = r.deadLetter ? ` as ${r.deadLetter.class} (dlq ${r.deadLetter.id})` : "";
  return `${head}${dlq}: ${said(r.error)}`;
}
