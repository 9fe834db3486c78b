import type { RollbackReport } from "../../sql/rollbackTypes.js";
import { positiveInteger } from "../numbers.js";
import { printJson, printLine, table } from "../output.js";
import { progressBar } from "../progress.js";
import { withFlotilla } from "../session.js";

const shown = (v: unknown) => {
  const s = JSON.stringify(v ?? null);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
};

export function printRollback(r: RollbackReport): void {
  const verb = r.plan ? "would restore" : "restored";
  printLine(
    `${r.plan ? "rollback plan" : "rollback"} of run ${r.runId}${r.runs.length > 1 ? ` and ${r.runs.length - 1} child run(s)` : ""} in ${r.database}: ` +
      `${r.counts.rowsWritten} row change(s), ${verb} ${r.counts.restored}` +
      `${r.counts.alreadyRestored ? ` (${r.counts.alreadyRestored} by an earlier rollback)` : ""}, ` +
      `${r.counts.conflicts} conflict(s)`,
  );
  if (r.tables.length > 0)
    printLine(
      table([
        ["table", "written", r.plan ? "would restore" : "restored", "conflicts"],
        ...r.tables.map((t) => [
          t.table,
          String(t.rowsWritten),
          String(t.restored),
          String(t.conflicts),
        ]),
      ]),
    );
  if (r.conflicts.length > 0) {
    printLine();
    printLine("changed since by someone else, left as they are:");
    for (const c of r.conflicts) {
      const by = c.changedBy
        ? c.changedBy.runId
          ? `run ${c.changedBy.runId} (${c.changedBy.step ?? "?"})`
          : `outside any run${c.changedBy.step ? ` (${c.changedBy.step})` : ""}`
        : "unrecorded";
      printLine(
        `  ${c.table} ${shown(c.key)} (${c.action} of step ${c.step}): ${c.reason}, last by ${by} at ${c.changedBy?.at ?? "?"}`,
      );
      printLine(`    the run left: ${shown(c.runVersion)}`);
      printLine(`    now:          ${shown(c.currentVersion)}`);
    }
  }
  for (const s of r.sideChannels)
    printLine(
      `not reversed: ${s.channels.join(", ")} (declared by tool ${s.tool}, fed by ${s.statements} statement(s) of the run)`,
    );
  if (!r.plan && r.conflicts.length > 0)
    printLine(
      "settle the conflicting rows (or leave them), then run flotilla rollback again: it redoes nothing already restored",
    );
}

/** `flotilla rollback <run> --sql <url> [--plan]`: restores the run's rows, latest first. */
export async function rollbackCommand(
  runId: string,
  opts: { store: string; sql?: string; plan?: boolean; batch?: string; json?: boolean },
): Promise<void> {
  const batchSize = opts.batch === undefined ? undefined : positiveInteger("--batch", opts.batch);
  const bar = progressBar();
  try {
    const report = await withFlotilla(opts.store, (f) =>
      f.rollback(runId, {
        ...(opts.sql === undefined ? {} : { store: opts.sql }),
        ...(opts.plan ? { plan: true } : {}),
        ...(batchSize === undefined ? {} : { batchSize }),
        onBatch: (done, of) => bar.update(done, of, "batches"),
      }),
    );
    bar.stop();
    if (opts.json) printJson(report);
    else printRollback(report);
    if (!report.plan && !report.complete) process.exitCode = 1;
  } finally {
    bar.stop();
  }
}
