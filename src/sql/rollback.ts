import { newToken } from "../core/ids.js";
import { canonicalJson } from "../core/json.js";
import type { AuditEntry, EntryOutcome, RestoreTx, RowChange, SqlDatabase } from "./database.js";
import type {
  RestoredRow,
  RollbackReport,
  RowAction,
  RowConflict,
  SideChannelNote,
} from "./rollbackTypes.js";

export interface RowRollbackOptions {
  /** Only report what would be done: everything runs in one transaction, rolled back. */
  plan?: boolean;
  /** Row changes per transaction (consecutive changes of one table). Default 500. */
  batchSize?: number;
  /** Recorded with each restored row: who undid it. */
  by: string;
  /** Told after each committed batch (how many are done, out of how many). */
  onBatch?: (done: number, of: number) => void;
}

const ACTIONS: Record<AuditEntry["op"], RowAction> = {
  INSERT: "remove",
  UPDATE: "revert",
  DELETE: "reinsert",
};

/** Latest first, cut where the table changes or the batch is full. */
function batchesOf(entries: readonly AuditEntry[], size: number): AuditEntry[][] {
  const batches: AuditEntry[][] = [];
  for (const e of entries) {
    const last = batches.at(-1);
    if (last && last.length < size && last[0]?.table === e.table) last.push(e);
    else batches.push([e]);
  }
  return batches;
}

function differs(entry: AuditEntry, current: unknown): string | undefined {
  if (canonicalJson(current) === canonicalJson(entry.after)) return undefined;
  if (entry.after === null) return "a row with its key was inserted since the run deleted it";
  if (current === null) return "the row was deleted since";
  return "the row was changed since";
}

interface Verdict {
  outcome: EntryOutcome;
  conflict?: { reason: string; changedBy: RowChange | null };
}

/**
 * Undoes one batch in the transaction `tx`, latest change first. A change
 * is undone only while the row is exactly as the run left it; otherwise it
 * is reported with both versions. Restoring the last change of a row first
 * makes the one before it current again, so a run's several changes to one
 * row unwind in turn, and stop at the first someone else made after it.
 */
async function undoBatch(
  tx: RestoreTx,
  batch: readonly AuditEntry[],
  mark: string | undefined,
): Promise<Map<number, Verdict>> {
  const verdicts = new Map<number, Verdict>();
  for (const entry of await tx.pending(batch.map((e) => e.seq))) {
    const current = await tx.current(entry);
    let reason = differs(entry, current);
    if (reason === undefined) {
      const applied = await tx.apply(entry);
      if (!applied.ok) reason = applied.reason;
    }
    const outcome: EntryOutcome = {
      seq: entry.seq,
      outcome: reason === undefined ? "restored" : "conflict",
      current: reason === undefined ? null : current,
    };
    verdicts.set(
      entry.seq,
      reason === undefined
        ? { outcome }
        : { outcome, conflict: { reason, changedBy: await tx.lastChange(entry) } },
    );
  }
  if (mark !== undefined)
    await tx.mark(
      [...verdicts.values()].map((v) => v.outcome),
      mark,
    );
  return verdicts;
}

/**
 * Rolls back the rows written by `runIds` (one step of them, when given):
 * one transaction per batch, each marking what it restored in the audit
 * in the same transaction, so a rollback cut short by a crash is resumed by
 * running it again, and a repeat skips what is done. Conflicts are checked
 * again on every repeat (someone may have put the row back since).
 */
export async function rollbackRows(
  db: SqlDatabase,
  scope: { runIds: readonly string[]; step?: string },
  options: RowRollbackOptions,
): Promise<{ entries: AuditEntry[]; verdicts: Map<number, Verdict>; restoredBefore: Set<number> }> {
  const all = await db.entries(scope.runIds, scope.step);
  const pending = all.filter((e) => e.outcome !== "restored");
  const restoredBefore = new Set(all.filter((e) => e.outcome === "restored").map((e) => e.seq));
  const batches = batchesOf(pending, options.batchSize ?? 500);
  const verdicts = new Map<number, Verdict>();
  const tag = () => `${options.by}#${newToken().slice(0, 8)}`;
  if (options.plan) {
    // One transaction for the whole plan, so later batches see the rows earlier ones restored.
    await db.restore(tag(), false, async (tx) => {
      for (const batch of batches)
        for (const [seq, v] of await undoBatch(tx, batch, undefined)) verdicts.set(seq, v);
    });
    return { entries: all, verdicts, restoredBefore };
  }
  for (const [i, batch] of batches.entries()) {
    const done = await db.restore(tag(), true, (tx) => undoBatch(tx, batch, options.by));
    for (const [seq, v] of done) verdicts.set(seq, v);
    options.onBatch?.(i + 1, batches.length);
  }
  // The audit's marks are the record: what this rollback and any earlier one did.
  return { entries: await db.entries(scope.runIds, scope.step), verdicts, restoredBefore };
}

/** The report of a rollback (or its plan) from the audit entries and this rollback's verdicts. */
export function rollbackReport(
  base: { runId: string; runs: string[]; database: string; plan: boolean },
  entries: readonly AuditEntry[],
  verdicts: ReadonlyMap<number, Verdict>,
  before: ReadonlySet<number>,
  sideChannels: SideChannelNote[],
): RollbackReport {
  const restored: RestoredRow[] = [];
  const conflicts: RowConflict[] = [];
  const tables = new Map<string, RollbackReport["tables"][number]>();
  for (const e of entries) {
    const t = tables.get(e.table) ?? { table: e.table, rowsWritten: 0, restored: 0, conflicts: 0 };
    tables.set(e.table, t);
    t.rowsWritten++;
    const row = {
      seq: e.seq,
      runId: e.runId ?? "",
      step: e.step ?? "",
      table: e.table,
      key: e.key,
      action: ACTIONS[e.op],
    };
    const v = verdicts.get(e.seq);
    const outcome = v?.outcome.outcome ?? e.outcome;
    if (outcome === "restored") {
      t.restored++;
      restored.push(before.has(e.seq) ? { ...row, earlier: true } : row);
    } else if (outcome === "conflict") {
      t.conflicts++;
      conflicts.push({
        ...row,
        reason: v?.conflict?.reason ?? "the row was changed since",
        runVersion: e.after,
        currentVersion: v ? v.outcome.current : e.current,
        changedBy: v?.conflict?.changedBy ?? null,
      });
    }
  }
  return {
    ...base,
    complete: conflicts.length === 0 && restored.length === entries.length,
    counts: {
      rowsWritten: entries.length,
      restored: restored.length,
      alreadyRestored: restored.filter((r) => r.earlier).length,
      conflicts: conflicts.length,
    },
    tables: [...tables.values()],
    restored,
    conflicts,
    sideChannels,
  };
}
