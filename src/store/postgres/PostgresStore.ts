import pg from "pg";
import { StoreUnavailableError } from "../../core/errors.js";
import type { Json } from "../../core/json.js";
import type { DeadLetter, DeadLetterFilter } from "../../deadletter/types.js";
import { GroupCommitter } from "../groupCommit.js";
import { StateWriteBatcher } from "../stateBatcher.js";
import { checkMigrated, loadMigrations } from "../migrations.js";
import { StoreNotifier } from "../notifier.js";
import type {
  AgentVersionInfo,
  BudgetAmount,
  BudgetDenial,
  BudgetReservation,
  BudgetUsage,
  ClaimOptions,
  ClaimedRun,
  Commit,
  CreateClaim,
  CreatedRun,
  EffectClaim,
  EffectRecord,
  JournalEvent,
  LeaseRenewal,
  LiveWorkerAgent,
  NewRun,
  RunFilter,
  RunRecord,
  RunVersionCount,
  Signal,
  Store,
  StoreCounts,
} from "../types.js";
import type {
  ClaimedItem,
  ClaimItemInput,
  ClaimItemRecord,
  ClaimSettle,
  ClaimSettled,
  RunStateWriter,
  StateHistoryEntry,
  StateKey,
  StateRegionRecord,
  StateValue,
  StateWrite,
  StateWriteOutcome,
  StateWriter,
} from "../stateTypes.js";
import * as budgetLedger from "./budgetLedger.js";
import { applyBatch } from "./commit.js";
import { counts } from "./counts.js";
import * as deadLetters from "./deadLetters.js";
import * as dependencyStates from "./dependencyStates.js";
import * as effects from "./effects.js";
import * as journal from "./journal.js";
import { NotificationListener } from "./listener.js";
import { notifyRunnable } from "./notify.js";
import * as runs from "./runs.js";
import * as signals from "./signals.js";
import * as state from "./state.js";
import * as stateBatch from "./stateBatch.js";
import * as claims from "./stateClaims.js";
import { NOW_MS } from "./sql.js";
import * as workers from "./workers.js";

/** Serialises migrations when many workers start at once. */
const MIGRATION_LOCK = 7_260_111_001;

/**
 * The shared store: any number of workers on any number of machines. Claims
 * use `FOR UPDATE SKIP LOCKED`, leases are fenced by token, and `LISTEN/NOTIFY`
 * wakes idle workers. Concurrent commits share one transaction.
 */
export class PostgresStore extends StoreNotifier implements Store {
  readonly kind = "postgres" as const;
  private readonly committer: GroupCommitter;
  private readonly stateWrites: StateWriteBatcher;
  private listener: NotificationListener | undefined;

  private constructor(
    readonly location: string,
    private readonly pool: pg.Pool,
  ) {
    super();
    this.committer = new GroupCommitter((batch) => applyBatch(pool, batch));
    this.stateWrites = new StateWriteBatcher((batch) => stateBatch.writeBatch(pool, batch));
  }

  static async open(
    url: string,
    options: { listen?: boolean; poolSize?: number; create?: boolean } = {},
  ): Promise<PostgresStore> {
    // Pipeline mode: statements sent together cost one round trip (see pipeline.ts).
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      keepAlive: true,
      pipeline: true,
    });
    // A connection the server drops emits 'error' on its client: on an idle
    // client the pool discards it, on a checked-out one the query in flight
    // rejects (and the client is released as broken). Unlistened, the event
    // would end the process.
    pool.on("error", () => undefined);
    pool.on("connect", (client) => client.on("error", () => undefined));
    const store = new PostgresStore(url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@"), pool);
    try {
      if (options.create === false) checkMigrated("postgres", await store.applied());
      else await store.migrate();
      if (options.listen !== false) await store.listen(url);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new StoreUnavailableError(url, err);
    }
    return store;
  }

  /** Migration versions applied, or undefined when the database holds no store. */
  private async applied(): Promise<Set<number> | undefined> {
    const { rows } = await this.pool.query<{ exists: string | null }>(
      "SELECT to_regclass('flotilla_migrations')::text AS exists",
    );
    if (!rows[0]?.exists) return undefined;
    const versions = await this.pool.query<{ version: number }>(
      "SELECT version FROM flotilla_migrations",
    );
    return new Set(versions.rows.map((r) => r.version));
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
          // The migration's own error is the one to report, not a failed rollback's.
          await client.query("ROLLBACK").catch(() => undefined);
          throw err;
        }
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
      client.release();
    }
  }

  private async listen(url: string): Promise<void> {
    this.listener = await NotificationListener.start(url, {
      runnable: () => this.emitRunnable(),
      reconnected: () => void this.resync(),
      cancel: (runId) => this.emitCancel(runId),
      settled: (runId) => this.emitSettled(runId),
    });
  }

  /**
   * Says again what lost notifications would have said: work may be
   * runnable, runs may have settled, and leased runs may have been asked to
   * cancel (their workers stop them now, not at their next lease renewal).
   */
  private async resync(): Promise<void> {
    this.emitRunnable();
    this.emitSettled(undefined);
    const cancelled = await runs.cancelRequestedLeased(this.pool).catch(() => []);
    for (const id of cancelled) this.emitCancel(id);
  }

  createRun(run: NewRun, claim?: CreateClaim): Promise<CreatedRun> {
    return runs.create(this.pool, run, claim);
  }

  getRun(id: string): Promise<RunRecord | undefined> {
    return runs.get(this.pool, id);
  }

  listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    return runs.list(this.pool, filter);
  }

  /** Workers on PostgreSQL coordinate through leases alone; their presence is announced (announceWorker). */
  async registerWorker(): Promise<void> {}

  unregisterWorker(workerId: string): Promise<void> {
    return workers.forget(this.pool, workerId);
  }

  announceWorker(
    workerId: string,
    agents: readonly AgentVersionInfo[],
    ttlMs: number,
  ): Promise<void> {
    return workers.announce(this.pool, workerId, agents, ttlMs);
  }

  liveWorkerAgents(): Promise<LiveWorkerAgent[]> {
    return workers.liveAgents(this.pool);
  }

  runVersions(agents: readonly string[]): Promise<RunVersionCount[]> {
    return workers.runVersions(this.pool, agents);
  }

  async claimRuns(options: ClaimOptions): Promise<ClaimedRun[]> {
    const { runs: claimed, holdsBudget } = await workers.claim(this.pool, options);
    // A claimed run executes nowhere else now: what it still holds, its last worker left behind.
    if (holdsBudget.length > 0) await budgetLedger.releaseRuns(this.pool, holdsBudget);
    return claimed;
  }

  async renewLeases(
    _workerId: string,
    leases: readonly { runId: string; leaseToken: string }[],
    leaseMs: number,
  ): Promise<LeaseRenewal> {
    const renewal = await workers.renewLeases(this.pool, leases, leaseMs);
    const lost = new Set(renewal.lost);
    const held = leases.map((l) => l.runId).filter((id) => !lost.has(id));
    if (held.length > 0) await budgetLedger.extendRuns(this.pool, held);
    return renewal;
  }

  async releaseLeases(leases: readonly { runId: string; leaseToken: string }[]): Promise<void> {
    if (leases.length === 0) return;
    if ((await workers.releaseLeases(this.pool, leases)) > 0) await notifyRunnable(this.pool);
  }

  nextWakeAt(): Promise<number | null> {
    return workers.nextWakeAt(this.pool);
  }

  commit(commit: Commit): Promise<void> {
    return this.committer.submit(commit);
  }

  readJournal(runId: string): Promise<JournalEvent[]> {
    return journal.read(this.pool, runId);
  }

  getBlobs(hashes: readonly Buffer[]): Promise<Map<string, Buffer>> {
    return journal.getBlobs(this.pool, hashes);
  }

  claimEffectKey(e: EffectClaim): Promise<EffectRecord> {
    return effects.claimKey(this.pool, e);
  }

  getEffect(tool: string, key: string): Promise<EffectRecord | undefined> {
    return effects.get(this.pool, tool, key);
  }

  sendSignal(runId: string, name: string, payload: Json): Promise<void> {
    return signals.send(this.pool, runId, name, payload);
  }

  readSignals(runId: string): Promise<Signal[]> {
    return signals.read(this.pool, runId);
  }

  requestCancel(runId: string, reason: string): Promise<RunRecord> {
    return runs.requestCancel(this.pool, runId, reason);
  }

  publishDependencyStates(
    workerId: string,
    states: readonly { dependency: string; state: Json }[],
  ): Promise<void> {
    return dependencyStates.publish(this.pool, workerId, states);
  }

  readDependencyStates(
    excludeWorkerId: string,
    maxAgeMs: number,
  ): Promise<{ dependency: string; workerId: string; state: Json }[]> {
    return dependencyStates.read(this.pool, excludeWorkerId, maxAgeMs);
  }

  storedBytes(): Promise<{ events: number; blobs: number }> {
    return journal.storedBytes(this.pool);
  }

  counts(): Promise<StoreCounts> {
    return counts(this.pool);
  }

  listDeadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return deadLetters.list(this.pool, filter);
  }

  getDeadLetter(id: string): Promise<DeadLetter | undefined> {
    return deadLetters.get(this.pool, id);
  }

  reserveBudget(reservation: BudgetReservation): Promise<BudgetDenial | null> {
    return budgetLedger.reserve(this.pool, reservation);
  }

  settleBudget(
    reservationId: string,
    scopes: readonly string[],
    spent: BudgetAmount,
  ): Promise<void> {
    return budgetLedger.settle(this.pool, reservationId, scopes, spent);
  }

  readBudget(scope: string): Promise<BudgetUsage> {
    return budgetLedger.read(this.pool, scope);
  }

  declareStateRegion(region: StateRegionRecord): Promise<StateRegionRecord> {
    return state.declareRegion(this.pool, region);
  }

  writeState(at: StateKey, write: StateWrite, by: StateWriter): Promise<StateWriteOutcome> {
    return this.stateWrites.submit({ at, write, by });
  }

  readState(at: StateKey, options?: { verified?: boolean }): Promise<StateValue | undefined> {
    return state.read(this.pool, at, options);
  }

  stateHistory(
    at: StateKey,
    options?: { afterVersion?: number; limit?: number },
  ): Promise<StateHistoryEntry[]> {
    return state.history(this.pool, at, options);
  }

  watchState(
    at: StateKey,
    watcher: { runId: string; step: string },
    afterVersion: number,
  ): Promise<StateValue | undefined> {
    return state.watch(this.pool, at, watcher, afterVersion);
  }

  putClaimItems(
    region: string,
    items: readonly ClaimItemInput[],
    by: StateWriter,
  ): Promise<{ added: number }> {
    return claims.putItems(this.pool, region, items, by);
  }

  takeClaimItem(region: string, leaseMs: number, by: RunStateWriter): Promise<ClaimedItem | null> {
    return claims.take(this.pool, region, leaseMs, by);
  }

  settleClaimItem(
    region: string,
    item: string,
    settle: ClaimSettle,
    by: StateWriter,
  ): Promise<ClaimSettled> {
    return claims.settle(this.pool, region, item, settle, by);
  }

  listClaimItems(region: string): Promise<ClaimItemRecord[]> {
    return claims.listItems(this.pool, region);
  }

  async close(): Promise<void> {
    await this.stateWrites.drain();
    await this.committer.drain();
    await this.listener?.close();
    await this.pool.end();
  }
}
