import type { UndoPlan, UndoReport } from "../../saga/undoTypes.js";
import { positiveInteger } from "../numbers.js";
import { printJson, printLine, table } from "../output.js";
import { withFlotilla } from "../session.js";

const at = (e: { tool: string; step: string; runId: string }, root: string) =>
  `${e.tool}@${e.step}${e.runId === root ? "" : ` (child ${e.runId})`}`;

export function printPlan(plan: UndoPlan): void {
  printLine(`undo plan of run ${plan.runId}: ${plan.effects.length} effect(s), latest first`);
  if (plan.effects.length === 0) return;
  const rows = plan.effects.map((e) => [
    String(e.wave),
    at(e, plan.runId),
    e.action,
    e.sideEffect ? `side effect: ${e.sideEffect}` : "",
  ]);
  printLine(table([["wave", "effect", "action", ""], ...rows]));
}

export function printReport(report: UndoReport): void {
  printLine(
    `undo of run ${report.runId} (undo run ${report.undoRunId}): ${report.complete ? "complete" : "INCOMPLETE: effects are left in the world"}`,
  );
  const rows = report.effects.map((e) => [
    at(e, report.runId),
    e.outcome,
    e.error?.message ?? (e.sideEffect && e.outcome !== "not-reversible" ? e.sideEffect : ""),
  ]);
  if (rows.length) printLine(table([["effect", "outcome", ""], ...rows]));
  if (!report.complete)
    printLine(
      "fix what failed (or resolve unknown outcomes with flotilla resolve), then run flotilla undo again: it retries only what is left",
    );
}

/** `flotilla undo <run> [--plan]`: the inverses run on the workers that define the tools. */
export async function undoCommand(
  runId: string,
  opts: { store: string; plan?: boolean; json?: boolean; timeout?: string },
): Promise<void> {
  const timeoutMs = positiveInteger("--timeout", opts.timeout ?? "300") * 1000;
  if (opts.plan) {
    const plan = await withFlotilla(opts.store, (f) => f.undoPlan(runId));
    return opts.json ? printJson(plan) : printPlan(plan);
  }
  const report = await withFlotilla(opts.store, async (f) => {
    // The plan first: a run that does not exist is refused before anything is said or done.
    const plan = await f.undoPlan(runId);
    if (!opts.json)
      process.stderr.write(
        `undoing run ${runId} (${plan.effects.length} effect(s)): the inverses are called by the workers that define its tools\n`,
      );
    return f.undo(runId, { timeoutMs });
  });
  if (opts.json) printJson(report);
  else printReport(report);
  if (!report.complete) process.exitCode = 1;
}
