import type Database from "better-sqlite3";
import type { Json } from "../../core/json.js";
import type { AuditEntry, EntryOutcome, RestoreTx, RowChange } from "../database.js";
import { SqlNotGuardedError } from "../errors.js";
import { ident } from "../quote.js";
import {
  auditEntry,
  fromImageSql,
  imageSql,
  keyMatchSql,
  tableShape,
  type AuditRow,
} from "./sqliteAudit.js";

interface Shape {
  primaryKey: string[];
  /** As the triggers record them: what a current row is compared with. */
  columns: string[];
  writable: string[];
}

/** One rollback transaction on SQLite (begun, and ended, by SqliteDatabase.restore). */
export class SqliteRestoreTx implements RestoreTx {
  private readonly shapes = new Map<string, Shape>();
  private savepoint = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly totalChanges: () => number,
  ) {}

  private shape(table: string): Shape {
    let shape = this.shapes.get(table);
    if (!shape) {
      const guard = this.db
        .prepare<[string], { pk: string; columns: string }>(
          "SELECT pk, columns FROM flotilla_guard WHERE tbl = ?",
        )
        .get(table);
      const now = tableShape(this.db, table);
      if (!guard || !now)
        throw new SqlNotGuardedError(table, "is no longer guarded (or no longer exists)");
      const columns = JSON.parse(guard.columns) as string[];
      shape = {
        primaryKey: JSON.parse(guard.pk) as string[],
        columns,
        writable: now.writable.filter((c) => columns.includes(c)),
      };
      this.shapes.set(table, shape);
    }
    return shape;
  }

  async pending(seqs: readonly number[]): Promise<AuditEntry[]> {
    return this.db
      .prepare<[string], AuditRow>(
        `SELECT seq, run_id, step, tbl, pk, op, before, after, at, outcome, conflict FROM flotilla_audit
         WHERE seq IN (SELECT value FROM json_each(?)) AND outcome IS NOT 'restored'
         ORDER BY seq DESC`,
      )
      .all(JSON.stringify(seqs))
      .map(auditEntry);
  }

  async current(entry: AuditEntry): Promise<Json | null> {
    const shape = this.shape(entry.table);
    const row = this.db
      .prepare<{ key: string }, { img: string }>(
        `SELECT ${imageSql(shape.columns, "t")} AS img FROM ${ident(entry.table)} AS t
         WHERE ${keyMatchSql(shape.primaryKey)}`,
      )
      .get({ key: entry.keyText });
    return row ? (JSON.parse(row.img) as Json) : null;
  }

  private restoreSql(
    entry: AuditEntry,
    shape: Shape,
  ): { sql: string; bind: Record<string, string> } {
    const table = ident(entry.table);
    const img = JSON.stringify(entry.before);
    if (entry.op === "INSERT")
      return {
        sql: `DELETE FROM ${table} WHERE ${keyMatchSql(shape.primaryKey)}`,
        bind: { key: entry.keyText },
      };
    if (entry.op === "DELETE")
      return {
        sql: `INSERT INTO ${table} (${shape.writable.map(ident).join(", ")}) VALUES (${shape.writable.map(fromImageSql).join(", ")})`,
        bind: { img },
      };
    return {
      sql: `UPDATE ${table} SET ${shape.writable.map((c) => `${ident(c)} = ${fromImageSql(c)}`).join(", ")} WHERE ${keyMatchSql(shape.primaryKey)}`,
      bind: { img, key: entry.keyText },
    };
  }

  async apply(entry: AuditEntry): Promise<{ ok: true } | { ok: false; reason: string }> {
    const { sql, bind } = this.restoreSql(entry, this.shape(entry.table));
    const name = `r${++this.savepoint}`;
    this.db.exec(`SAVEPOINT ${name}`);
    let reason: string | undefined;
    try {
      const before = this.totalChanges();
      const changes = this.db.prepare(sql).run(bind).changes;
      // The row and its audit row, nothing else: no cascade or trigger reached another row.
      const all = this.totalChanges() - before;
      if (changes !== 1) reason = "the row is not where the run left it";
      else if (all !== 2)
        reason = `restoring it would change ${(all - 2) / 2} other row(s) (a cascade or a trigger)`;
    } catch (err) {
      // A full disk or an I/O error may end the whole transaction: its savepoint is gone, and the
      // rollback fails with the real cause, not with "no such savepoint".
      if (!this.db.inTransaction) throw err;
      reason = `the database refused to restore it: ${(err as Error).message}`;
    }
    if (reason !== undefined) this.db.exec(`ROLLBACK TO ${name}`);
    this.db.exec(`RELEASE ${name}`);
    return reason === undefined ? { ok: true } : { ok: false, reason };
  }

  async lastChange(entry: AuditEntry): Promise<RowChange | null> {
    const row = this.db
      .prepare<
        [string, string, number],
        { run_id: string | null; step: string | null; at: string }
      >(
        `SELECT run_id, step, at FROM flotilla_audit WHERE tbl = ? AND pk = ? AND seq > ?
         ORDER BY seq DESC LIMIT 1`,
      )
      .get(entry.table, entry.keyText, entry.seq);
    return row ? { runId: row.run_id, step: row.step, at: row.at } : null;
  }

  async mark(outcomes: readonly EntryOutcome[], by: string): Promise<void> {
    const stmt = this.db.prepare(
      `UPDATE flotilla_audit SET outcome = ?, conflict = ?, undone_by = ?,
         undone_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE seq = ?`,
    );
    for (const o of outcomes)
      stmt.run(o.outcome, o.current === null ? null : JSON.stringify(o.current), by, o.seq);
  }
}
