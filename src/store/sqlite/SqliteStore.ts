import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import {
  CancelledError,
  LeaseLostError,
  NotFoundError,
  StoreOwnedError,
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

/** A worker whose heartbeat is older than this is presumed dead even if its pid lives on. */
const OWNER_STALE_MS = 30_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so
 * a commit is on disk when it returns. Concurrent commits are grouped into one
 * transaction (one fsync) by the GroupCommitter.
 */
export class SqliteStore extends StoreNotifier implements Store {
  readonly kind = "sqlite" as const;
  private readonly db: Database.Database;
  private readonly committer: GroupCommitter;

  private constructor(
    readonly location: string,
    db: Database.Database,
  ) {
    super();
    this.db = db;
    this.committer = new GroupCommitter((batch) => this.applyBatch(batch));
  }

  static open(path: string): SqliteStore {
    let db: Database.Database;
    try {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("busy_timeout = 10000");
      db.pragma("foreign_keys = ON");
      SqliteStore.migrate(db);
    } catch (err) {
      throw new StoreUnavailableError(path, err);
    }
    return new SqliteStore(path, db);
  }

  private static migrate(db: Database.Database): void {
    db.exec(
      "CREATE TABLE IF NOT EXISTS flotilla_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    );
    const applied = new Set(
      (db.prepare("SELECT version FROM flotilla_migrations").all() as { version: number }[]).map(
        (r) => r.version,
      ),
    );
    for (const m of loadMigrations("sqlite")) {
      if (applied.has(m.version)) continue;
      db.transaction(() => {
        db.exec(m.sql);
        db.prepare("INSERT INTO flotilla_migrations (version, applied_at) VALUES (?, ?)").run(
          m.version,
          Date.now(),
        );
      }).immediate();
    }
  }

  async createRun(run: NewRun): Promise<{ run: RunRecord; created: boolean }> {
    await Promise.resolve();
    return this.db
      .transaction(() => {
        if (run.idempotencyKey) {
          const existing = this.db
            .prepare("SELECT * FROM runs WHERE idempotency_key = ?")
            .get(run.idempotencyKey) as Row | undefined;
          if (existing) return { run: rowToRun(existing, "sqlite"), created: false };
        }
        const created = this.insertRun(run, Date.now());
        const row = this.db.prepare("SELECT * FROM runs WHERE id = ?").get(run.id) as Row;
        if (created) this.emitRunnableSoon();
        return { run: rowToRun(row, "sqlite"), created };
      })
      .immediate();
  }

  private insertRun(run: NewRun, now: number): boolean {
    const info = this.db
      .prepare(
        `INSERT INTO runs (id, agent, status, parent_id, idempotency_key, tenant, input, created_at, updated_at)
         VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
      .run(
        run.id,
        run.agent,
        run.parentId ?? null,
        run.idempotencyKey ?? null,
        run.tenant ?? null,
        JSON.stringify(run.input),
        now,
        now,
      );
    if (info.changes === 0) return false;
    this.db
      .prepare(
        "INSERT INTO events (run_id, type, step, data, at) VALUES (?, 'run.created', NULL, ?, ?)",
      )
      .run(
        run.id,
        JSON.stringify({
          ...run.created,
          agent: run.agent,
          parentId: run.parentId ?? null,
          deadline: run.deadline ?? null,
        }),
        now,
      );
    return true;
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    await Promise.resolve();
    const row = this.db.prepare("SELECT * FROM runs WHERE id = ?").get(id) as Row | undefined;
    return row ? rowToRun(row, "sqlite") : undefined;
  }

  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    await Promise.resolve();
    const rows = this.db
      .prepare(
        `SELECT * FROM runs WHERE (@status IS NULL OR status = @status)
           AND (@agent IS NULL OR agent = @agent) AND (@parent IS NULL OR parent_id = @parent)
         ORDER BY created_at DESC, id DESC LIMIT @limit`,
      )
      .all({
        status: filter.status ?? null,
        agent: filter.agent ?? null,
        parent: filter.parentId ?? null,
        limit: filter.limit ?? 100,
      }) as Row[];
    return rows.map((r) => rowToRun(r, "sqlite"));
  }

  async registerWorker(workerId: string): Promise<void> {
    await Promise.resolve();
    this.db
      .transaction(() => {
        const owner = this.db.prepare("SELECT * FROM worker_owner WHERE id = 1").get() as
          { worker_id: string; pid: number; heartbeat_at: number } | undefined;
        const now = Date.now();
        if (
          owner &&
          owner.worker_id !== workerId &&
          owner.pid !== process.pid &&
          pidAlive(owner.pid) &&
          now - owner.heartbeat_at < OWNER_STALE_MS
        ) {
          throw new StoreOwnedError(this.location, owner.pid);
        }
        this.db
          .prepare(
            "INSERT OR REPLACE INTO worker_owner (id, worker_id, pid, heartbeat_at) VALUES (1, ?, ?, ?)",
          )
          .run(workerId, process.pid, now);
        // The previous owner is gone: nothing holds its leases any more.
        if (owner && owner.worker_id !== workerId) {
          this.db
            .prepare(
              "UPDATE runs SET lease_expires_at = 0 WHERE status = 'running' AND lease_owner = ?",
            )
            .run(owner.worker_id);
        }
      })
      .immediate();
  }

  async unregisterWorker(workerId: string): Promise<void> {
    await Promise.resolve();
    this.db.prepare("DELETE FROM worker_owner WHERE worker_id = ?").run(workerId);
  }

  async claimRuns(options: ClaimOptions): Promise<ClaimedRun[]> {
    await Promise.resolve();
    const now = Date.now();
    const token = newToken();
    const rows = this.db
      .prepare(
        `UPDATE runs SET status = 'running', lease_owner = @worker, lease_token = @token,
           lease_expires_at = @expires, wake_requested = 0, updated_at = @now
         WHERE id IN (
           SELECT id FROM runs
           WHERE agent IN (SELECT value FROM json_each(@agents))
             AND (status = 'pending' OR (status = 'waiting' AND wake_at <= @now)
                  OR (status = 'running' AND lease_expires_at < @now))
           ORDER BY created_at LIMIT @limit)
         RETURNING *`,
      )
      .all({
        worker: options.workerId,
        token,
        expires: now + options.leaseMs,
        now,
        agents: JSON.stringify(options.agents),
        limit: options.limit,
      }) as Row[];
    return rows.map((r) => ({ ...rowToRun(r, "sqlite"), leaseToken: token }));
  }

  async renewLeases(
    workerId: string,
    leases: readonly { runId: string; leaseToken: string }[],
    leaseMs: number,
  ): Promise<LeaseRenewal> {
    await Promise.resolve();
    const now = Date.now();
    return this.db
      .transaction(() => {
        this.db
          .prepare("UPDATE worker_owner SET heartbeat_at = ? WHERE worker_id = ?")
          .run(now, workerId);
        const renew = this.db.prepare(
          "UPDATE runs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? RETURNING cancel_requested",
        );
        const result: LeaseRenewal = { lost: [], cancelRequested: [] };
        for (const l of leases) {
          const row = renew.get(now + leaseMs, l.runId, l.leaseToken) as
            { cancel_requested: number } | undefined;
          if (!row) result.lost.push(l.runId);
          else if (row.cancel_requested) result.cancelRequested.push(l.runId);
        }
        return result;
      })
      .immediate();
  }

  async nextWakeAt(): Promise<number | null> {
    await Promise.resolve();
    const row = this.db
      .prepare(
        "SELECT min(wake_at) AS at FROM runs WHERE status = 'waiting' AND wake_at IS NOT NULL",
      )
      .get() as { at: number | null };
    return row.at;
  }

  commit(commit: Commit): Promise<void> {
    return this.committer.submit(commit);
  }

  /** One transaction for the whole batch; a savepoint per commit so one bad fence fails alone. */
  private async applyBatch(batch: Commit[]): Promise<(Error | undefined)[]> {
    await Promise.resolve();
    const outcomes: (Error | undefined)[] = [];
    let runnable = false;
    this.db
      .transaction(() => {
        const now = Date.now();
        for (const c of batch) {
          try {
            this.db.transaction(() => {
              runnable = this.applyCommit(c, now) || runnable;
            })();
            outcomes.push(undefined);
          } catch (err) {
            outcomes.push(err as Error);
          }
        }
      })
      .immediate();
    if (runnable) this.emitRunnableSoon();
    return outcomes;
  }

  private applyCommit(c: Commit, now: number): boolean {
    const run = this.db
      .prepare(
        "SELECT status, lease_token, lease_expires_at, cancel_requested FROM runs WHERE id = ?",
      )
      .get(c.runId) as
      | {
          status: string;
          lease_token: string | null;
          lease_expires_at: number | null;
          cancel_requested: number;
        }
      | undefined;
    if (!run) throw new NotFoundError("run", c.runId);
    if ("leaseToken" in c.fence) {
      if (run.lease_token !== c.fence.leaseToken) throw new LeaseLostError(c.runId);
      if (c.fence.requireNotCancelled && run.cancel_requested) throw new CancelledError(c.runId);
    } else {
      const leased = run.lease_token !== null && (run.lease_expires_at ?? 0) >= now;
      if (leased || !c.fence.unleasedIn.includes(run.status as never)) {
        throw new LeaseLostError(c.runId);
      }
    }
    const putBlob = this.db.prepare("INSERT OR IGNORE INTO blobs (hash, data) VALUES (?, ?)");
    for (const b of c.blobs ?? []) putBlob.run(b.hash, b.data);
    for (const r of c.newRuns ?? []) this.insertRun(r, now);
    const putEvent = this.db.prepare(
      "INSERT INTO events (run_id, type, step, data, at) VALUES (?, ?, ?, ?, ?)",
    );
    for (const e of c.events)
      putEvent.run(c.runId, e.type, e.step ?? null, JSON.stringify(e.data), now);
    for (const e of c.effects ?? []) this.upsertEffect(e, now);
    if (c.deadLetter) {
      const d = c.deadLetter;
      this.db
        .prepare(
          `INSERT INTO dead_letters (id, run_id, root_id, agent, tenant, class, status, error, context, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(
          d.id,
          d.runId,
          d.rootId,
          d.agent,
          d.tenant,
          d.class,
          toJsonText(d.error ?? undefined),
          JSON.stringify(d.context),
          now,
          now,
        );
    }
    if (c.deadLetterUpdate) {
      const u = c.deadLetterUpdate;
      this.db
        .prepare("UPDATE dead_letters SET status = ?, resolution = ?, updated_at = ? WHERE id = ?")
        .run(u.status, JSON.stringify(u.resolution), now, u.id);
    }
    let runnable = (c.newRuns?.length ?? 0) > 0;
    if (c.status) {
      const s = c.status;
      const res = this.db
        .prepare(
          `UPDATE runs SET status = CASE WHEN @status = 'waiting' AND wake_requested = 1 THEN 'pending' ELSE @status END,
             result = @result, error = @error, wake_at = @wakeAt, updated_at = @now WHERE id = @id RETURNING status`,
        )
        .get({
          status: s.status,
          result: toJsonText(s.result),
          error: toJsonText(s.error ?? undefined),
          wakeAt: s.wakeAt ?? null,
          now,
          id: c.runId,
        }) as { status: string };
      runnable ||= res.status === "pending" || res.status === "waiting";
    }
    if (c.release) {
      this.db
        .prepare(
          "UPDATE runs SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = ?",
        )
        .run(c.runId);
    }
    const wake = this.db.prepare(
      `UPDATE runs SET wake_requested = 1, updated_at = ?,
         status = CASE WHEN status = 'waiting' THEN 'pending' ELSE status END WHERE id = ?`,
    );
    for (const id of c.wake ?? []) wake.run(now, id);
    return runnable || (c.wake?.length ?? 0) > 0;
  }

  private upsertEffect(e: EffectUpdate, now: number): void {
    this.db
      .prepare(
        `INSERT INTO effects (key, run_id, step, tool, state, result, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, result = excluded.result, updated_at = excluded.updated_at
         WHERE effects.run_id = excluded.run_id AND effects.step = excluded.step`,
      )
      .run(e.key, e.runId, e.step, e.tool, e.state, toJsonText(e.result), now);
  }

  async readJournal(runId: string): Promise<JournalEvent[]> {
    await Promise.resolve();
    const rows = this.db
      .prepare("SELECT * FROM events WHERE run_id = ? ORDER BY id")
      .all(runId) as Row[];
    return rows.map((r) => rowToEvent(r, "sqlite"));
  }

  async getBlobs(hashes: readonly Buffer[]): Promise<Map<string, Buffer>> {
    await Promise.resolve();
    const get = this.db.prepare("SELECT data FROM blobs WHERE hash = ?");
    const out = new Map<string, Buffer>();
    for (const h of hashes) {
      const row = get.get(h) as { data: Buffer } | undefined;
      if (row) out.set(h.toString("hex"), row.data);
    }
    return out;
  }

  async claimEffectKey(e: Omit<EffectUpdate, "state" | "result">): Promise<EffectRecord> {
    await Promise.resolve();
    return this.db
      .transaction(() => {
        this.db
          .prepare(
            `INSERT INTO effects (key, run_id, step, tool, state, updated_at) VALUES (?, ?, ?, ?, 'intent', ?)
             ON CONFLICT DO NOTHING`,
          )
          .run(e.key, e.runId, e.step, e.tool, Date.now());
        return rowToEffect(
          this.db.prepare("SELECT * FROM effects WHERE key = ?").get(e.key) as Row,
          "sqlite",
        );
      })
      .immediate();
  }

  async getEffect(key: string): Promise<EffectRecord | undefined> {
    await Promise.resolve();
    const row = this.db.prepare("SELECT * FROM effects WHERE key = ?").get(key) as Row | undefined;
    return row ? rowToEffect(row, "sqlite") : undefined;
  }

  async sendSignal(runId: string, name: string, payload: Json): Promise<void> {
    await Promise.resolve();
    this.db
      .transaction(() => {
        const now = Date.now();
        const exists = this.db.prepare("SELECT 1 FROM runs WHERE id = ?").get(runId);
        if (!exists) throw new NotFoundError("run", runId);
        this.db
          .prepare("INSERT INTO signals (run_id, name, payload, at) VALUES (?, ?, ?, ?)")
          .run(runId, name, JSON.stringify(payload), now);
        this.db
          .prepare(
            `UPDATE runs SET wake_requested = 1, updated_at = ?,
               status = CASE WHEN status = 'waiting' THEN 'pending' ELSE status END WHERE id = ?`,
          )
          .run(now, runId);
      })
      .immediate();
    this.emitRunnableSoon();
  }

  async readSignals(runId: string): Promise<Signal[]> {
    await Promise.resolve();
    const rows = this.db
      .prepare("SELECT * FROM signals WHERE run_id = ? ORDER BY id")
      .all(runId) as Row[];
    return rows.map((r) => ({
      id: Number(r.id),
      runId: r.run_id as string,
      name: r.name as string,
      payload: JSON.parse(r.payload as string) as Json,
      at: Number(r.at),
    }));
  }

  async requestCancel(runId: string, reason: string): Promise<RunRecord> {
    await Promise.resolve();
    const run = this.db
      .transaction(() => {
        const row = this.db.prepare("SELECT * FROM runs WHERE id = ?").get(runId) as
          Row | undefined;
        if (!row) throw new NotFoundError("run", runId);
        const current = rowToRun(row, "sqlite");
        if (current.cancelRequested || isTerminal(current.status)) {
          return current;
        }
        const now = Date.now();
        this.db
          .prepare("UPDATE runs SET cancel_requested = 1, updated_at = ? WHERE id = ?")
          .run(now, runId);
        this.db
          .prepare(
            "INSERT INTO events (run_id, type, step, data, at) VALUES (?, 'run.cancel-requested', NULL, ?, ?)",
          )
          .run(runId, JSON.stringify({ reason }), now);
        return { ...current, cancelRequested: true };
      })
      .immediate();
    this.emitCancel(runId);
    return run;
  }

  async publishDependencyStates(
    workerId: string,
    states: readonly { dependency: string; state: Json }[],
  ): Promise<void> {
    await Promise.resolve();
    const put = this.db.prepare(
      "INSERT OR REPLACE INTO dependency_state (dependency, worker_id, state, updated_at) VALUES (?, ?, ?, ?)",
    );
    const now = Date.now();
    this.db.transaction(() => {
      for (const s of states) put.run(s.dependency, workerId, JSON.stringify(s.state), now);
    })();
  }

  async readDependencyStates(
    excludeWorkerId: string,
    maxAgeMs: number,
  ): Promise<{ dependency: string; workerId: string; state: Json }[]> {
    await Promise.resolve();
    const rows = this.db
      .prepare("SELECT * FROM dependency_state WHERE worker_id != ? AND updated_at >= ?")
      .all(excludeWorkerId, Date.now() - maxAgeMs) as Row[];
    return rows.map((r) => ({
      dependency: r.dependency as string,
      workerId: r.worker_id as string,
      state: JSON.parse(r.state as string) as Json,
    }));
  }

  async listDeadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    await Promise.resolve();
    const rows = this.db
      .prepare(
        `SELECT * FROM dead_letters WHERE (@class IS NULL OR class = @class)
           AND (@status IS NULL OR status = @status) AND (@run IS NULL OR run_id = @run)
         ORDER BY created_at DESC, id DESC LIMIT @limit`,
      )
      .all({
        class: filter.class ?? null,
        status: filter.status ?? null,
        run: filter.runId ?? null,
        limit: filter.limit ?? 100,
      }) as Row[];
    return rows.map((r) => rowToDeadLetter(r, "sqlite"));
  }

  async getDeadLetter(id: string): Promise<DeadLetter | undefined> {
    await Promise.resolve();
    const row = this.db.prepare("SELECT * FROM dead_letters WHERE id = ?").get(id) as
      Row | undefined;
    return row ? rowToDeadLetter(row, "sqlite") : undefined;
  }

  async reserveBudget(
    scopes: readonly BudgetScope[],
    amount: BudgetAmount,
  ): Promise<BudgetDenial | null> {
    await Promise.resolve();
    return this.db
      .transaction(() => {
        const read = this.db.prepare("SELECT * FROM budget_ledger WHERE scope = ?");
        for (const s of scopes) {
          const denial = overdrawn(s, rowToBudget(read.get(s.scope) as Row | undefined), amount);
          if (denial) return denial;
        }
        const reserve = this.db.prepare(
          `INSERT INTO budget_ledger (scope, reserved_usd, reserved_tokens) VALUES (?, ?, ?)
           ON CONFLICT (scope) DO UPDATE SET reserved_usd = reserved_usd + excluded.reserved_usd,
             reserved_tokens = reserved_tokens + excluded.reserved_tokens`,
        );
        for (const s of scopes) reserve.run(s.scope, amount.usd, amount.tokens);
        return null;
      })
      .immediate();
  }

  async settleBudget(
    scopes: readonly string[],
    reserved: BudgetAmount,
    spent: BudgetAmount,
  ): Promise<void> {
    await Promise.resolve();
    const settle = this.db.prepare(
      `INSERT INTO budget_ledger (scope, spent_usd, spent_tokens) VALUES (@scope, @usd, @tokens)
       ON CONFLICT (scope) DO UPDATE SET spent_usd = spent_usd + @usd, spent_tokens = spent_tokens + @tokens,
         reserved_usd = max(0, reserved_usd - @rusd), reserved_tokens = max(0, reserved_tokens - @rtokens)`,
    );
    this.db.transaction(() => {
      for (const scope of scopes)
        settle.run({
          scope,
          usd: spent.usd,
          tokens: spent.tokens,
          rusd: reserved.usd,
          rtokens: reserved.tokens,
        });
    })();
  }

  async readBudget(scope: string): Promise<BudgetUsage> {
    await Promise.resolve();
    return rowToBudget(
      this.db.prepare("SELECT * FROM budget_ledger WHERE scope = ?").get(scope) as Row | undefined,
    );
  }

  async storedBytes(): Promise<{ events: number; blobs: number }> {
    await Promise.resolve();
    const ev = this.db
      .prepare(
        "SELECT coalesce(sum(length(data) + length(type) + coalesce(length(step), 0) + length(run_id) + 16), 0) AS n FROM events",
      )
      .get() as { n: number };
    const bl = this.db
      .prepare("SELECT coalesce(sum(length(hash) + length(data)), 0) AS n FROM blobs")
      .get() as { n: number };
    return { events: ev.n, blobs: bl.n };
  }

  async close(): Promise<void> {
    await this.committer.drain();
    this.db.close();
  }

  /** Listeners run after the current transaction, never inside it. */
  private emitRunnableSoon(): void {
    setImmediate(() => this.emitRunnable());
  }
}
