import type { Json } from "../core/json.js";
import type { RowChange } from "./database.js";

/** What undoing a row change does: an insert is removed, an update reverted, a delete reinserted. */
export type RowAction = "remove" | "revert" | "reinsert";

export interface RestoredRow {
  seq: number;
  runId: string;
  step: string;
  table: string;
  key: Json;
  action: RowAction;
  /** Restored by an earlier rollback (this one found it done). */
  earlier?: true;
}

/** A row the run wrote that someone changed since: reported, never overwritten. */
export interface RowConflict {
  seq: number;
  runId: string;
  step: string;
  table: string;
  key: Json;
  action: RowAction;
  /** Why it was left alone. */
  reason: string;
  /** The row as the run left it (null: the run deleted it). */
  runVersion: Json | null;
  /** The row now (null: it is gone). */
  currentVersion: Json | null;
  /** The latest audited change after the run's (`runId` null: made outside any run). */
  changedBy: RowChange | null;
}

/** Effects outside the database that the tool declared: a rollback cannot reverse them. */
export interface SideChannelNote {
  tool: string;
  channels: string[];
  /** Statements of the run through that tool. */
  statements: number;
}

export interface RollbackReport {
  runId: string;
  /** The run and its descendants, whose writes were rolled back. */
  runs: string[];
  /** The database, password masked. */
  database: string;
  /** Nothing was changed: this is what a rollback would do now. */
  plan: boolean;
  /** True when every row the runs wrote is back as it was (no conflict left). */
  complete: boolean;
  counts: {
    /** Row changes the runs made (audit entries). */
    rowsWritten: number;
    /** Row changes undone, by this rollback or an earlier one. */
    restored: number;
    /** Of those, undone by an earlier rollback. */
    alreadyRestored: number;
    conflicts: number;
  };
  tables: { table: string; rowsWritten: number; restored: number; conflicts: number }[];
  restored: RestoredRow[];
  conflicts: RowConflict[];
  sideChannels: SideChannelNote[];
}
