import pg from "pg";
import {
  CancelledError,
  LeaseLostError,
  NotFoundError,
  StoreUnavailableError,
} from "../../core/errors.js";
import { newToken } from "../../core/ids.js";
import type { Json } from "../../core/json.js";
import { GroupCommitter } from "../groupCommit.js";
import { loadMigrations } from "../migrations.js";
import { StoreNotifier } from "../notifier.js";
import { overdrawn } from "../budget.js";
import {
  rowToBudget,
  rowToDeadLetter,
  rowToEffect,
  rowToEvent,
  rowToRun,
  toJsonText,
} from "../rows.js";
import type { DeadLetter, DeadLetterFilter } from "../../deadletter/types.js";
import type {
  BudgetAmount,
  BudgetDenial,
  BudgetScope,
  BudgetUsage,
  ClaimOptions,
  ClaimedRun,
  Commit,
  EffectRecord,
  EffectUpdate,
  JournalEvent,
  LeaseRenewal,
  NewRun,
  RunFilter,
  RunRecord,
  Signal,
  Store,
} from "../types.js";
import { isTerminal } from "../types.js";

type Row = Record<string, unknown>;

/** Milliseconds since the epoch on the database's clock: leases compare against one clock. */
const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
const CHANNEL = "flotilla";
/** Serialises migrations when many workers start at once. */
const MIGRATION_LOCK = 7_260_111_001;
/** Deadlock and serialization failures: the batch is retried as a whole. */
const RETRYABLE_CODES = new Set(["40P01", "40001"]);

/**
 * The shared store: any number of workers on any number of machines. Claims
 * use `FOR UPDATE SKIP LOCKED`, leases are fenced by token, and `LISTEN/NOTIFY`
 * wakes idle workers. Concurrent commits share one transaction.
 */
export class PostgresStore extends StoreNotifier implements Store {
  readonly kind = "postgres" as const;
  private readonly committer: GroupCommitter;
  private listener: pg.Client | undefined;

  private constructor(
    readonly location: string,
    private readonly pool: pg.Pool,
  ) {
    super();
    this.committer = new GroupCommitter((batch) => this.applyBatch(batch));
  }

  static async open(url: string, options: { listen?: boolean } = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: 8 });
    pool.on("error", () => undefined);
    const store = new PostgresStore(url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@"), pool);
    try {
      await store.migrate();
      if (options.listen !== false) await store.listen(url);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new StoreUnavailableError(url, err);
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
      await client.query(
        "CREATE TABLE IF NOT EXISTS flotilla_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
      );
      const { rows } = await client.query<{ version: number }>(
        "SELECT version FROM flotilla_migrations",
      );
      const applied = new Set(rows.map((r) => r.version));
      for (const m of loadMigrations("postgres")) {
        if (applied.has(m.version)) continue;
        await client.query("BEGIN");
        try {
          await client.query(m.sql);
          await client.query(
            `INSERT INTO flotilla_migrations (version, applied_at) VALUES ($1, ${NOW_MS})`,
            [m.version],
          );
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK");
          throw err;
        }
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
      client.release();
    }
  }

  private async listen(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => undefined);
    await client.connect();
    client.on("notification", (msg) => {
      const payload = msg.payload ?? "";
      if (payload === "runnable") this.emitRunnable();
      else if (payload.startsWith("cancel:")) this.emitCancel(payload.slice(7));
    });
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  private async query(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query<Row>(sql, params)).rows;
  }

  private async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const out = await fn(client);
      await client.query("COMMIT");
      return out;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async createRun(run: NewRun): Promise<{ run: RunRecord; created: boolean }> {
    return this.tx(async (c) => {
      if (run.idempotencyKey) {
        const existing = await c.query<Row>("SELECT * FROM runs WHERE idempotency_key = $1", [
          run.idempotencyKey,
        ]);
        if (existing.rows[0])
          return { run: rowToRun(existing.rows[0], "postgres"), created: false };
      }
      const created = await insertRuns(c, [run]);
      const { rows } = await c.query<Row>("SELECT * FROM runs WHERE id = $1", [run.id]);
      if (created > 0) await c.query(`SELECT pg_notify('${CHANNEL}', 'runnable')`);
      return { run: rowToRun(rows[0] as Row, "postgres"), created: created > 0 };
    });
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const [row] = await this.query("SELECT * FROM runs WHERE id = $1", [id]);
    return row ? rowToRun(row, "postgres") : undefined;
  }

  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    const rows = await this.query(
      `SELECT * FROM runs WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR agent = $2)
         AND ($3::text IS NULL OR parent_id = $3) ORDER BY created_at DESC, id DESC LIMIT $4`,
      [filter.status ?? null, filter.agent ?? null, filter.parentId ?? null, filter.limit ?? 100],
    );
    return rows.map((r) => rowToRun(r, "postgres"));
  }

  /** Workers on PostgreSQL coordinate through leases alone; nothing to register. */
  async registerWorker(): Promise<void> {}

  async unregisterWorker(): Promise<void> {}

  async claimRuns(options: ClaimOptions): Promise<ClaimedRun[]> {
    const token = newToken();
    const rows = await this.query(
      `UPDATE runs SET status = 'running', lease_owner = $1, lease_token = $2,
         lease_expires_at = ${NOW_MS} + $3, wake_requested = false, updated_at = ${NOW_MS}
       WHERE id IN (
         SELECT id FROM runs
         WHERE agent = ANY($4)
           AND (status = 'pending' OR (status = 'waiting' AND wake_at <= ${NOW_MS})
                OR (status = 'running' AND lease_expires_at < ${NOW_MS}))
         ORDER BY created_at LIMIT $5
         FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [options.workerId, token, options.leaseMs, options.agents, options.limit],
    );
    return rows.map((r) => ({ ...rowToRun(r, "postgres"), leaseToken: token }));
  }

  async renewLeases(
    _workerId: string,
    leases: readonly { runId: string; leaseToken: string }[],
    leaseMs: number,
  ): Promise<LeaseRenewal> {
    if (leases.length === 0) return { lost: [], cancelRequested: [] };
    const rows = await this.query(
      `UPDATE runs r SET lease_expires_at = ${NOW_MS} + $3
       FROM unnest($1::text[], $2::text[]) AS l(id, token)
       WHERE r.id = l.id AND r.lease_token = l.token
       RETURNING r.id, r.lease_token, r.cancel_requested`,
      [leases.map((l) => l.runId), leases.map((l) => l.leaseToken), leaseMs],
    );
    const held = new Set(rows.map((r) => `${r.id as string}/${r.lease_token as string}`));
    return {
      lost: leases.filter((l) => !held.has(`${l.runId}/${l.leaseToken}`)).map((l) => l.runId),
      cancelRequested: rows.filter((r) => r.cancel_requested).map((r) => r.id as string),
    };
  }

  async nextWakeAt(): Promise<number | null> {
    const [row] = await this.query(
      "SELECT min(wake_at) AS at FROM runs WHERE status = 'waiting' AND wake_at IS NOT NULL",
    );
    return row?.at === null || row?.at === undefined ? null : Number(row.at);
  }

  commit(commit: Commit): Promise<void> {
    return this.committer.submit(commit);
  }

  private async applyBatch(batch: Commit[]): Promise<(Error | undefined)[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.tx((c) => applyBatchIn(c, batch));
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (attempt >= 5 || !code || !RETRYABLE_CODES.has(code)) throw err;
      }
    }
  }

  async readJournal(runId: string): Promise<JournalEvent[]> {
    const rows = await this.query("SELECT * FROM events WHERE run_id = $1 ORDER BY id", [runId]);
    return rows.map((r) => rowToEvent(r, "postgres"));
  }

  async getBlobs(hashes: readonly Buffer[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    if (hashes.length === 0) return out;
    const rows = await this.query("SELECT hash, data FROM blobs WHERE hash = ANY($1::bytea[])", [
      hashes,
    ]);
    for (const r of rows) out.set((r.hash as Buffer).toString("hex"), r.data as Buffer);
    return out;
  }

  async claimEffectKey(e: Omit<EffectUpdate, "state" | "result">): Promise<EffectRecord> {
    const [row] = await this.query(
      `WITH ins AS (
         INSERT INTO effects (key, run_id, step, tool, state, updated_at)
         VALUES ($1, $2, $3, $4, 'intent', ${NOW_MS}) ON CONFLICT DO NOTHING RETURNING *)
       SELECT * FROM ins UNION ALL SELECT * FROM effects WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM ins)`,
      [e.key, e.runId, e.step, e.tool],
    );
    return rowToEffect(row as Row, "postgres");
  }

  async getEffect(key: string): Promise<EffectRecord | undefined> {
    const [row] = await this.query("SELECT * FROM effects WHERE key = $1", [key]);
    return row ? rowToEffect(row, "postgres") : undefined;
  }

  async sendSignal(runId: string, name: string, payload: Json): Promise<void> {
    await this.tx(async (c) => {
      const { rowCount } = await c.query(
        `UPDATE runs SET wake_requested = true, updated_at = ${NOW_MS},
           status = CASE WHEN status = 'waiting' THEN 'pending' ELSE status END WHERE id = $1`,
        [runId],
      );
      if (!rowCount) throw new NotFoundError("run", runId);
      await c.query(
        `INSERT INTO signals (run_id, name, payload, at) VALUES ($1, $2, $3, ${NOW_MS})`,
        [runId, name, JSON.stringify(payload)],
      );
      await c.query(`SELECT pg_notify('${CHANNEL}', 'runnable')`);
    });
  }

  async readSignals(runId: string): Promise<Signal[]> {
    const rows = await this.query("SELECT * FROM signals WHERE run_id = $1 ORDER BY id", [runId]);
    return rows.map((r) => ({
      id: Number(r.id),
      runId: r.run_id as string,
      name: r.name as string,
      payload: r.payload as Json,
      at: Number(r.at),
    }));
  }

  async requestCancel(runId: string, reason: string): Promise<RunRecord> {
    return this.tx(async (c) => {
      const { rows } = await c.query<Row>("SELECT * FROM runs WHERE id = $1 FOR UPDATE", [runId]);
      if (!rows[0]) throw new NotFoundError("run", runId);
      const current = rowToRun(rows[0], "postgres");
      if (current.cancelRequested || isTerminal(current.status)) {
        return current;
      }
      await c.query(
        `UPDATE runs SET cancel_requested = true, updated_at = ${NOW_MS} WHERE id = $1`,
        [runId],
      );
      await c.query(
        `INSERT INTO events (run_id, type, step, data, at) VALUES ($1, 'run.cancel-requested', NULL, $2, ${NOW_MS})`,
        [runId, JSON.stringify({ reason })],
      );
      await c.query(`SELECT pg_notify('${CHANNEL}', $1)`, [`cancel:${runId}`]);
      return { ...current, cancelRequested: true };
    });
  }

  async publishDependencyStates(
    workerId: string,
    states: readonly { dependency: string; state: Json }[],
  ): Promise<void> {
    if (states.length === 0) return;
    await this.query(
      `INSERT INTO dependency_state (dependency, worker_id, state, updated_at)
       SELECT d, $1, s, ${NOW_MS} FROM unnest($2::text[], $3::jsonb[]) AS t(d, s)
       ON CONFLICT (dependency, worker_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
      [workerId, states.map((s) => s.dependency), states.map((s) => JSON.stringify(s.state))],
    );
  }

  async readDependencyStates(
    excludeWorkerId: string,
    maxAgeMs: number,
  ): Promise<{ dependency: string; workerId: string; state: Json }[]> {
    const rows = await this.query(
      `SELECT * FROM dependency_state WHERE worker_id != $1 AND updated_at >= ${NOW_MS} - $2`,
      [excludeWorkerId, maxAgeMs],
    );
    return rows.map((r) => ({
      dependency: r.dependency as string,
      workerId: r.worker_id as string,
      state: r.state as Json,
    }));
  }

  async storedBytes(): Promise<{ events: number; blobs: number }> {
    const [ev] = await this.query(
      "SELECT coalesce(sum(pg_column_size(events.*)), 0) AS n FROM events",
    );
    const [bl] = await this.query(
      "SELECT coalesce(sum(pg_column_size(blobs.*)), 0) AS n FROM blobs",
    );
    return { events: Number(ev?.n ?? 0), blobs: Number(bl?.n ?? 0) };
  }

  async listDeadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const rows = await this.query(
      `SELECT * FROM dead_letters WHERE ($1::text IS NULL OR class = $1)
         AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR run_id = $3)
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [filter.class ?? null, filter.status ?? null, filter.runId ?? null, filter.limit ?? 100],
    );
    return rows.map((r) => rowToDeadLetter(r, "postgres"));
  }

  async getDeadLetter(id: string): Promise<DeadLetter | undefined> {
    const [row] = await this.query("SELECT * FROM dead_letters WHERE id = $1", [id]);
    return row ? rowToDeadLetter(row, "postgres") : undefined;
  }

  async reserveBudget(
    scopes: readonly BudgetScope[],
    amount: BudgetAmount,
  ): Promise<BudgetDenial | null> {
    const names = [...new Set(scopes.map((s) => s.scope))].sort();
    return this.tx(async (c) => {
      // Rows exist before they are locked, and are locked in name order so reservers cannot deadlock.
      await c.query(
        "INSERT INTO budget_ledger (scope) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        [names],
      );
      const { rows } = await c.query<Row>(
        "SELECT * FROM budget_ledger WHERE scope = ANY($1) ORDER BY scope FOR UPDATE",
        [names],
      );
      const usage = new Map(rows.map((r) => [r.scope as string, rowToBudget(r)]));
      for (const s of scopes) {
        const denial = overdrawn(s, usage.get(s.scope) ?? rowToBudget(undefined), amount);
        if (denial) return denial;
      }
      await c.query(
        `UPDATE budget_ledger SET reserved_usd = reserved_usd + $2, reserved_tokens = reserved_tokens + $3
         WHERE scope = ANY($1)`,
        [names, amount.usd, amount.tokens],
      );
      return null;
    });
  }

  async settleBudget(
    scopes: readonly string[],
    reserved: BudgetAmount,
    spent: BudgetAmount,
  ): Promise<void> {
    const names = [...new Set(scopes)].sort();
    await this.tx(async (c) => {
      await c.query(
        "INSERT INTO budget_ledger (scope) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        [names],
      );
      await c.query(
        `UPDATE budget_ledger SET spent_usd = spent_usd + $2, spent_tokens = spent_tokens + $3,
           reserved_usd = greatest(0, reserved_usd - $4), reserved_tokens = greatest(0, reserved_tokens - $5)
         WHERE scope = ANY($1)`,
        [names, spent.usd, spent.tokens, reserved.usd, reserved.tokens],
      );
    });
  }

  async readBudget(scope: string): Promise<BudgetUsage> {
    const [row] = await this.query("SELECT * FROM budget_ledger WHERE scope = $1", [scope]);
    return rowToBudget(row);
  }

  async close(): Promise<void> {
    await this.committer.drain();
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}

async function insertRuns(c: pg.PoolClient, runs: readonly NewRun[]): Promise<number> {
  if (runs.length === 0) return 0;
  const { rows } = await c.query<{ id: string; agent: string; parent_id: string | null }>(
    `INSERT INTO runs (id, agent, status, parent_id, idempotency_key, tenant, input, created_at, updated_at)
     SELECT id, agent, 'pending', parent_id, idem, tenant, input, ${NOW_MS}, ${NOW_MS}
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
       AS t(id, agent, parent_id, idem, tenant, input)
     ON CONFLICT DO NOTHING RETURNING id, agent, parent_id`,
    [
      runs.map((r) => r.id),
      runs.map((r) => r.agent),
      runs.map((r) => r.parentId ?? null),
      runs.map((r) => r.idempotencyKey ?? null),
      runs.map((r) => r.tenant ?? null),
      runs.map((r) => JSON.stringify(r.input)),
    ],
  );
  if (rows.length > 0) {
    await c.query(
      `INSERT INTO events (run_id, type, step, data, at)
       SELECT id, 'run.created', NULL, data, ${NOW_MS} FROM unnest($1::text[], $2::jsonb[]) AS t(id, data)`,
      [
        rows.map((r) => r.id),
        rows.map((r) =>
          JSON.stringify({
            ...runs.find((x) => x.id === r.id)?.created,
            agent: r.agent,
            parentId: r.parent_id,
            deadline: runs.find((x) => x.id === r.id)?.deadline ?? null,
          }),
        ),
      ],
    );
  }
  return rows.length;
}

/**
 * Applies a batch with a fixed number of statements whatever its size: lock
 * the runs involved (in id order, so concurrent batches cannot deadlock on
 * them), check each commit's fence, then insert everything accepted in bulk.
 */
async function applyBatchIn(c: pg.PoolClient, batch: Commit[]): Promise<(Error | undefined)[]> {
  const lockIds = [...new Set(batch.flatMap((b) => [b.runId, ...(b.wake ?? [])]))].sort();
  const { rows } = await c.query<{
    id: string;
    status: string;
    lease_token: string | null;
    leased: boolean;
    cancel_requested: boolean;
  }>(
    `SELECT id, status, lease_token, cancel_requested,
       (lease_token IS NOT NULL AND lease_expires_at >= ${NOW_MS}) AS leased
     FROM runs WHERE id = ANY($1) ORDER BY id FOR UPDATE`,
    [lockIds],
  );
  const runs = new Map(rows.map((r) => [r.id, r]));
  const outcomes = batch.map((b): Error | undefined => {
    const run = runs.get(b.runId);
    if (!run) return new NotFoundError("run", b.runId);
    if ("leaseToken" in b.fence) {
      if (run.lease_token !== b.fence.leaseToken) return new LeaseLostError(b.runId);
      if (b.fence.requireNotCancelled && run.cancel_requested) return new CancelledError(b.runId);
      return undefined;
    }
    if (run.leased || !b.fence.unleasedIn.includes(run.status as never)) {
      return new LeaseLostError(b.runId);
    }
    return undefined;
  });
  const ok = batch.filter((_, i) => outcomes[i] === undefined);
  if (ok.length === 0) return outcomes;

  const blobs = new Map<string, Buffer>();
  for (const b of ok) for (const x of b.blobs ?? []) blobs.set(x.hash.toString("hex"), x.data);
  if (blobs.size > 0) {
    const keys = [...blobs.keys()].sort();
    await c.query(
      `INSERT INTO blobs (hash, data) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT DO NOTHING`,
      [keys.map((k) => Buffer.from(k, "hex")), keys.map((k) => blobs.get(k))],
    );
  }
  const newRuns = ok.flatMap((b) => b.newRuns ?? []);
  await insertRuns(c, newRuns);

  const events = ok.flatMap((b) => b.events.map((e) => ({ runId: b.runId, ...e })));
  if (events.length > 0) {
    await c.query(
      `INSERT INTO events (run_id, type, step, data, at)
       SELECT run_id, type, step, data, ${NOW_MS}
       FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) WITH ORDINALITY AS t(run_id, type, step, data, ord)
       ORDER BY ord`,
      [
        events.map((e) => e.runId),
        events.map((e) => e.type),
        events.map((e) => e.step ?? null),
        events.map((e) => JSON.stringify(e.data)),
      ],
    );
  }
  const effects = ok.flatMap((b) => b.effects ?? []).sort((a, b) => (a.key < b.key ? -1 : 1));
  if (effects.length > 0) {
    await c.query(
      `INSERT INTO effects AS e (key, run_id, step, tool, state, result, updated_at)
       SELECT key, run_id, step, tool, state, result, ${NOW_MS}
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
         AS t(key, run_id, step, tool, state, result)
       ON CONFLICT (key) DO UPDATE SET state = excluded.state, result = excluded.result,
         updated_at = excluded.updated_at
       WHERE e.run_id = excluded.run_id AND e.step = excluded.step`,
      [
        effects.map((e) => e.key),
        effects.map((e) => e.runId),
        effects.map((e) => e.step),
        effects.map((e) => e.tool),
        effects.map((e) => e.state),
        effects.map((e) => toJsonText(e.result)),
      ],
    );
  }
  for (const b of ok) {
    const d = b.deadLetter;
    if (d) {
      await c.query(
        `INSERT INTO dead_letters (id, run_id, root_id, agent, tenant, class, status, error, context, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, ${NOW_MS}, ${NOW_MS}) ON CONFLICT DO NOTHING`,
        [
          d.id,
          d.runId,
          d.rootId,
          d.agent,
          d.tenant,
          d.class,
          toJsonText(d.error ?? undefined),
          JSON.stringify(d.context),
        ],
      );
    }
    const u = b.deadLetterUpdate;
    if (u) {
      await c.query(
        `UPDATE dead_letters SET status = $1, resolution = $2, updated_at = ${NOW_MS} WHERE id = $3`,
        [u.status, JSON.stringify(u.resolution), u.id],
      );
    }
  }
  // One row per run: UPDATE … FROM applies only one match per target row.
  const byRun = new Map<string, { runId: string; status?: Commit["status"]; release: boolean }>();
  for (const b of ok) {
    if (!b.status && !b.release) continue;
    const prev = byRun.get(b.runId);
    byRun.set(b.runId, {
      runId: b.runId,
      status: b.status ?? prev?.status,
      release: (prev?.release ?? false) || b.release === true,
    });
  }
  const changes = [...byRun.values()];
  let runnable = newRuns.length > 0;
  if (changes.length > 0) {
    const { rows: updated } = await c.query<{ status: string }>(
      `UPDATE runs r SET
         status = CASE WHEN t.status IS NULL THEN r.status
                       WHEN t.status = 'waiting' AND r.wake_requested THEN 'pending' ELSE t.status END,
         result = CASE WHEN t.status IS NULL THEN r.result ELSE t.result END,
         error = CASE WHEN t.status IS NULL THEN r.error ELSE t.error END,
         wake_at = CASE WHEN t.status IS NULL THEN r.wake_at ELSE t.wake_at END,
         lease_owner = CASE WHEN t.release THEN NULL ELSE r.lease_owner END,
         lease_token = CASE WHEN t.release THEN NULL ELSE r.lease_token END,
         lease_expires_at = CASE WHEN t.release THEN NULL ELSE r.lease_expires_at END,
         updated_at = ${NOW_MS}
       FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[], $5::bigint[], $6::boolean[])
         AS t(id, status, result, error, wake_at, release)
       WHERE r.id = t.id RETURNING r.status`,
      [
        changes.map((b) => b.runId),
        changes.map((b) => b.status?.status ?? null),
        changes.map((b) => toJsonText(b.status?.result)),
        changes.map((b) => toJsonText(b.status?.error ?? undefined)),
        changes.map((b) => b.status?.wakeAt ?? null),
        changes.map((b) => b.release),
      ],
    );
    runnable ||= updated.some((u) => u.status === "pending" || u.status === "waiting");
  }
  const wake = ok.flatMap((b) => b.wake ?? []);
  if (wake.length > 0) {
    await c.query(
      `UPDATE runs SET wake_requested = true, updated_at = ${NOW_MS},
         status = CASE WHEN status = 'waiting' THEN 'pending' ELSE status END WHERE id = ANY($1)`,
      [wake],
    );
    runnable = true;
  }
  if (runnable) await c.query(`SELECT pg_notify('${CHANNEL}', 'runnable')`);
  return outcomes;
}
