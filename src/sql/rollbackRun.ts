import { z } from "zod";
import { InvalidArgumentError, NotFoundError } from "../core/errors.js";
import { text } from "../core/json.js";
import { parseOptions } from "../core/validate.js";
import { isTerminal, TERMINAL_STATUSES, type Store } from "../store/types.js";
import type { SqlDatabase, StatementRecord } from "./database.js";
import { openSqlDatabase } from "./open.js";
import { rollbackReport, rollbackRows } from "./rollback.js";
import type { RollbackReport, SideChannelNote } from "./rollbackTypes.js";
import { sqlToolsOf } from "./SqlTool.js";
import { redactSqlUrl } from "./url.js";

export interface RollbackOptions {
  /**
   * The guarded database to roll back in. Default: the database of the SQL
   * tools defined on this instance (when they all use one).
   */
  store?: string;
  /** Only report what would be done; nothing is changed. Default false. */
  plan?: boolean;
  /** Row changes per transaction. Default 500. */
  batchSize?: number;
  /** Told after each committed batch (for a progress bar). */
  onBatch?: (done: number, of: number) => void;
}

const optionsSchema = z.strictObject({
  store: z.string().min(1).optional(),
  plan: z.boolean().optional(),
  batchSize: z.number().int().min(1).max(100_000).optional(),
  onBatch: z.function().optional(),
});

/**
 * The run and its descendants, from their journals. A run still going
 * could write again behind the rollback: it must have ended.
 */
export async function runTree(store: Store, runId: string): Promise<string[]> {
  const run = await store.getRun(runId);
  if (!run) throw new NotFoundError("run", runId);
  if (!isTerminal(run.status))
    throw new InvalidArgumentError(
      `run ${runId} is ${run.status}: only a run that has ended (and its children) can be rolled back, or it could write again behind the rollback; cancel it first`,
      { runId, status: run.status },
    );
  const runs = [runId];
  for (const e of await store.readJournal(runId)) {
    const child = (e.data as { childId?: unknown } | null)?.childId;
    if (e.type === "child.spawned" && child !== undefined)
      runs.push(...(await runTree(store, text(child))));
  }
  return runs;
}

function sideChannelsOf(statements: readonly StatementRecord[]): SideChannelNote[] {
  const byTool = new Map<string, SideChannelNote>();
  for (const s of statements) {
    if (s.sideChannels.length === 0) continue;
    const note = byTool.get(s.tool) ?? { tool: s.tool, channels: [], statements: 0 };
    note.statements++;
    for (const c of s.sideChannels) if (!note.channels.includes(c)) note.channels.push(c);
    byTool.set(s.tool, note);
  }
  return [...byTool.values()];
}

async function databaseFor(
  host: object,
  store: string | undefined,
): Promise<{ db: SqlDatabase; owned: boolean }> {
  if (store !== undefined) return { db: await openSqlDatabase(store), owned: true };
  const urls = [...new Set(sqlToolsOf(host).map((t) => t.store))];
  const tool = sqlToolsOf(host)[0];
  if (urls.length !== 1 || !tool)
    throw new InvalidArgumentError(
      urls.length === 0
        ? "rollback needs the database: pass { store: <database URL> } (this instance defines no SQL tool)"
        : `rollback needs one database and this instance's SQL tools use ${urls.length} (${urls.map(redactSqlUrl).join(", ")}): pass { store }`,
      { field: "store" },
    );
  return { db: await tool.database(), owned: false };
}

/**
 * Rolls back every row a run (and its descendants) wrote through the SQL
 * tool, latest first, one transaction per table batch. A row someone
 * changed since is reported with both versions and left as it is. Each
 * batch marks its rows in the audit in the same transaction that restores
 * them: a rollback cut short resumes where it stopped when run again, and
 * a repeat changes nothing that is done.
 */
export async function rollbackRun(
  host: { readonly store: Store },
  runId: string,
  options: RollbackOptions = {},
): Promise<RollbackReport> {
  const given = parseOptions(optionsSchema, options, "rollback");
  if (typeof runId !== "string" || runId === "")
    throw new InvalidArgumentError("rollback needs a run id", { field: "runId" });
  const runs = await runTree(host.store, runId);
  const { db, owned } = await databaseFor(host, given.store);
  try {
    const out = await rollbackRows(
      db,
      { runIds: runs },
      {
        by: `rollback:${runId}`,
        ...(given.plan ? { plan: true } : {}),
        ...(given.batchSize === undefined ? {} : { batchSize: given.batchSize }),
        ...(options.onBatch ? { onBatch: options.onBatch } : {}),
      },
    );
    const report = rollbackReport(
      { runId, runs, database: db.shown, plan: given.plan ?? false },
      out.entries,
      out.verdicts,
      out.restoredBefore,
      sideChannelsOf(await db.statements(runs)),
    );
    if (!report.plan) await journalRollback(host.store, report);
    return report;
  } finally {
    if (owned) await db.close();
  }
}

/**
 * Journals a rollback in the rolled-back run's own journal (the rows' fate
 * lives in the database's audit, marked in the transactions that restored
 * them): `flotilla show` then says when the run's writes were rolled back,
 * how far, and what was left.
 */
async function journalRollback(store: Store, report: RollbackReport): Promise<void> {
  const { rowsWritten, restored, alreadyRestored, conflicts } = report.counts;
  await store.commit({
    runId: report.runId,
    fence: { unleasedIn: TERMINAL_STATUSES },
    events: [
      {
        type: "sql.rolled-back",
        data: {
          database: report.database,
          complete: report.complete,
          rowsWritten,
          restored,
          alreadyRestored,
          conflicts,
          runs: report.runs,
        },
      },
    ],
  });
}
