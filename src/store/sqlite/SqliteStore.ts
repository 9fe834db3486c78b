import type Database from "better-sqlite3";
import type { Json } from "../../core/json.js";
import type { DeadLetter, DeadLetterFilter } from "../../deadletter/types.js";
import { GroupCommitter } from "../groupCommit.js";
import { StateWriteBatcher } from "../stateBatcher.js";
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
import type { Announce } from "./announce.js";
import * as budgetLedger from "./budgetLedger.js";
import { counts } from "./counts.js";
import { applyBatch } from "./commit.js";
import * as deadLetters from "./deadLetters.js";
import { openDatabase } from "./database.js";
import * as dependencyStates from "./dependencyStates.js";
import * as effects from "./effects.js";
import * as journal from "./journal.js";
import * as runs from "./runs.js";
import * as signals from "./signals.js";
import * as state from "./state.js";
import * as workers from "./workers.js";

/** How often a store looks for commits made by other processes. */
const OTHERS_MS = 20;

/**
 * The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so
 * a commit is on disk when it returns. Concurrent commits are grouped into one
 * transaction (one fsync) by the GroupCommitter.
 */
export class SqliteStore extends StoreNotifier implements Store {
  readonly kind = "sqlite" as const;
  private readonly db: Database.Database;
  private readonly committer: GroupCommitter;
  private readonly stateWrites = new StateWriteBatcher(async (batch) => {
    await Promise.resolve();
    return state.writeBatch(this.db, batch, this.announce);
  });
  /** Workers registered through this handle and not unregistered yet. */
  private readonly workers = new Set<string>();
  private readonly announce: Announce = {
    runnable: () => this.emitRunnableSoon(),
    cancel: (runId) => this.emitCancel(runId),
    // Deferred: the execution that settled the run hands it to waiters first, with its result.
    settled: (runId) => setImmediate(() => this.emitSettled(runId)),
  };

  /** Looks for commits by other connections (other processes): SQLite has no NOTIFY. */
  private readonly others: NodeJS.Timeout;
  private dataVersion: unknown;
  /** Cancels of runs held here that other processes requested, already told to the worker. */
  private heardCancels = new Set<string>();

  private constructor(
    readonly location: string,
    db: Database.Database,
  ) {
    super();
    this.db = db;
    this.dataVersion = db.pragma("data_version", { simple: true });
    this.others = setInterval(() => this.hearOthers(), OTHERS_MS).unref();
    this.committer = new GroupCommitter(async (batch) => {
      await Promise.resolve();
      return applyBatch(this.db, batch, this.announce);
    });
  }

  static open(path: string, create = true): SqliteStore {
    return new SqliteStore(path, openDatabase(path, create));
  }

  async createRun(run: NewRun, claim?: CreateClaim): Promise<CreatedRun> {
    await Promise.resolve();
    return runs.create(this.db, run, this.announce, claim);
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    await Promise.resolve();
    return runs.get(this.db, id);
  }

  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    await Promise.resolve();
    return runs.list(this.db, filter);
  }

  async registerWorker(workerId: string): Promise<void> {
    await Promise.resolve();
    workers.register(this.db, this.location, workerId);
    this.workers.add(workerId);
  }

  async unregisterWorker(workerId: string): Promise<void> {
    await Promise.resolve();
    workers.unregister(this.db, workerId);
    this.workers.delete(workerId);
  }

  async announceWorker(
    workerId: string,
    agents: readonly AgentVersionInfo[],
    ttlMs: number,
  ): Promise<void> {
    await Promise.resolve();
    workers.announce(this.db, workerId, agents, ttlMs);
  }

  async liveWorkerAgents(): Promise<LiveWorkerAgent[]> {
    await Promise.resolve();
    return workers.liveAgents(this.db);
  }

  async runVersions(agents: readonly string[]): Promise<RunVersionCount[]> {
    await Promise.resolve();
    return workers.runVersions(this.db, agents);
  }

  async claimRuns(options: ClaimOptions): Promise<ClaimedRun[]> {
    await Promise.resolve();
    return this.db
      .transaction(() => {
        const claimed = workers.claim(this.db, options);
        // A claimed run executes nowhere else now: what it still holds, its last worker left behind.
        budgetLedger.releaseRuns(
          this.db,
          claimed.map((r) => r.id),
        );
        return claimed;
      })
      .immediate();
  }

  async renewLeases(
    workerId: string,
    leases: readonly { runId: string; leaseToken: string }[],
    leaseMs: number,
  ): Promise<LeaseRenewal> {
    await Promise.resolve();
    return this.db
      .transaction(() => {
        const renewal = workers.renewLeases(this.db, workerId, leases, leaseMs);
        const lost = new Set(renewal.lost);
        const held = leases.map((l) => l.runId).filter((id) => !lost.has(id));
        budgetLedger.extendRuns(this.db, held, Date.now());
        return renewal;
      })
      .immediate();
  }

  async releaseLeases(leases: readonly { runId: string; leaseToken: string }[]): Promise<void> {
    await Promise.resolve();
    if (workers.releaseLeases(this.db, leases) > 0) this.announce.runnable();
  }

  async nextWakeAt(): Promise<number | null> {
    await Promise.resolve();
    return workers.nextWakeAt(this.db);
  }

  commit(commit: Commit): Promise<void> {
    return this.committer.submit(commit);
  }

  async readJournal(runId: string): Promise<JournalEvent[]> {
    await Promise.resolve();
    return journal.read(this.db, runId);
  }

  async getBlobs(hashes: readonly Buffer[]): Promise<Map<string, Buffer>> {
    await Promise.resolve();
    return journal.getBlobs(this.db, hashes);
  }

  async claimEffectKey(e: EffectClaim): Promise<EffectRecord> {
    await Promise.resolve();
    return effects.claimKey(this.db, e);
  }

  async getEffect(tool: string, key: string): Promise<EffectRecord | undefined> {
    await Promise.resolve();
    return effects.get(this.db, tool, key);
  }

  async sendSignal(runId: string, name: string, payload: Json): Promise<void> {
    await Promise.resolve();
    signals.send(this.db, runId, name, payload, this.announce);
  }

  async readSignals(runId: string): Promise<Signal[]> {
    await Promise.resolve();
    return signals.read(this.db, runId);
  }

  async requestCancel(runId: string, reason: string): Promise<RunRecord> {
    await Promise.resolve();
    return runs.requestCancel(this.db, runId, reason, this.announce);
  }

  async publishDependencyStates(
    workerId: string,
    states: readonly { dependency: string; state: Json }[],
  ): Promise<void> {
    await Promise.resolve();
    dependencyStates.publish(this.db, workerId, states);
  }

  async readDependencyStates(
    excludeWorkerId: string,
    maxAgeMs: number,
  ): Promise<{ dependency: string; workerId: string; state: Json }[]> {
    await Promise.resolve();
    return dependencyStates.read(this.db, excludeWorkerId, maxAgeMs);
  }

  async listDeadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    await Promise.resolve();
    return deadLetters.list(this.db, filter);
  }

  async getDeadLetter(id: string): Promise<DeadLetter | undefined> {
    await Promise.resolve();
    return deadLetters.get(this.db, id);
  }

  async reserveBudget(reservation: BudgetReservation): Promise<BudgetDenial | null> {
    await Promise.resolve();
    return budgetLedger.reserve(this.db, reservation);
  }

  async settleBudget(
    reservationId: string,
    scopes: readonly string[],
    spent: BudgetAmount,
  ): Promise<void> {
    await Promise.resolve();
    budgetLedger.settle(this.db, reservationId, scopes, spent);
  }

  async readBudget(scope: string): Promise<BudgetUsage> {
    await Promise.resolve();
    return budgetLedger.read(this.db, scope);
  }

  async storedBytes(): Promise<{ events: number; blobs: number }> {
    await Promise.resolve();
    return journal.storedBytes(this.db);
  }

  async counts(): Promise<StoreCounts> {
    await Promise.resolve();
    return counts(this.db);
  }

  async declareStateRegion(region: StateRegionRecord): Promise<StateRegionRecord> {
    await Promise.resolve();
    return state.declareRegion(this.db, region);
  }

  writeState(at: StateKey, write: StateWrite, by: StateWriter): Promise<StateWriteOutcome> {
    return this.stateWrites.submit({ at, write, by });
  }

  async readState(at: StateKey, options?: { verified?: boolean }): Promise<StateValue | undefined> {
    await Promise.resolve();
    return state.read(this.db, at, options);
  }

  async stateHistory(
    at: StateKey,
    options?: { afterVersion?: number; limit?: number },
  ): Promise<StateHistoryEntry[]> {
    await Promise.resolve();
    return state.history(this.db, at, options);
  }

  async watchState(
    at: StateKey,
    watcher: { runId: string; step: string },
    afterVersion: number,
  ): Promise<StateValue | undefined> {
    await Promise.resolve();
    return state.watch(this.db, at, watcher, afterVersion);
  }

  async putClaimItems(
    region: string,
    items: readonly ClaimItemInput[],
    by: StateWriter,
  ): Promise<{ added: number }> {
    await Promise.resolve();
    return state.putItems(this.db, region, items, by);
  }

  async takeClaimItem(
    region: string,
    leaseMs: number,
    by: RunStateWriter,
  ): Promise<ClaimedItem | null> {
    await Promise.resolve();
    return state.take(this.db, region, leaseMs, by);
  }

  async settleClaimItem(
    region: string,
    item: string,
    settle: ClaimSettle,
    by: StateWriter,
  ): Promise<ClaimSettled> {
    await Promise.resolve();
    return state.settle(this.db, region, item, settle, by);
  }

  async listClaimItems(region: string): Promise<ClaimItemRecord[]> {
    await Promise.resolve();
    return state.listItems(this.db, region);
  }

  /**
   * `data_version` changes when another connection commits, never for this
   * one's commits: then runs may have become claimable or settled, and
   * workers and waiters look again (at once, instead of at their next poll),
   * and a cancel another process requested for a run this process executes
   * reaches it now, not at the next lease renewal.
   */
  private hearOthers(): void {
    let version: unknown;
    let cancelled: string[];
    try {
      version = this.db.pragma("data_version", { simple: true });
      if (version === this.dataVersion) return;
      cancelled = [...this.workers].flatMap((w) => runs.cancelRequested(this.db, w));
    } catch {
      return; // closed, or busy: the next look will tell
    }
    this.dataVersion = version;
    this.emitRunnable();
    this.emitSettled(undefined);
    for (const id of cancelled) if (!this.heardCancels.has(id)) this.emitCancel(id);
    this.heardCancels = new Set(cancelled);
  }

  async close(): Promise<void> {
    clearInterval(this.others);
    await this.stateWrites.drain();
    await this.committer.drain();
    for (const id of this.workers) workers.forget(this.db, id);
    this.db.close();
  }

  /** Listeners run after the current transaction, never inside it. */
  private emitRunnableSoon(): void {
    setImmediate(() => this.emitRunnable());
  }
}
