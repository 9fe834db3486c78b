import type Database from "better-sqlite3";
import { SqliteDriver } from "../../store/sqlite/driver.js";
import { isFlotillaError } from "../../core/errors.js";
import type { SqlClassification } from "../classify.js";
import {
  jsonRows,
  type AuditEntry,
  type GuardedTable,
  type QueryResult,
  type RestoreTx,
  type SqlDatabase,
  type SqlParam,
  type StatementRecord,
  type WriteRequest,
  type WriteResult,
} from "../database.js";
import {
  SqlNotGuardedError,
  SqlRefusedError,
  SqlRowLimitError,
  SqlStatementError,
  SqlUnavailableError,
  SqlUnknownTableError,
} from "../errors.js";
import { auditEntry, installGuard, tableShape, type AuditRow } from "./sqliteAudit.js";
import { SqliteRestoreTx } from "./sqliteRestore.js";

type Bound = null | number | string;

/** The database's verdict as a typed error: the statement's transaction was rolled back. */
function notApplied(err: unknown, sql: string): unknown {
  if (isFlotillaError(err)) return err;
  const e = err as { message?: string; code?: string };
  const missing = /^no such table: (?:main\.)?(.+)$/.exec(e.message ?? "");
  if (missing?.[1]) return new SqlUnknownTableError(missing[1]);
  return new SqlStatementError(e.message ?? String(err), e.code, sql);
}

/**
 * A guarded SQLite file. better-sqlite3 is synchronous, so a statement's
 * whole transaction runs in one turn of the event loop; a rollback's
 * transaction awaits between steps, so operations take turns.
 */
export class SqliteDatabase implements SqlDatabase {
  readonly dialect = "sqlite" as const;
  private turn: Promise<unknown> = Promise.resolve();
  /** Tables found guarded, by the schema version they were checked at. */
  private readonly checked = new Map<string, number>();

  private constructor(
    private readonly db: Database.Database,
    readonly shown: string,
  ) {}

  static open(path: string, busyTimeoutMs: number): SqliteDatabase {
    let db: Database.Database;
    try {
      db = new SqliteDriver(path, { fileMustExist: true, timeout: busyTimeoutMs });
    } catch (err) {
      throw new SqlUnavailableError(path, err);
    }
    // REPLACE deletes conflicting rows: with recursive triggers their before-images are kept too.
    db.pragma("recursive_triggers = ON");
    return new SqliteDatabase(db, path);
  }

  private exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.turn.then(() => fn());
    this.turn = run.catch(() => undefined);
    return run;
  }

  private execute(
    sql: string,
    params: readonly SqlParam[],
    multi: boolean,
  ): { rows: unknown[]; changes: number } {
    const bound: Bound[] = params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p));
    if (multi) {
      if (bound.length > 0)
        throw new SqlRefusedError(
          "multi-statement",
          "a script of several statements takes no parameters: run its statements one by one",
        );
      this.db.exec(sql);
      return { rows: [], changes: 0 };
    }
    const stmt = this.db.prepare(sql);
    if (stmt.reader) return { rows: stmt.all(...bound), changes: 0 };
    return { rows: [], changes: stmt.run(...bound).changes };
  }

  private totalChanges(): number {
    return (this.db.prepare("SELECT total_changes() AS n").get() as { n: number }).n;
  }

  read(sql: string, params: readonly SqlParam[], c: SqlClassification): Promise<QueryResult> {
    const multi = c.multi;
    return this.exclusive(() => {
      this.db.pragma("query_only = ON");
      try {
        if (!multi && !this.db.prepare(sql).readonly)
          throw new SqlRefusedError(
            "engine-disagrees",
            `SQLite says this statement writes, though it parsed as a read; it was not run: ${sql.slice(0, 120)}`,
          );
        const rows = jsonRows(this.execute(sql, params, multi).rows);
        return { rows, rowCount: rows.length };
      } catch (err) {
        throw notApplied(err, sql);
      } finally {
        this.db.pragma("query_only = OFF");
      }
    });
  }

  private installed = false;

  /** The audit tables exist (once seen, they stay: nothing here drops them). */
  private ensureInstalled(): void {
    if (this.installed) return;
    if (!tableShape(this.db, "flotilla_sql_context") || !tableShape(this.db, "flotilla_audit"))
      throw SqlNotGuardedError.nothingGuarded(this.shown);
    this.installed = true;
  }

  private setContext(runId: string | null, step: string): void {
    this.db
      .prepare(
        `INSERT INTO flotilla_sql_context (id, run_id, step) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, step = excluded.step`,
      )
      .run(runId, step);
  }

  /** Every table the statement names is guarded, with triggers that still match its columns. */
  private checkGuarded(tables: readonly string[]): void {
    const version = this.db.pragma("schema_version", { simple: true }) as number;
    const anyGuard = tableShape(this.db, "flotilla_guard") !== undefined;
    for (const name of tables) {
      const bare = name.replace(/^main\./i, "");
      if (this.checked.get(bare.toLowerCase()) === version) continue;
      const shape = tableShape(this.db, bare);
      if (!shape || bare.includes(".")) throw new SqlUnknownTableError(name);
      const guard = anyGuard
        ? this.db
            .prepare<[string], { columns: string }>(
              "SELECT columns FROM flotilla_guard WHERE tbl = ?",
            )
            .get(shape.table)
        : undefined;
      if (!guard) throw new SqlNotGuardedError(shape.table);
      if (guard.columns !== JSON.stringify(shape.columns))
        throw new SqlNotGuardedError(
          shape.table,
          "changed since it was guarded (its audit triggers do not record its current columns)",
        );
      this.checked.set(bare.toLowerCase(), version);
    }
  }

  write(req: WriteRequest): Promise<WriteResult> {
    return this.exclusive(() => this.writeNow(req));
  }

  private writeNow(req: WriteRequest): WriteResult {
    const db = this.db;
    const { classification: c } = req;
    try {
      this.ensureInstalled();
      db.exec("BEGIN IMMEDIATE");
      this.setContext(req.runId, req.step);
      if (!c.schema) this.checkGuarded(c.writes);
      // Logged first: the (run, step) key makes a second commit of one statement impossible.
      const logged = db
        .prepare(
          `INSERT INTO flotilla_sql_statements (run_id, step, tool, sql, row_count, result, side_channels)
           VALUES (?, ?, ?, ?, 0, '{}', ?) ON CONFLICT (run_id, step) DO NOTHING`,
        )
        .run(req.runId, req.step, req.tool, req.sql, JSON.stringify(req.sideChannels));
      if (logged.changes === 0) {
        // Committed before (an answer lost on the way): the statement does not run twice.
        db.exec("ROLLBACK");
        return this.recordedNow(req.runId, req.step) as WriteResult;
      }
      const before = this.totalChanges();
      const out = this.execute(req.sql, req.params, c.multi);
      const changed = this.totalChanges() - before;
      const audited = db
        .prepare<[string, string], { n: number; touched: number | null }>(
          "SELECT count(*) AS n, sum(op <> 'INSERT') AS touched FROM flotilla_audit WHERE run_id = ? AND step = ?",
        )
        .get(req.runId, req.step) ?? { n: 0, touched: 0 };
      // Each row change of a guarded table is one change plus its audit row: anything more is unaudited.
      if (!c.schema && changed !== 2 * audited.n)
        throw new SqlNotGuardedError(
          undefined,
          "that is not guarded (through a trigger or a cascade)",
        );
      const touched = audited.touched ?? 0;
      if (req.rowLimit !== null && touched > req.rowLimit)
        throw new SqlRowLimitError(touched, req.rowLimit, req.sql);
      const result: WriteResult = {
        rows: jsonRows(out.rows),
        rowCount: c.schema ? Math.max(out.changes, audited.n) : audited.n,
        runId: req.runId,
        step: req.step,
      };
      db.prepare(
        "UPDATE flotilla_sql_statements SET row_count = ?, result = ? WHERE run_id = ? AND step = ?",
      ).run(result.rowCount, JSON.stringify(result), req.runId, req.step);
      db.prepare("DELETE FROM flotilla_sql_context").run();
      db.exec("COMMIT");
      return result;
    } catch (err) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw notApplied(err, req.sql);
    }
  }

  private recordedNow(runId: string, step: string): WriteResult | undefined {
    if (!tableShape(this.db, "flotilla_sql_statements")) return undefined;
    const row = this.db
      .prepare<[string, string], { result: string }>(
        "SELECT result FROM flotilla_sql_statements WHERE run_id = ? AND step = ?",
      )
      .get(runId, step);
    return row ? (JSON.parse(row.result) as WriteResult) : undefined;
  }

  recorded(runId: string, step: string): Promise<WriteResult | undefined> {
    return this.exclusive(() => this.recordedNow(runId, step));
  }

  preview(sql: string, params: readonly SqlParam[], c: SqlClassification): Promise<number> {
    return this.exclusive(() => {
      const tag = `preview:${process.pid}:${Date.now()}`;
      try {
        this.ensureInstalled();
        this.db.exec("BEGIN IMMEDIATE");
        this.setContext(null, tag);
        this.checkGuarded(c.writes);
        this.execute(sql, params, c.multi);
        return (
          this.db
            .prepare<[string], { n: number }>(
              "SELECT count(*) AS n FROM flotilla_audit WHERE run_id IS NULL AND step = ? AND op <> 'INSERT'",
            )
            .get(tag)?.n ?? 0
        );
      } catch (err) {
        throw notApplied(err, sql);
      } finally {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
      }
    });
  }

  guard(tables: readonly string[]): Promise<GuardedTable[]> {
    return this.exclusive(() => {
      this.checked.clear();
      return installGuard(this.db, tables).map(({ table, primaryKey, columns }) => ({
        table,
        primaryKey,
        columns,
      }));
    });
  }

  entries(runIds: readonly string[], step?: string): Promise<AuditEntry[]> {
    return this.exclusive(() => {
      this.ensureInstalled();
      const rows = this.db
        .prepare<[string, string | null, string | null], AuditRow>(
          `SELECT seq, run_id, step, tbl, pk, op, before, after, at, outcome, conflict FROM flotilla_audit
           WHERE run_id IN (SELECT value FROM json_each(?)) AND (? IS NULL OR step = ?)
           ORDER BY seq DESC`,
        )
        .all(JSON.stringify(runIds), step ?? null, step ?? null);
      return rows.map(auditEntry);
    });
  }

  statements(runIds: readonly string[]): Promise<StatementRecord[]> {
    return this.exclusive(() => {
      if (!tableShape(this.db, "flotilla_sql_statements")) return [];
      return this.db
        .prepare<
          [string],
          {
            run_id: string;
            step: string;
            tool: string;
            sql: string;
            row_count: number;
            side_channels: string;
          }
        >(
          `SELECT run_id, step, tool, sql, row_count, side_channels FROM flotilla_sql_statements
           WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY rowid`,
        )
        .all(JSON.stringify(runIds))
        .map((r) => ({
          runId: r.run_id,
          step: r.step,
          tool: r.tool,
          sql: r.sql,
          rowCount: r.row_count,
          sideChannels: JSON.parse(r.side_channels) as string[],
        }));
    });
  }

  restore<T>(tag: string, commit: boolean, fn: (tx: RestoreTx) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      const db = this.db;
      this.ensureInstalled();
      db.exec("BEGIN IMMEDIATE");
      try {
        this.setContext(null, tag);
        const out = await fn(new SqliteRestoreTx(db, () => this.totalChanges()));
        db.prepare("DELETE FROM flotilla_sql_context").run();
        db.exec(commit ? "COMMIT" : "ROLLBACK");
        return out;
      } finally {
        if (db.inTransaction) db.exec("ROLLBACK");
      }
    });
  }

  close(): Promise<void> {
    return this.exclusive(() => {
      if (this.db.open) this.db.close();
    });
  }
}
