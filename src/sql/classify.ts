import { createRequire } from "node:module";
import type { Parser } from "node-sql-parser";
import { SqlParseError, SqlRefusedError } from "./errors.js";

export type SqlDialect = "postgres" | "sqlite";

/**
 * What a statement does, which decides how the SQL tool runs it:
 * - `read`: changes nothing; a `read` effect, run in a read-only transaction.
 * - `write`: changes rows of guarded tables; a `compensable` effect whose
 *   inverse is the rollback of the rows it wrote.
 * - `destructive`: a schema change (DROP, TRUNCATE, ALTER, CREATE, …), or an
 *   UPDATE/DELETE of every row; it waits for an approval or is refused.
 */
export type SqlClass = "read" | "write" | "destructive";

export interface ClassifiedStatement {
  /** The statement's kind as the parser names it: select, insert, update, delete, drop, … */
  kind: string;
  class: SqlClass;
  /** Tables the statement writes, as written in it (`schema.table` when qualified). */
  writes: string[];
  /** Why it is destructive; empty otherwise. */
  reasons: string[];
  /** An UPDATE or DELETE with a WHERE: destructive when it touches more rows than the limit. */
  rowLimited: boolean;
  /** Changes the schema: no row audit can reverse it. */
  schema: boolean;
}

/** A statement or script, classified by its worst statement. */
export interface SqlClassification {
  class: SqlClass;
  statements: ClassifiedStatement[];
  /** More than one statement. */
  multi: boolean;
  writes: string[];
  reasons: string[];
  rowLimited: boolean;
  schema: boolean;
}

const MODULES: Record<SqlDialect, { module: string; database: string }> = {
  postgres: { module: "node-sql-parser/build/postgresql.js", database: "PostgresQL" },
  sqlite: { module: "node-sql-parser/build/sqlite.js", database: "Sqlite" },
};

const require = createRequire(import.meta.url);
const parsers = new Map<SqlDialect, Parser>();

/** One dialect's grammar, loaded on first use (each is a few hundred kB). */
function parserFor(dialect: SqlDialect): Parser {
  let parser = parsers.get(dialect);
  if (!parser) {
    const mod = require(MODULES[dialect].module) as { Parser: new () => Parser };
    parser = new mod.Parser();
    parsers.set(dialect, parser);
  }
  return parser;
}

const READS = new Set(["select", "show", "desc", "explain"]);
const DML = new Set(["insert", "replace", "update", "delete"]);
const SCHEMA = new Set([
  "create",
  "drop",
  "alter",
  "truncate",
  "rename",
  "grant",
  "revoke",
  "comment",
]);

type Node = Record<string, unknown>;

const isNode = (v: unknown): v is Node => typeof v === "object" && v !== null;

/** True when any node below is a column reference: a WHERE that looks at the row. */
function mentionsColumn(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(mentionsColumn);
  if (!isNode(value)) return false;
  if (value.type === "column_ref") return true;
  return Object.values(value).some(mentionsColumn);
}

function tableName(ref: unknown): string | undefined {
  if (!isNode(ref) || typeof ref.table !== "string") return undefined;
  return typeof ref.db === "string" && ref.db !== "" ? `${ref.db}.${ref.table}` : ref.table;
}

function tablesOf(list: unknown): string[] {
  const refs = Array.isArray(list) ? list : [list];
  return refs.map(tableName).filter((t): t is string => t !== undefined);
}

function dmlTargets(ast: Node): string[] {
  const own = tablesOf(ast.table);
  // DELETE FROM t: some grammars name the target only under `from`.
  return own.length > 0 || ast.type !== "delete" ? own : tablesOf(ast.from);
}

function classifyOne(ast: Node, sql: string): ClassifiedStatement {
  const kind = String(ast.type).toLowerCase();
  const base = { kind, writes: [] as string[], reasons: [] as string[], rowLimited: false };
  if (READS.has(kind)) {
    const into = isNode(ast.into) ? ast.into : undefined;
    if (into && (into.expr || into.position)) {
      return {
        ...base,
        class: "destructive",
        reasons: ["SELECT INTO creates a table"],
        schema: true,
      };
    }
    return { ...base, class: "read", schema: false };
  }
  if (DML.has(kind)) {
    const writes = dmlTargets(ast);
    if (kind !== "update" && kind !== "delete")
      return { ...base, class: "write", writes, schema: false };
    const verb = kind.toUpperCase();
    if (ast.where === null || ast.where === undefined)
      return {
        ...base,
        class: "destructive",
        writes,
        reasons: [`${verb} without WHERE changes every row of ${writes.join(", ")}`],
        schema: false,
      };
    if (!mentionsColumn(ast.where))
      return {
        ...base,
        class: "destructive",
        writes,
        reasons: [`${verb} whose WHERE does not look at the row changes every row`],
        schema: false,
      };
    return { ...base, class: "write", writes, rowLimited: true, schema: false };
  }
  if (SCHEMA.has(kind)) {
    const keyword = typeof ast.keyword === "string" ? ` ${ast.keyword.toUpperCase()}` : "";
    return {
      ...base,
      class: "destructive",
      writes: tablesOf(ast.name ?? ast.table),
      reasons: [`${kind.toUpperCase()}${keyword} changes the schema and cannot be rolled back`],
      schema: true,
    };
  }
  throw new SqlRefusedError(
    "unsupported",
    `the SQL tool does not run ${kind.toUpperCase()} statements (transaction control, settings ` +
      `and procedure calls would escape its transaction or its audit): ${sql.slice(0, 120)}`,
    { kind },
  );
}

const RANK: Record<SqlClass, number> = { read: 0, write: 1, destructive: 2 };

/**
 * Classifies SQL with a real parser of the dialect. A statement the parser
 * cannot read is refused (`SqlParseError`): what cannot be classified cannot
 * be allowed. Deterministic, so a replay classifies the same way.
 */
export function classifySql(sql: string, dialect: SqlDialect): SqlClassification {
  let parsed: unknown;
  try {
    parsed = parserFor(dialect).astify(sql, { database: MODULES[dialect].database });
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
    throw new SqlParseError(sql, dialect, reason.slice(0, 300));
  }
  const asts = (Array.isArray(parsed) ? parsed : [parsed]).filter(
    (a): a is Node => isNode(a) && typeof a.type === "string",
  );
  if (asts.length === 0)
    throw new SqlRefusedError("empty", "the SQL holds no statement to run", { sql });
  const statements = asts.map((a) => classifyOne(a, sql));
  const worst = statements.reduce(
    (w, s) => (RANK[s.class] > RANK[w] ? s.class : w),
    "read" as SqlClass,
  );
  return {
    class: worst,
    statements,
    multi: statements.length > 1,
    writes: [...new Set(statements.flatMap((s) => s.writes))],
    reasons: statements.flatMap((s) => s.reasons),
    rowLimited: statements.some((s) => s.rowLimited),
    schema: statements.some((s) => s.schema),
  };
}
