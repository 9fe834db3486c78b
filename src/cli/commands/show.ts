import { NotFoundError } from "../../core/errors.js";
import { openStore } from "../../store/open.js";
import { deferredNotAttempted } from "../../saga/receipt.js";
import { isTerminal } from "../../store/types.js";
import { timelineOf } from "../../operator/runView.js";
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
    if (opts.json) return printJson({ run, events });
    printLine(
      `run ${run.id}  agent ${run.agent}  status ${run.status}${run.parentId ? `  parent ${run.parentId}` : ""}`,
    );
    if (run.error) printLine(`error: ${run.error.message}`);
    if (run.result !== undefined) printLine(`result: ${JSON.stringify(run.result)}`);
    printLine();
    for (const e of timelineOf(events, events[0]?.at ?? run.createdAt)) {
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
  } finally {
    await store.close();
  }
}
