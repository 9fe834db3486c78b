import { FlotillaError } from "../core/errors.js";

/**
 * Errors raised before anything was committed say so (`effectApplied:
 * false`): the effect protocol then records a failure, never an unknown
 * outcome that would park the run.
 */
abstract class SqlNotAppliedError extends FlotillaError {
  readonly effectApplied = false;
}

/** The SQL could not be parsed: it is refused, since an unread statement cannot be classified. */
export class SqlParseError extends FlotillaError {
  constructor(sql: string, dialect: string, reason: string) {
    super(
      "FLOTILLA_SQL_PARSE",
      `the SQL tool cannot parse this ${dialect} statement, so it cannot tell what it does and ` +
        `refuses it: ${reason} (statement: ${excerpt(sql)}). Rewrite it in plainer SQL`,
      { sql: excerpt(sql, 500), dialect, reason },
    );
  }
}

/** Why a statement was refused, for callers branching on it. */
export type SqlRefusal =
  "destructive" | "multi-statement" | "unsupported" | "empty" | "row-limit" | "engine-disagrees";

/**
 * Refused by policy before it ran: a destructive statement under
 * `destructive: "refuse"`, a script when `multiStatement` is off, or a
 * statement the tool does not run at all (transaction control, settings).
 */
export class SqlRefusedError extends SqlNotAppliedError {
  constructor(refusal: SqlRefusal, message: string, details: Record<string, unknown> = {}) {
    super("FLOTILLA_SQL_REFUSED", message, { ...details, refusal });
  }
}

/**
 * An UPDATE or DELETE touched more rows than the tool's `rowLimit`: it was
 * run in its transaction, counted, and rolled back. It needs an approval.
 */
export class SqlRowLimitError extends SqlNotAppliedError {
  constructor(rows: number, limit: number, sql: string) {
    super(
      "FLOTILLA_SQL_ROW_LIMIT",
      `the statement would change ${rows} rows, over the tool's rowLimit of ${limit}; it was ` +
        `rolled back, nothing changed (statement: ${excerpt(sql)})`,
      { rows, limit, sql: excerpt(sql, 500) },
    );
  }
}

/**
 * A write to a table without audit triggers (or whose triggers no longer
 * match it): it could be neither attributed nor rolled back. `table` is
 * undefined when no table of the database is guarded, or when the write
 * reached a table it does not name (a cascade, a trigger, a function).
 */
export class SqlNotGuardedError extends SqlNotAppliedError {
  constructor(table: string | undefined, why = "is not guarded", message?: string) {
    super(
      "FLOTILLA_SQL_NOT_GUARDED",
      message ??
        `${table === undefined ? "the statement changed rows of a table" : `table ${table}`} ${why}, ` +
          `so a write to it could not be attributed or rolled back; nothing was written. ` +
          `Guard it first: flotilla sql guard <url> ${table ?? "<tables…>"}`,
      table === undefined ? {} : { table },
    );
  }

  /** The database has no audit at all. */
  static nothingGuarded(shown: string): SqlNotGuardedError {
    return new SqlNotGuardedError(
      undefined,
      "",
      `no table of ${shown} is guarded (it has no audit tables): the SQL tool writes only to ` +
        `guarded tables, and there is nothing to roll back. Guard tables first: flotilla sql guard <url> <tables…>`,
    );
  }
}

/** The guarded database cannot be reached: nothing was done. */
export class SqlUnavailableError extends SqlNotAppliedError {
  constructor(shown: string, cause: unknown) {
    super(
      "FLOTILLA_STORE_UNAVAILABLE",
      `cannot open the SQL database '${shown}': ${cause instanceof Error ? cause.message : String(cause)}`,
      { url: shown },
      { cause },
    );
  }
}

/** A table named by a statement, or by `flotilla sql guard`, does not exist. */
export class SqlUnknownTableError extends SqlNotAppliedError {
  constructor(table: string) {
    super(
      "FLOTILLA_SQL_UNKNOWN_TABLE",
      `table ${table} does not exist in this database; nothing was written. Check the name (and its schema)`,
      { table },
    );
  }
}

/** The database refused the statement (a constraint, a type, a syntax it rejects): rolled back. */
export class SqlStatementError extends SqlNotAppliedError {
  constructor(message: string, sqlState: string | undefined, sql: string) {
    super(
      "FLOTILLA_SQL_ERROR",
      `the database refused the statement and nothing of it was committed: ${message} ` +
        `(statement: ${excerpt(sql)})`,
      { sql: excerpt(sql, 500), ...(sqlState ? { sqlState } : {}) },
    );
  }
}

/**
 * Undoing a statement's rows left some alone because someone changed them
 * since (their current version differs from what the run wrote): they are
 * reported, never overwritten.
 */
export class SqlRollbackConflictError extends FlotillaError {
  constructor(runId: string, step: string | undefined, conflicts: readonly unknown[]) {
    super(
      "FLOTILLA_SQL_ROLLBACK_CONFLICT",
      `${conflicts.length} row(s) written by run ${runId}${step ? ` at step ${step}` : ""} were ` +
        `changed since by someone else and were left as they are; see them with ` +
        `flotilla rollback ${runId} --plan, settle them, then roll back again`,
      { runId, ...(step ? { step } : {}), conflicts: conflicts.slice(0, 20) },
    );
  }
}

/** A statement shortened for a message. */
export function excerpt(sql: string, max = 160): string {
  const one = sql.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

/**
 * A destructive statement was denied by its `approve-sql` signal: it was
 * never run. Each destructive statement waits for a signal of its own.
 */
export class SqlApprovalDeniedError extends FlotillaError {
  constructor(tool: string, sql: string, reason: string | undefined) {
    super(
      "FLOTILLA_APPROVAL_DENIED",
      `the destructive statement was not approved${reason ? ` (${reason})` : ""} and was not run ` +
        `(tool '${tool}', statement: ${excerpt(sql)}). Change it, or send it again to ask for a new approve-sql signal`,
      {
        tool,
        signal: "approve-sql",
        sql: excerpt(sql, 500),
        ...(reason === undefined ? {} : { reason }),
      },
    );
  }
}
