import { z } from "zod";
import { InvalidArgumentError, isFlotillaError } from "../core/errors.js";
import { parseOptions } from "../core/validate.js";
import { checkName, type Tool, type ToolSpec } from "../effects/Tool.js";
import type { ErrorClassifier } from "../resilience/classify.js";
import type { RunContext } from "../runtime/RunContext.js";
import { APPROVE_SQL, approveSql } from "./approval.js";
import { classifySql, type SqlClass, type SqlClassification, type SqlDialect } from "./classify.js";
import type {
  GuardedTable,
  QueryResult,
  Row,
  SqlDatabase,
  SqlParam,
  WriteResult,
} from "./database.js";
import { SqlRefusedError, SqlRollbackConflictError } from "./errors.js";
import { openSqlDatabase } from "./open.js";
import {
  DEFAULT_ROW_LIMIT,
  DEFAULT_SQL_TIMEOUT_MS,
  sqlParamsSchema,
  sqlToolOptionsSchema,
  type SqlToolOptions,
} from "./options.js";
import { rollbackReport, rollbackRows } from "./rollback.js";
import { parseSqlUrl } from "./url.js";

/** What `db.query` answers. */
export interface SqlResult {
  class: SqlClass;
  rows: Row[];
  /** Rows returned by a read; rows changed by a write. */
  rowCount: number;
}

/** What an approval is asked for: journaled just before the run waits for `approve-sql`. */
export interface SqlApprovalRequest {
  signal: typeof APPROVE_SQL;
  tool: string;
  sql: string;
  params: SqlParam[];
  reasons: string[];
  /** Rows an UPDATE/DELETE would change, counted in a rolled-back transaction (null: a schema change). */
  rowsTouched: number | null;
}

/** Where `sqlTool` registers its tools: `flotilla.tool`. */
export interface SqlToolHost {
  tool<A, R>(name: string, spec: ToolSpec<A, R>): Tool<A, R>;
}

const statementArgs = z.strictObject({ sql: z.string().min(1), params: sqlParamsSchema });
const writeArgs = statementArgs.extend({ runId: z.string().min(1), approved: z.boolean() });
const previewArgs = statementArgs.extend({ reasons: z.array(z.string()) });
type StatementArgs = z.infer<typeof statementArgs>;
type WriteArgs = z.infer<typeof writeArgs>;
type PreviewArgs = z.infer<typeof previewArgs>;

/** SQLSTATEs of a transaction the server gave up on to let another through: a deadlock. */
const TRY_AGAIN = new Set(["40P01", "40001"]);

/**
 * Failures that did nothing and may not happen again: a connection lost
 * before the commit, a deadlock with someone editing the same rows.
 */
const retryTransient: ErrorClassifier = (err) => {
  if (isFlotillaError(err, "FLOTILLA_STORE_UNAVAILABLE"))
    return { retryable: true, reason: "connection", dependencyFault: true };
  if (isFlotillaError(err, "FLOTILLA_SQL_ERROR") && TRY_AGAIN.has(String(err.details.sqlState)))
    return { retryable: true, reason: "deadlock", dependencyFault: false };
  return undefined;
};

/** The step a write is attributed to: its default key is `<run>:<step>`. */
function stepOf(runId: string, key: string): string {
  return key.startsWith(`${runId}:`) ? key.slice(runId.length + 1) : key;
}

const registry = new WeakMap<object, SqlTool[]>();

/** The SQL tools defined on a Flotilla instance. */
export function sqlToolsOf(host: object): readonly SqlTool[] {
  return registry.get(host) ?? [];
}

/**
 * A guarded SQL tool (`flotilla.sqlTool(name, options)`). Agent code sends
 * it SQL with `db.query(ctx, sql, params)`; a parser classifies the
 * statement and the class decides the contract: a read is a `read` step; a
 * write is a `compensable` effect attributed to its run and step, whose
 * inverse rolls back the rows it wrote; a destructive statement waits for
 * an `approve-sql` signal (or is refused), then runs as `irreversible` (a
 * schema change) or `compensable` (an UPDATE/DELETE of many rows).
 */
export class SqlTool {
  readonly kind = "flotilla.sql-tool" as const;
  readonly dialect: SqlDialect;
  /** The four tools this one is made of, by role; their names are this name and suffixes. */
  readonly toolNames: { write: string; read: string; schema: string; preview: string };
  private readonly options: z.output<typeof sqlToolOptionsSchema> &
    Required<Pick<SqlToolOptions, "destructive" | "rowLimit" | "multiStatement" | "sideChannels">>;
  private readonly readTool: Tool<StatementArgs, QueryResult>;
  private readonly writeTool: Tool<WriteArgs, WriteResult>;
  private readonly schemaTool: Tool<WriteArgs, WriteResult>;
  private readonly previewTool: Tool<PreviewArgs, SqlApprovalRequest>;
  private opened: Promise<SqlDatabase> | undefined;

  constructor(
    host: SqlToolHost,
    readonly name: string,
    options: SqlToolOptions,
  ) {
    checkName("SQL tool", name);
    if (name.length > 120)
      throw new InvalidArgumentError(
        `SQL tool name must be at most 120 characters (its tools add a suffix), received ${name.length}`,
        { field: "name", received: name },
      );
    const given = parseOptions(sqlToolOptionsSchema, options, `sqlTool '${name}'`);
    this.dialect = parseSqlUrl(given.store, `sqlTool '${name}'.store`).dialect;
    this.options = {
      ...given,
      destructive: given.destructive ?? "approve",
      rowLimit: given.rowLimit ?? DEFAULT_ROW_LIMIT,
      multiStatement: given.multiStatement ?? false,
      sideChannels: given.sideChannels ?? [],
    };
    this.toolNames = {
      write: name,
      read: `${name}.read`,
      schema: `${name}.schema`,
      preview: `${name}.preview`,
    };
    const timeoutMs = given.timeoutMs ?? DEFAULT_SQL_TIMEOUT_MS;
    const common = { timeoutMs, classify: retryTransient };
    const described = given.description === undefined ? {} : { description: given.description };
    this.readTool = host.tool(this.toolNames.read, {
      ...common,
      ...described,
      effect: "read",
      schema: statementArgs,
      run: (a) => this.read(a),
    });
    this.writeTool = host.tool(this.toolNames.write, {
      ...common,
      ...described,
      effect: "compensable",
      schema: writeArgs,
      run: (a, call) => this.write(a, stepOf(a.runId, call.idempotencyKey), false),
      compensate: (a, result) => this.undoStatement(a.runId, result.step),
      reconcile: async (a, call) => {
        const db = await this.database();
        const found = await db.recorded(a.runId, stepOf(a.runId, call.idempotencyKey));
        return found ? { status: "done", result: found } : { status: "not-done" };
      },
    });
    this.schemaTool = host.tool(this.toolNames.schema, {
      ...common,
      effect: "irreversible",
      schema: writeArgs,
      run: (a, call) => this.write(a, stepOf(a.runId, call.idempotencyKey), true),
    });
    this.previewTool = host.tool(this.toolNames.preview, {
      ...common,
      effect: "read",
      schema: previewArgs,
      run: (a) => this.preview(a),
    });
    const list = registry.get(host) ?? [];
    list.push(this);
    registry.set(host, list);
  }

  /** The database URL (password masked when shown). */
  get store(): string {
    return this.options.store;
  }

  /** The database, opened on first use (and again after a failed attempt). */
  database(): Promise<SqlDatabase> {
    this.opened ??= openSqlDatabase(this.options.store, {
      timeoutMs: this.options.timeoutMs ?? DEFAULT_SQL_TIMEOUT_MS,
      ...(this.options.poolSize === undefined ? {} : { poolSize: this.options.poolSize }),
    }).catch((err: unknown) => {
      this.opened = undefined;
      throw err;
    });
    return this.opened;
  }

  /** How the tool classifies `sql` (nothing is run). */
  classify(sql: string): SqlClassification {
    return classifySql(sql, this.dialect);
  }

  /** Guards tables of this tool's database (as `flotilla sql guard` does). */
  async guard(tables: readonly string[]): Promise<GuardedTable[]> {
    return (await this.database()).guard(tables);
  }

  /**
   * Runs one statement (or, with `multiStatement`, a script) from agent
   * code, as a journaled step under its class's contract. Destructive
   * statements wait for `approve-sql` (`{ approved, reason? }`) unless the
   * policy refuses them. A replay returns what was journaled.
   */
  async query(ctx: RunContext, sql: string, params: readonly SqlParam[] = []): Promise<SqlResult> {
    if (typeof sql !== "string")
      throw new InvalidArgumentError(`${this.name}: sql must be a string, received ${typeof sql}`, {
        field: "sql",
      });
    const bound = parseOptions(sqlParamsSchema, params, `${this.name} params`);
    const c = this.classify(sql);
    if (c.multi && !this.options.multiStatement)
      throw new SqlRefusedError(
        "multi-statement",
        `tool '${this.name}' runs one statement at a time and this SQL holds ${c.statements.length}: ` +
          "send them one by one (or define the tool with multiStatement: true)",
        { statements: c.statements.length },
      );
    if (c.class === "read") {
      const r = await ctx.call(this.readTool, { sql, params: bound });
      return { class: "read", rows: r.rows, rowCount: r.rowCount };
    }
    if (c.class === "destructive" && this.options.destructive === "refuse")
      throw this.refusal("destructive", c.reasons, sql);
    // A write may turn out destructive (too many rows) and go on to ask for an approval: its
    // later steps are numbered in a branch of their own, so concurrent statements number theirs
    // the same way on every replay, whenever each gets its answers.
    const [out] = await ctx.all<[SqlResult]>([(branch) => this.change(branch, sql, bound, c)]);
    return out;
  }

  private refusal(
    kind: "destructive" | "row-limit",
    reasons: string[],
    sql: string,
  ): SqlRefusedError {
    return new SqlRefusedError(
      kind,
      `tool '${this.name}' refuses destructive statements (${reasons.join("; ")}); it was not run: ${sql.slice(0, 120)}`,
      { tool: this.name, reasons },
    );
  }

  private async change(
    ctx: RunContext,
    sql: string,
    params: SqlParam[],
    c: SqlClassification,
  ): Promise<SqlResult> {
    let reasons = c.reasons;
    if (c.class === "write") {
      try {
        const r = await ctx.call(this.writeTool, {
          runId: ctx.runId,
          sql,
          params,
          approved: false,
        });
        return { class: "write", rows: r.rows, rowCount: r.rowCount };
      } catch (err) {
        if (!isFlotillaError(err, "FLOTILLA_SQL_ROW_LIMIT")) throw err;
        reasons = [
          `it changes ${String(err.details.rows)} rows, over the tool's rowLimit of ${this.options.rowLimit}`,
        ];
        if (this.options.destructive === "refuse") throw this.refusal("row-limit", reasons, sql);
      }
    }
    // What is to be approved is journaled (with a dry-run count) before the run waits.
    await ctx.call(this.previewTool, { sql, params, reasons });
    await approveSql(ctx, this.name, sql, this.options.approvalTimeoutMs);
    const tool = c.schema ? this.schemaTool : this.writeTool;
    const r = await ctx.call(tool, { runId: ctx.runId, sql, params, approved: true });
    return { class: "destructive", rows: r.rows, rowCount: r.rowCount };
  }

  private async read(a: StatementArgs): Promise<QueryResult> {
    const c = this.classify(a.sql);
    if (c.class !== "read")
      throw new SqlRefusedError(
        "engine-disagrees",
        `the read tool of '${this.name}' runs reads only`,
      );
    return (await this.database()).read(a.sql, a.params, c);
  }

  private async write(a: WriteArgs, step: string, schema: boolean): Promise<WriteResult> {
    // Classified again here: the tool does not take its caller's word for what the SQL does.
    const c = this.classify(a.sql);
    if (c.class === "destructive" && !a.approved)
      throw this.refusal("destructive", c.reasons, a.sql);
    if (c.schema !== schema)
      throw new SqlRefusedError(
        "engine-disagrees",
        `tool '${schema ? this.toolNames.schema : this.toolNames.write}' does not run this statement`,
      );
    return (await this.database()).write({
      runId: a.runId,
      step,
      tool: this.name,
      sql: a.sql,
      params: a.params,
      classification: c,
      rowLimit: a.approved ? null : this.options.rowLimit,
      sideChannels: this.options.sideChannels,
    });
  }

  private async preview(a: PreviewArgs): Promise<SqlApprovalRequest> {
    const c = this.classify(a.sql);
    const rowsTouched = c.schema ? null : await (await this.database()).preview(a.sql, a.params, c);
    return {
      signal: APPROVE_SQL,
      tool: this.name,
      sql: a.sql,
      params: a.params,
      reasons: a.reasons,
      rowsTouched,
    };
  }

  /** The inverse of one write: its rows rolled back; rows changed since are left, and reported. */
  private async undoStatement(runId: string, step: string): Promise<{ restored: number }> {
    const db = await this.database();
    const by = `undo:${runId}:${step}`;
    const out = await rollbackRows(db, { runIds: [runId], step }, { by });
    const report = rollbackReport(
      { runId, runs: [runId], database: db.shown, plan: false },
      out.entries,
      out.verdicts,
      out.restoredBefore,
      [],
    );
    if (report.conflicts.length > 0)
      throw new SqlRollbackConflictError(runId, step, report.conflicts);
    return { restored: report.counts.restored };
  }

  /** Closes the tool's connections (PostgreSQL pools, the SQLite handle). */
  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened) await (await opened.catch(() => undefined))?.close();
  }
}

/** `flotilla.sqlTool(name, options)`. */
export function defineSqlTool(host: SqlToolHost, name: string, options: SqlToolOptions): SqlTool {
  return new SqlTool(host, name, options);
}
