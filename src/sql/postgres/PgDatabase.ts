import pg from "pg";
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
import { installGuard, nameForms } from "./pgAudit.js";
import { PgRestoreTx, type PgAuditRow, pgAuditEntry } from "./pgRestore.js";

/** SQLSTATEs that mean "try the transaction again": a deadlock, a serialization failure. */
const RETRY_STATES = new Set(["40P01", "40001"]);
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** The server's verdict as a typed error; a lost connection is "unavailable" (nothing committed). */
function notApplied(err: unknown, sql: string, shown: string): unknown {
  if (isFlotillaError(err)) return err;
  const e = err as { message?: string; code?: string };
  if (e.code === "42P01") {
    const name = /relation "([^"]+)" does not exist/.exec(e.message ?? "")?.[1];
    return new SqlUnknownTableError(name ?? "(unnamed)");
  }
  if (e.code === "25006")
    return new SqlRefusedError(
      "engine-disagrees",
      `PostgreSQL refused to write in the read-only transaction of a statement that parsed as a read; nothing changed: ${sql.slice(0, 120)}`,
    );
  if (typeof e.code === "string" && SQLSTATE.test(e.code))
    return new SqlStatementError(e.message ?? String(err), e.code, sql);
  return new SqlUnavailableError(shown, err);
}

type ExtendedQuery = pg.QueryConfig<SqlParam[]> & { queryMode: "extended" };

/**
 * A guarded PostgreSQL database: a pool for writes, and one whose sessions
 * default to read-only transactions for reads (a function that writes,
 * called from a SELECT, is refused by the server itself).
 */
export class PgDatabase implements SqlDatabase {
  readonly dialect = "postgres" as const;
  private installed = false;

  private constructor(
    private readonly writes: pg.Pool,
    private readonly reads: pg.Pool,
    readonly shown: string,
  ) {}

  static async open(
    url: string,
    shown: string,
    options: { timeoutMs: number; poolSize: number },
  ): Promise<PgDatabase> {
    const pool = (extra: string) => {
      const p = new pg.Pool({
        connectionString: url,
        max: options.poolSize,
        allowExitOnIdle: true,
        keepAlive: true,
        options: `-c statement_timeout=${options.timeoutMs}${extra}`,
      });
      // A dropped idle connection emits 'error'; unheard, it would end the process.
      p.on("error", () => undefined);
      return p;
    };
    const db = new PgDatabase(pool(""), pool(" -c default_transaction_read_only=on"), shown);
    try {
      await db.writes.query("SELECT 1");
    } catch (err) {
      await db.close();
      throw new SqlUnavailableError(shown, err);
    }
    return db;
  }

  private async client(pool: pg.Pool): Promise<pg.PoolClient> {
    try {
      return await pool.connect();
    } catch (err) {
      throw new SqlUnavailableError(this.shown, err);
    }
  }

  private async ensureInstalled(client: pg.ClientBase): Promise<void> {
    if (this.installed) return;
    const { rows } = await client.query<{ ok: boolean }>(
      "SELECT to_regclass('public.flotilla_audit') IS NOT NULL AND to_regclass('public.flotilla_guard') IS NOT NULL AS ok",
    );
    if (!rows[0]?.ok) throw SqlNotGuardedError.nothingGuarded(this.shown);
    this.installed = true;
  }

  /**
   * Runs one statement with the extended protocol, which refuses a second
   * statement hidden in the text; a script runs as one simple query, and its
   * results must be as many as the parser saw statements.
   */
  private async execute(
    client: pg.ClientBase,
    sql: string,
    params: readonly SqlParam[],
    c: Pick<SqlClassification, "multi" | "statements">,
  ): Promise<{ rows: unknown[]; changes: number }> {
    if (!c.multi) {
      const query: ExtendedQuery = { text: sql, values: [...params], queryMode: "extended" };
      const r = await client.query(query);
      return { rows: r.rows ?? [], changes: r.rowCount ?? 0 };
    }
    if (params.length > 0)
      throw new SqlRefusedError(
        "multi-statement",
        "a script of several statements takes no parameters: run its statements one by one",
      );
    const out = (await client.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
    const results = Array.isArray(out) ? out : [out];
    if (results.length !== c.statements.length)
      throw new SqlRefusedError(
        "engine-disagrees",
        `PostgreSQL ran ${results.length} statements where the parser saw ${c.statements.length}; the script was rolled back`,
      );
    return { rows: [], changes: results.reduce((n, r) => n + (r.rowCount ?? 0), 0) };
  }

  async read(sql: string, params: readonly SqlParam[], c: SqlClassification): Promise<QueryResult> {
    const client = await this.client(this.reads);
    try {
      const { rows } = await this.execute(client, sql, params, c);
      const out = jsonRows(rows);
      return { rows: out, rowCount: out.length };
    } catch (err) {
      throw notApplied(err, sql, this.shown);
    } finally {
      client.release();
    }
  }

  /** Every table the statement names exists and is guarded. */
  private async checkGuarded(client: pg.ClientBase, names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    const forms = names.map(nameForms);
    const { rows } = await client.query<{ name: string; rel: string | null; guarded: boolean }>(
      `SELECT n.name, coalesce(to_regclass(n.name), to_regclass(n.quoted))::text AS rel,
              g.tbl IS NOT NULL AS guarded
       FROM unnest($1::text[], $2::text[]) AS n(name, quoted)
       LEFT JOIN public.flotilla_guard g ON g.relid = coalesce(to_regclass(n.name), to_regclass(n.quoted))`,
      [forms.map((f) => f[0]), forms.map((f) => f[1])],
    );
    for (const r of rows) {
      if (r.rel === null) throw new SqlUnknownTableError(r.name);
      if (!r.guarded) throw new SqlNotGuardedError(r.rel);
    }
  }

  async write(req: WriteRequest): Promise<WriteResult> {
    const client = await this.client(this.writes);
    const c = req.classification;
    let broken = false;
    try {
      try {
        await this.ensureInstalled(client);
        await client.query("BEGIN");
        // What this session had changed before (its counters run on until flushed when idle).
        const { rows: set } = await client.query<{ before: Record<string, string> }>(
          `SELECT set_config('flotilla.run_id', $1, true), set_config('flotilla.step', $2, true),
             (SELECT coalesce(jsonb_object_agg(relid::text, n_tup_ins + n_tup_upd + n_tup_del), '{}')
              FROM pg_stat_xact_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0) AS before`,
          [req.runId, req.step],
        );
        if (!c.schema) await this.checkGuarded(client, c.writes);
        // Logged first: the (run, step) key makes a second commit of one statement impossible
        // (a concurrent twin waits on the key, then finds it taken).
        const logged = await client.query(
          `INSERT INTO public.flotilla_sql_statements (run_id, step, tool, sql, row_count, result, side_channels)
           VALUES ($1, $2, $3, $4, 0, '{}', $5) ON CONFLICT (run_id, step) DO NOTHING`,
          [req.runId, req.step, req.tool, req.sql, JSON.stringify(req.sideChannels)],
        );
        if (logged.rowCount === 0) {
          // Committed before (an answer lost on the way): the statement does not run twice.
          await client.query("ROLLBACK");
          return (await this.recordedWith(client, req.runId, req.step)) as WriteResult;
        }
        const out = await this.execute(client, req.sql, req.params, c);
        const { rows } = await client.query<{ n: number; touched: number; unguarded: string[] }>(
          `SELECT count(*)::int AS n, (count(*) FILTER (WHERE op <> 'INSERT'))::int AS touched,
             (SELECT coalesce(array_agg(s.relid::regclass::text), '{}') FROM pg_stat_xact_user_tables s
              WHERE s.n_tup_ins + s.n_tup_upd + s.n_tup_del > coalesce(($3::jsonb ->> s.relid::text)::int8, 0)
                AND s.relid NOT IN (SELECT relid FROM public.flotilla_guard)
                AND s.relid NOT IN ('public.flotilla_audit'::regclass, 'public.flotilla_sql_statements'::regclass)
             ) AS unguarded
           FROM public.flotilla_audit WHERE run_id = $1 AND step = $2`,
          [req.runId, req.step, JSON.stringify(set[0]?.before ?? {})],
        );
        const counts = rows[0] ?? { n: 0, touched: 0, unguarded: [] };
        // The server's own count of what this transaction changed: a cascade, a trigger or a
        // function reaching an unguarded table is refused, not left unaudited.
        if (!c.schema && counts.unguarded.length > 0)
          throw new SqlNotGuardedError(
            counts.unguarded[0],
            "is not guarded, and the statement changed rows of it (through a cascade, a trigger or a function)",
          );
        if (req.rowLimit !== null && counts.touched > req.rowLimit)
          throw new SqlRowLimitError(counts.touched, req.rowLimit, req.sql);
        const result: WriteResult = {
          rows: jsonRows(out.rows),
          rowCount: c.schema ? Math.max(out.changes, counts.n) : counts.n,
          runId: req.runId,
          step: req.step,
        };
        await client.query(
          "UPDATE public.flotilla_sql_statements SET row_count = $3, result = $4 WHERE run_id = $1 AND step = $2",
          [req.runId, req.step, result.rowCount, JSON.stringify(result)],
        );
        await client.query("COMMIT").catch((err: unknown) => {
          // A lost answer to COMMIT leaves the outcome unknown: not wrapped as "not applied".
          broken = true;
          throw err;
        });
        return result;
      } catch (err) {
        if (broken) throw err;
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        throw notApplied(err, req.sql, this.shown);
      }
    } finally {
      client.release(broken);
    }
  }

  private async recordedWith(
    client: pg.ClientBase,
    runId: string,
    step: string,
  ): Promise<WriteResult | undefined> {
    const { rows } = await client.query<{ result: WriteResult }>(
      `SELECT result FROM public.flotilla_sql_statements WHERE run_id = $1 AND step = $2`,
      [runId, step],
    );
    return rows[0]?.result;
  }

  async recorded(runId: string, step: string): Promise<WriteResult | undefined> {
    const client = await this.client(this.writes);
    try {
      const { rows } = await client.query<{ ok: boolean }>(
        "SELECT to_regclass('public.flotilla_sql_statements') IS NOT NULL AS ok",
      );
      return rows[0]?.ok ? await this.recordedWith(client, runId, step) : undefined;
    } finally {
      client.release();
    }
  }

  async preview(sql: string, params: readonly SqlParam[], c: SqlClassification): Promise<number> {
    const client = await this.client(this.writes);
    const tag = `preview:${process.pid}:${Date.now()}`;
    try {
      await this.ensureInstalled(client);
      await client.query("BEGIN");
      await client.query(
        "SELECT set_config('flotilla.run_id', '', true), set_config('flotilla.step', $1, true)",
        [tag],
      );
      await this.checkGuarded(client, c.writes);
      await this.execute(client, sql, params, c);
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM public.flotilla_audit WHERE run_id IS NULL AND step = $1 AND op <> 'INSERT'`,
        [tag],
      );
      return rows[0]?.n ?? 0;
    } catch (err) {
      throw notApplied(err, sql, this.shown);
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release();
    }
  }

  async guard(tables: readonly string[]): Promise<GuardedTable[]> {
    const client = await this.client(this.writes);
    try {
      await client.query("BEGIN");
      const guarded = await installGuard(client, tables);
      await client.query("COMMIT");
      this.installed = true;
      return guarded;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw isFlotillaError(err) ? err : notApplied(err, "(guard)", this.shown);
    } finally {
      client.release();
    }
  }

  async entries(runIds: readonly string[], step?: string): Promise<AuditEntry[]> {
    const client = await this.client(this.writes);
    try {
      await this.ensureInstalled(client);
      const { rows } = await client.query<PgAuditRow>(
        `SELECT seq, run_id, step, tbl, pk, pk::text AS pk_text, op, before, after, at, outcome, conflict
         FROM public.flotilla_audit WHERE run_id = ANY ($1::text[]) AND ($2::text IS NULL OR step = $2)
         ORDER BY seq DESC`,
        [runIds, step ?? null],
      );
      return rows.map(pgAuditEntry);
    } finally {
      client.release();
    }
  }

  async statements(runIds: readonly string[]): Promise<StatementRecord[]> {
    const client = await this.client(this.writes);
    try {
      const { rows } = await client.query<{ ok: boolean }>(
        "SELECT to_regclass('public.flotilla_sql_statements') IS NOT NULL AS ok",
      );
      if (!rows[0]?.ok) return [];
      const found = await client.query<{
        run_id: string;
        step: string;
        tool: string;
        sql: string;
        row_count: number;
        side_channels: string[];
      }>(
        `SELECT run_id, step, tool, sql, row_count, side_channels FROM public.flotilla_sql_statements
         WHERE run_id = ANY ($1::text[]) ORDER BY at`,
        [runIds],
      );
      return found.rows.map((r) => ({
        runId: r.run_id,
        step: r.step,
        tool: r.tool,
        sql: r.sql,
        rowCount: r.row_count,
        sideChannels: r.side_channels,
      }));
    } finally {
      client.release();
    }
  }

  async restore<T>(tag: string, commit: boolean, fn: (tx: RestoreTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.client(this.writes);
      let broken = false;
      try {
        await this.ensureInstalled(client);
        await client.query("BEGIN");
        await client.query(
          "SELECT set_config('flotilla.run_id', '', true), set_config('flotilla.step', $1, true)",
          [tag],
        );
        const out = await fn(new PgRestoreTx(client, tag));
        await client.query(commit ? "COMMIT" : "ROLLBACK");
        return out;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        const state = (err as { code?: unknown }).code;
        // A deadlock with someone editing the same rows: the batch is tried again from the start.
        if (attempt < 5 && typeof state === "string" && RETRY_STATES.has(state)) continue;
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.writes.end(), this.reads.end()]).catch(() => undefined);
  }
}
