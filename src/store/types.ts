import type { Json } from "../core/json.js";
import type { SerializedError } from "../core/errors.js";
import type {
  DeadLetter,
  DeadLetterFilter,
  DeadLetterUpdate,
  NewDeadLetter,
} from "../deadletter/types.js";
import type { StateStore } from "./stateTypes.js";
import type { BudgetAmount, BudgetDenial, BudgetReservation, BudgetUsage } from "./budgetTypes.js";
import type {
  AgentVersionInfo,
  ClaimOptions,
  LiveWorkerAgent,
  RunVersionCount,
} from "./workerTypes.js";

export type * from "./budgetTypes.js";
export type * from "./workerTypes.js";

export type RunStatus =
  | "pending"
  | "running"
  | "waiting"
  | "completed"
  | "failed"
  | "parked"
  | "cancelled"
  | "dead-lettered";

/** A dead-lettered run is terminal until an operator redrives it. */
export const TERMINAL_STATUSES: readonly RunStatus[] = [
  "completed",
  "failed",
  "cancelled",
  "dead-lettered",
];
export const RUN_STATUSES: readonly RunStatus[] = [
  "pending",
  "running",
  "waiting",
  "completed",
  "failed",
  "parked",
  "cancelled",
  "dead-lettered",
];

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Whether a caller waiting for the run's result stops waiting: it ended, or parked for a human. */
export function settles(status: RunStatus): boolean {
  return status === "parked" || isTerminal(status);
}

/** The run projection: derived from the journal, kept in the same transaction. */
export interface RunRecord {
  id: string;
  agent: string;
  status: RunStatus;
  parentId: string | null;
  idempotencyKey: string | null;
  tenant: string | null;
  input: Json;
  result: Json | undefined;
  error: SerializedError | null;
  createdAt: number;
  updatedAt: number;
  wakeAt: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  cancelRequested: boolean;
  /**
   * The version of the agent (see `Agent.version`) of the worker that last
   * claimed the run; only a worker accepting it claims the run again. Null:
   * never executed since versions are recorded (any worker may claim it).
   */
  agentVersion: string | null;
}

export interface NewRun {
  id: string;
  agent: string;
  input: Json;
  parentId?: string | null;
  idempotencyKey?: string | null;
  tenant?: string | null;
  /** Absolute deadline (ms since epoch), journaled with the run's creation. */
  deadline?: number | null;
  /** More facts journaled with the run's creation (its budget, its root, its lineage). */
  created?: Record<string, Json>;
}

export interface ClaimedRun extends RunRecord {
  leaseToken: string;
  /** Its journal, `run.resumed` included, when the claim asked for it (`withJournals`). */
  journal?: JournalEvent[];
}

/** Who takes a run as it is created: a worker in the creating process with a free slot. */
export interface CreateClaim {
  workerId: string;
  leaseMs: number;
  /** The claiming worker's version of the run's agent, recorded on the run. */
  agentVersion?: string | undefined;
}

export interface CreatedRun {
  run: RunRecord;
  /** False when a run with the same idempotency key existed (`run` is that run). */
  created: boolean;
  /** With a claim and a new run: the run as leased to the claimer, and its journal. */
  claimed?: { run: ClaimedRun; journal: JournalEvent[] };
}

export interface JournalEvent {
  /** Store-wide, monotonically increasing: orders events within a run. */
  id: number;
  runId: string;
  type: string;
  step: string | null;
  data: Json;
  at: number;
}

export interface NewEvent {
  type: string;
  step?: string | null;
  data: Json;
}

export interface Blob {
  hash: Buffer;
  data: Buffer;
}

export type EffectState = "intent" | "committed" | "failed" | "unknown";

/** One unit of work of one tool: keys are scoped by tool. */
export interface EffectRecord {
  key: string;
  runId: string;
  step: string;
  tool: string;
  state: EffectState;
  result: Json | undefined;
  /** Fingerprint of the arguments the holder was called with (null for rows older than it). */
  argsHash: string | null;
}

/** A claim on a tool's effect key by one (run, step). */
export interface EffectClaim {
  key: string;
  runId: string;
  step: string;
  tool: string;
  argsHash: string;
}

export interface EffectUpdate {
  key: string;
  runId: string;
  step: string;
  tool: string;
  state: EffectState;
  result?: Json;
}

export interface StatusChange {
  status: RunStatus;
  result?: Json;
  error?: SerializedError | null;
  wakeAt?: number | null;
}

/**
 * Who may write. A worker writes under the lease token it claimed the run
 * with; an operator (cancel, resolve) writes only while no worker holds the run.
 */
export type Fence =
  { leaseToken: string; requireNotCancelled?: boolean } | { unleasedIn: readonly RunStatus[] };

/** One atomic, fenced write to a run's journal and its projections. */
export interface Commit {
  runId: string;
  fence: Fence;
  events: NewEvent[];
  blobs?: Blob[];
  effects?: EffectUpdate[];
  newRuns?: NewRun[];
  /**
   * A status of "waiting" becomes "pending" when a wake-up (signal, child
   * finished) arrived since the claim, so no wake-up is lost.
   */
  status?: StatusChange;
  /** Release the lease with this commit (run suspended, finished or parked). */
  release?: boolean;
  /** Runs to wake (e.g. the parent of a run that just finished). */
  wake?: string[];
  /** Puts an entry on the dead-letter queue in the same transaction as the run's end. */
  deadLetter?: NewDeadLetter;
  /** Closes (or reopens) a dead-letter entry with the action that did it. */
  deadLetterUpdate?: DeadLetterUpdate;
  /**
   * Visible and ordered like any commit, but not flushed to disk by itself:
   * the next flushed commit makes it durable too (SQLite's and PostgreSQL's
   * write-ahead logs are written in order). A process crash loses nothing; a
   * power loss or a database crash may lose it. Only for a write whose loss
   * costs nothing but a repeat of safe work: an idempotent effect's intent,
   * whose call recovery repeats with the same key. A batch is flushed unless
   * every commit in it defers.
   */
  deferFlush?: boolean;
}

/** Whether a batch of commits may skip its own flush: only if every one of them allows it. */
export function defersFlush(batch: readonly Commit[]): boolean {
  return batch.length > 0 && batch.every((c) => c.deferFlush === true);
}

export interface Signal {
  id: number;
  runId: string;
  name: string;
  payload: Json;
  at: number;
}

/** How many runs are in each status, and dead letters in each class and status, store-wide. */
export interface StoreCounts {
  runs: { status: RunStatus; count: number }[];
  deadLetters: { class: string; status: string; count: number }[];
}

export interface RunFilter {
  status?: RunStatus;
  agent?: string;
  parentId?: string;
  limit?: number;
}

export interface LeaseRenewal {
  /** Runs whose lease this worker no longer holds. */
  lost: string[];
  /** Runs someone asked to cancel. */
  cancelRequested: string[];
}

export interface StoreEvents {
  /** Called when runs may have become claimable (new run, wake-up, lease released). */
  onRunnable(listener: () => void): () => void;
  /** Called with a run id when someone asks to cancel it. */
  onCancel(listener: (runId: string) => void): () => void;
  /**
   * Called with a run id when it settled (ended, or parked) in any process
   * that shares the store, or with undefined when runs may have settled but
   * the store cannot say which (SQLite, written by another process).
   */
  onSettled(listener: (runId: string | undefined) => void): () => void;
}

/**
 * Everything Flotilla persists goes through this interface. Adapters keep it
 * thin: SQL lives in migrations and small query modules; the same conformance
 * suite runs against every adapter.
 */
export interface Store extends StoreEvents, StateStore {
  readonly kind: "sqlite" | "postgres";
  /** Where the store is, with any password removed. */
  readonly location: string;

  /**
   * Creates a run, or returns the one holding its idempotency key. With
   * `claim`, a new run is leased to that worker in the same transaction
   * (journaled `run.resumed`, announced to no other worker).
   */
  createRun(run: NewRun, claim?: CreateClaim): Promise<CreatedRun>;
  getRun(id: string): Promise<RunRecord | undefined>;
  listRuns(filter?: RunFilter): Promise<RunRecord[]>;

  /**
   * Announces a worker. SQLite allows one worker process per file and rejects
   * a second with StoreOwnedError; a dead owner's runs become claimable at once.
   */
  registerWorker(workerId: string): Promise<void>;
  /** Removes the worker and its presence (see `announceWorker`). */
  unregisterWorker(workerId: string): Promise<void>;
  /**
   * Says which agents (and versions) this worker runs, live for `ttlMs`;
   * workers call it again on each heartbeat. Replaces what it said before.
   */
  announceWorker(
    workerId: string,
    agents: readonly AgentVersionInfo[],
    ttlMs: number,
  ): Promise<void>;
  /** Agents of the workers whose presence has not expired, store-wide. */
  liveWorkerAgents(): Promise<LiveWorkerAgent[]>;
  /** Unfinished (not terminal) runs of these agents by recorded version; unversioned runs are left out. */
  runVersions(agents: readonly string[]): Promise<RunVersionCount[]>;
  claimRuns(options: ClaimOptions): Promise<ClaimedRun[]>;
  renewLeases(
    workerId: string,
    leases: readonly { runId: string; leaseToken: string }[],
    leaseMs: number,
  ): Promise<LeaseRenewal>;
  /**
   * Gives up leases this worker still holds (a worker stopping): each run
   * whose token still matches goes back to `pending`, claimable at once.
   */
  releaseLeases(leases: readonly { runId: string; leaseToken: string }[]): Promise<void>;
  /** Earliest time a waiting run becomes due, if any. */
  nextWakeAt(): Promise<number | null>;

  /**
   * Applies a fenced commit atomically. Rejects with LeaseLostError when the
   * fence does not hold, CancelledError when `requireNotCancelled` fails.
   * Adapters group concurrent commits into one durable transaction.
   */
  commit(commit: Commit): Promise<void>;
  readJournal(runId: string): Promise<JournalEvent[]>;
  getBlobs(hashes: readonly Buffer[]): Promise<Map<string, Buffer>>;

  /**
   * Registers the tool's `key` for (runId, step) unless another unit of work
   * holds it; a holder whose effect definitely failed gives the key up.
   * Returns the holder either way. Visible at once but not flushed on its
   * own (as a `deferFlush` commit): the commit that follows it flushes it
   * (a flushed intent before a call that is not safe to repeat, or the
   * outcome), and a claim lost with the intent after it, to a power loss,
   * costs an idempotent call's repeat with the same key. Another unit of
   * work may see such a claim before it is flushed; the refusal it then
   * journals is flushed, and the log is flushed in order, so the claim it
   * saw is durable by then too.
   */
  claimEffectKey(claim: EffectClaim): Promise<EffectRecord>;
  getEffect(tool: string, key: string): Promise<EffectRecord | undefined>;

  sendSignal(runId: string, name: string, payload: Json): Promise<void>;
  readSignals(runId: string): Promise<Signal[]>;

  /** Marks a cancel request and journals it; idempotent. */
  requestCancel(runId: string, reason: string): Promise<RunRecord>;

  /** Replaces this worker's published resilience state for the given dependencies. */
  publishDependencyStates(
    workerId: string,
    states: readonly { dependency: string; state: Json }[],
  ): Promise<void>;
  /** Other workers' resilience states updated within `maxAgeMs`. */
  readDependencyStates(
    excludeWorkerId: string,
    maxAgeMs: number,
  ): Promise<{ dependency: string; workerId: string; state: Json }[]>;

  listDeadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  getDeadLetter(id: string): Promise<DeadLetter | undefined>;

  /**
   * Reserves the amount in every scope at once, or in none: refused (with the
   * scope that would be overdrawn) when spent + reserved + amount exceeds a
   * limit. Expired reservations are released first.
   */
  reserveBudget(reservation: BudgetReservation): Promise<BudgetDenial | null>;
  /**
   * Releases a reservation (unless it expired and was released already) and
   * records in `scopes` what was actually spent.
   */
  settleBudget(
    reservationId: string,
    scopes: readonly string[],
    spent: BudgetAmount,
  ): Promise<void>;
  readBudget(scope: string): Promise<BudgetUsage>;

  /** Bytes held in the journal and in payload storage, store-wide. */
  storedBytes(): Promise<{ events: number; blobs: number }>;
  /** Runs by status and dead letters by class and status, store-wide (for metrics; reads indexes only). */
  counts(): Promise<StoreCounts>;

  close(): Promise<void>;
}
