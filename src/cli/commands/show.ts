import type { SerializedError } from "../../core/errors.js";
import { NotFoundError } from "../../core/errors.js";
import { openStore } from "../../store/open.js";
import { deferredNotAttempted } from "../../saga/receipt.js";
import { isTerminal } from "../../store/types.js";
import { runView, type EffectView } from "../../operator/runView.js";
import { workerWait } from "../../operator/workerWait.js";
import { printJson, printLine } from "../output.js";

export async function showCommand(
  runId: string,
  opts: { store: string; json?: boolean },
): Promise<void> {
  const store = await openStore(opts.store, { listen: false, create: false });
  try {
    const run = await store.getRun(runId);
    if (!run) throw new NotFoundError("run", runId);
    const events = await store.readJournal(runId);
    const view = runView(run, events);
    const waiting = workerWait(run, await store.liveWorkerAgents());
    if (opts.json) return printJson({ run, events, effects: view.effects, waitingFor: waiting });
    printLine(
      `run ${run.id}  agent ${run.agent}  status ${run.status}${run.parentId ? `  parent ${run.parentId}` : ""}`,
    );
    if (waiting) printLine(waiting.message);
    if (run.error) printLine(`error: ${run.error.message}`);
    if (run.result !== undefined) printLine(`result: ${JSON.stringify(run.result)}`);
    printLine();
    for (const e of view.timeline) {
      const at = `+${(e.offsetMs / 1000).toFixed(3)}s`.padStart(10);
      printLine(`${at}  ${(e.step ?? "").padEnd(6)} ${e.type.padEnd(20)} ${e.summary}`);
    }
    const deferred = run.status === "completed" ? [] : deferredNotAttempted(events);
    if (deferred.length > 0) {
      printLine();
      printLine(
        `deferred effects ${isTerminal(run.status) ? "never attempted" : "not attempted yet"}: ` +
          deferred.map((c) => `${c.tool}@${c.step}`).join(", "),
      );
    }
    printDecisions(run.id, view.effects);
  } finally {
    await store.close();
  }
}

/** What made an effect's outcome unknown, as the journal tells it. */
const unknownBecause = (e: SerializedError | null) =>
  e
    ? `unknown after ${e.code ?? e.name}: ${e.message}`
    : "unknown: no answer was journaled (the call was cut short, or reconcile could not tell)";

/** Effects whose outcome was lost: why, and what was decided about them, by whom. */
function printDecisions(runId: string, effects: EffectView[]): void {
  const awaiting = effects.filter((e) => e.awaitingDecision);
  if (awaiting.length > 0) {
    printLine();
    printLine("outcome unknown, awaiting a decision:");
    for (const e of awaiting) {
      printLine(`  ${e.tool}@${e.step} key ${e.key}: ${unknownBecause(e.unknownBecause)}`);
      printLine(
        `    decide: flotilla resolve ${runId} ${e.step} --committed [--result JSON] | --retry | --failed [--reason R]`,
      );
    }
  }
  const resolved = effects.filter((e) => e.resolved !== null);
  if (resolved.length > 0) {
    printLine();
    printLine("resolved by an operator:");
    for (const e of resolved) {
      const r = e.resolved!;
      printLine(
        `  ${e.tool}@${e.step}: ${r.decision}${r.reason ? ` (${r.reason})` : ""} by ${r.by} ` +
          `at ${new Date(r.at).toISOString()} (was ${unknownBecause(e.unknownBecause)})`,
      );
    }
  }
}
