import type Database from "better-sqlite3";
import { InvalidArgumentError } from "../../core/errors.js";
import type { Json } from "../../core/json.js";
import type { AuditEntry } from "../database.js";
import { SqlUnknownTableError } from "../errors.js";
import { ident, literal } from "../quote.js";

/**
 * The audit's tables. SQLite triggers cannot read a session setting, so
 * the SQL tool writes its run and step into `flotilla_sql_context` inside
 * the statement's own transaction, and deletes it before committing: no
 * other writer (SQLite has one at a time) ever sees it.
 */
export const SQLITE_AUDIT_SCHEMA = `
CREATE TABLE IF NOT EXISTS flotilla_audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT,
  step TEXT,
  tbl TEXT NOT NULL,
  pk TEXT NOT NULL,
  op TEXT NOT NULL,
  before TEXT,
  after TEXT,
  at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  outcome TEXT,
  undone_at TEXT,
  undone_by TEXT,
  conflict TEXT
);
CREATE INDEX IF NOT EXISTS flotilla_audit_run ON flotilla_audit (run_id, step);
CREATE INDEX IF NOT EXISTS flotilla_audit_row ON flotilla_audit (tbl, pk, seq);
CREATE TABLE IF NOT EXISTS flotilla_guard (
  tbl TEXT PRIMARY KEY COLLATE NOCASE,
  pk TEXT NOT NULL,
  columns TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS flotilla_sql_context (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  run_id TEXT,
  step TEXT
);
CREATE TABLE IF NOT EXISTS flotilla_sql_statements (
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  tool TEXT NOT NULL,
  sql TEXT NOT NULL,
  row_count INTEGER NOT NULL,
  result TEXT NOT NULL,
  side_channels TEXT NOT NULL,
  at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (run_id, step)
);
`;

export interface SqliteTableShape {
  table: string;
  primaryKey: string[];
  /** Every stored column, in order: what a row image holds. */
  columns: string[];
  /** Columns a restore writes (generated ones are computed). */
  writable: string[];
}

interface ColumnInfo {
  name: string;
  pk: number;
  hidden: number;
}

/** The table's canonical name and columns, or undefined when it does not exist. */
export function tableShape(db: Database.Database, name: string): SqliteTableShape | undefined {
  const found = db
    .prepare<[string], { name: string }>(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE",
    )
    .get(name);
  if (!found) return undefined;
  const cols = db
    .prepare<[], ColumnInfo>(
      `SELECT name, pk, hidden FROM pragma_table_xinfo(${literal(found.name)})`,
    )
    .all()
    .filter((c) => c.hidden !== 1);
  return {
    table: found.name,
    primaryKey: cols
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name),
    columns: cols.map((c) => c.name),
    writable: cols.filter((c) => c.hidden === 0).map((c) => c.name),
  };
}

/** A column's value in a JSON image; a BLOB is kept as `{"$blob": hex}`. */
function valueSql(alias: string, column: string): string {
  const ref = `${alias}.${ident(column)}`;
  return `CASE typeof(${ref}) WHEN 'blob' THEN json_object('$blob', hex(${ref})) ELSE ${ref} END`;
}

/** The JSON image of a row (`alias` is NEW, OLD or a table alias). */
export function imageSql(columns: readonly string[], alias: string): string {
  return `json_object(${columns.map((c) => `${literal(c)}, ${valueSql(alias, c)}`).join(", ")})`;
}

/** JSON path of a column in an image. */
export function pathOf(column: string): string {
  return literal(`$."${column}"`);
}

/** A column's value read back from the image bound as `@img`. */
export function fromImageSql(column: string): string {
  const path = pathOf(column);
  const blob = literal(`$."${column}"."$blob"`);
  return `CASE json_type(@img, ${path}) WHEN 'object' THEN unhex(json_extract(@img, ${blob})) ELSE json_extract(@img, ${path}) END`;
}

/** Matches the row whose key is bound as `@key`. */
export function keyMatchSql(primaryKey: readonly string[]): string {
  return primaryKey.map((c) => `${ident(c)} IS json_extract(@key, ${pathOf(c)})`).join(" AND ");
}

const OPS = ["INSERT", "UPDATE", "DELETE"] as const;

function triggerName(table: string, op: string): string {
  return ident(`flotilla_audit_${op.toLowerCase()}:${table}`);
}

/** Drops and creates the three row triggers that keep the table's before- and after-images. */
export function triggerSql(shape: SqliteTableShape): string[] {
  const bad = shape.columns.find((c) => c.includes('"'));
  if (bad !== undefined)
    throw new InvalidArgumentError(
      `table ${shape.table}: column name ${JSON.stringify(bad)} has a double quote, which the audit's JSON paths cannot name; rename it to guard the table`,
      { table: shape.table, column: bad },
    );
  const context = (col: string) => `(SELECT ${col} FROM flotilla_sql_context WHERE id = 1)`;
  return OPS.flatMap((op) => {
    const row = op === "DELETE" ? "OLD" : "NEW";
    const before = op === "INSERT" ? "NULL" : imageSql(shape.columns, "OLD");
    const after = op === "DELETE" ? "NULL" : imageSql(shape.columns, "NEW");
    return [
      `DROP TRIGGER IF EXISTS ${triggerName(shape.table, op)}`,
      `CREATE TRIGGER ${triggerName(shape.table, op)} AFTER ${op} ON ${ident(shape.table)} BEGIN
  INSERT INTO flotilla_audit (run_id, step, tbl, pk, op, before, after)
  VALUES (${context("run_id")}, ${context("step")}, ${literal(shape.table)},
    ${imageSql(shape.primaryKey, row)}, '${op}', ${before}, ${after});
END`,
    ];
  });
}

/** Installs the audit on `tables` in one transaction; returns what was guarded. */
export function installGuard(db: Database.Database, tables: readonly string[]): SqliteTableShape[] {
  return db
    .transaction(() => {
      db.exec(SQLITE_AUDIT_SCHEMA);
      return tables.map((name) => {
        const shape = tableShape(db, name.replace(/^main\./i, ""));
        if (!shape || /^flotilla_/i.test(shape.table)) throw new SqlUnknownTableError(name);
        if (shape.primaryKey.length === 0)
          throw new InvalidArgumentError(
            `table ${shape.table} has no primary key, so its rows cannot be told apart for a rollback; declare one to guard it`,
            { table: shape.table },
          );
        for (const sql of triggerSql(shape)) db.exec(sql);
        db.prepare(
          `INSERT INTO flotilla_guard (tbl, pk, columns, at) VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
         ON CONFLICT (tbl) DO UPDATE SET pk = excluded.pk, columns = excluded.columns, at = excluded.at`,
        ).run(shape.table, JSON.stringify(shape.primaryKey), JSON.stringify(shape.columns));
        return shape;
      });
    })
    .immediate();
}

export interface AuditRow {
  seq: number;
  run_id: string | null;
  step: string | null;
  tbl: string;
  pk: string;
  op: AuditEntry["op"];
  before: string | null;
  after: string | null;
  at: string;
  outcome: AuditEntry["outcome"];
  conflict: string | null;
}

const parse = (text: string | null): Json | null =>
  text === null ? null : (JSON.parse(text) as Json);

export function auditEntry(r: AuditRow): AuditEntry {
  return {
    seq: r.seq,
    runId: r.run_id,
    step: r.step,
    table: r.tbl,
    key: parse(r.pk),
    keyText: r.pk,
    op: r.op,
    before: parse(r.before),
    after: parse(r.after),
    at: r.at,
    outcome: r.outcome,
    current: parse(r.conflict),
  };
}
