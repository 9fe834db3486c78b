import type { Json } from "../core/json.js";
import type { SqlClassification, SqlDialect } from "./classify.js";

/** A statement parameter: what both drivers bind and the journal stores. */
export type SqlParam = null | boolean | number | string;

export type Row = Record<string, Json>;

export interface QueryResult {
  rows: Row[];
  /** Rows returned by a read; rows changed by a write (as the audit counted them). */
  rowCount: number;
}

/** One write, attributed to the run and step that made it. */
export interface WriteRequest {
  runId: string;
  step: string;
  tool: string;
  sql: string;
  params: SqlParam[];
  classification: SqlClassification;
  /** UPDATE/DELETE rows allowed before the statement is rolled back; null once approved. */
  rowLimit: number | null;
  sideChannels: string[];
}

export interface WriteResult extends QueryResult {
  runId: string;
  step: string;
}

export type AuditOp = "INSERT" | "UPDATE" | "DELETE";

/** One row change kept by the audit triggers: who made it, and the row before and after. */
export interface AuditEntry {
  seq: number;
  /** Null for a write made outside any run (a person, a migration, a rollback). */
  runId: string | null;
  step: string | null;
  table: string;
  /** The primary key where the change left the row. */
  key: Json;
  /** The same key as the audit stored it, for looking the row's changes up. */
  keyText: string;
  op: AuditOp;
  before: Json | null;
  after: Json | null;
  at: string;
  /** What a rollback did about it. */
  outcome: "restored" | "conflict" | null;
  /** The row as a rollback found it, when it was changed since. */
  current: Json | null;
}

/** Who changed a row last, from the audit. */
export interface RowChange {
  runId: string | null;
  step: string | null;
  at: string;
}

/** A statement the SQL tool committed, in the database's own log. */
export interface StatementRecord {
  runId: string;
  step: string;
  tool: string;
  sql: string;
  rowCount: number;
  sideChannels: string[];
}

export interface GuardedTable {
  table: string;
  primaryKey: string[];
  columns: string[];
}

export type EntryOutcome = { seq: number; outcome: "restored" | "conflict"; current: Json | null };

/** What a rollback does inside one of its transactions. */
export interface RestoreTx {
  /** These entries as they are now, locked, less those restored meanwhile. */
  pending(seqs: readonly number[]): Promise<AuditEntry[]>;
  /** The row where the entry left it (locked), or null when there is none. */
  current(entry: AuditEntry): Promise<Json | null>;
  /**
   * Puts the entry's before-image back. Refused (and undone) when it would
   * change anything but that row: a cascade, a trigger, a key now taken.
   */
  apply(entry: AuditEntry): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** The latest audited change to the entry's row after it. */
  lastChange(entry: AuditEntry): Promise<RowChange | null>;
  /** Records what was done, in the same transaction as doing it. */
  mark(outcomes: readonly EntryOutcome[], by: string): Promise<void>;
}

/** The guarded database, as the SQL tool, `sql guard` and rollback see it. */
export interface SqlDatabase {
  readonly dialect: SqlDialect;
  /** Where it is, password masked. */
  readonly shown: string;
  /** A read in a read-only transaction. */
  read(sql: string, params: readonly SqlParam[], c: SqlClassification): Promise<QueryResult>;
  /**
   * A write in one transaction that also sets its attribution, checks its
   * tables are guarded, counts what it touched against `rowLimit`, and logs
   * the statement under (run, step), which makes a second commit impossible.
   */
  write(req: WriteRequest): Promise<WriteResult>;
  /** The result of the write logged under (run, step), if it committed. */
  recorded(runId: string, step: string): Promise<WriteResult | undefined>;
  /** Runs a write and rolls it back: how many rows it would update or delete. */
  preview(sql: string, params: readonly SqlParam[], c: SqlClassification): Promise<number>;
  /** Installs the audit tables and the triggers of these tables. */
  guard(tables: readonly string[]): Promise<GuardedTable[]>;
  /** The audit entries of these runs (of one step, if given), latest first. */
  entries(runIds: readonly string[], step?: string): Promise<AuditEntry[]>;
  statements(runIds: readonly string[]): Promise<StatementRecord[]>;
  /**
   * Runs `fn` in one transaction whose own writes the audit attributes to
   * `tag`; committed, or rolled back when `commit` is false (a plan).
   */
  restore<T>(tag: string, commit: boolean, fn: (tx: RestoreTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Rows as JSON: dates as ISO strings, 64-bit integers as strings, buffers as hex. */
export function jsonRows(rows: readonly unknown[]): Row[] {
  return JSON.parse(
    JSON.stringify(rows, (_k, v: unknown) => {
      if (typeof v === "bigint") return v.toString();
      if (v !== null && typeof v === "object" && (v as { type?: unknown }).type === "Buffer")
        return Buffer.from((v as { data: number[] }).data).toString("hex");
      return v;
    }),
  ) as Row[];
}
