import type Database from "better-sqlite3";
import { NotFoundError } from "../../core/errors.js";
import {
  checkKeyReuse,
  createdData,
  inputHash,
  newRunValues,
  resumedData,
  rowToRun,
  toJsonText,
} from "../rows.js";
import { newToken } from "../../core/ids.js";
import type {
  CreateClaim,
  CreatedRun,
  NewRun,
  RunFilter,
  RunRecord,
  StatusChange,
} from "../types.js";
import { isTerminal, TERMINAL_STATUSES } from "../types.js";
import type { Announce } from "./announce.js";
import * as journal from "./journal.js";
import { prepared, type Row } from "./sql.js";

const byId = prepared("SELECT * FROM runs WHERE id = ?");
const byIdempotencyKey = prepared("SELECT * FROM runs WHERE idempotency_key = ?");
const insertRun = prepared(
  `INSERT INTO runs (id, agent, status, parent_id, idempotency_key, tenant, input, created_at, updated_at,
     input_hash)
   VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
);
const leaseNew = prepared(
  `UPDATE runs SET status = 'running', lease_owner = @worker, lease_token = @token,
     lease_expires_at = @expires, agent_version = @version WHERE id = @id`,
);
const journalCreated = prepared(
  "INSERT INTO events (run_id, type, step, data, at) VALUES (?, 'run.created', NULL, ?, ?)",
);
const filtered = prepared(
  `SELECT * FROM runs WHERE (@status IS NULL OR status = @status)
     AND (@agent IS NULL OR agent = @agent) AND (@parent IS NULL OR parent_id = @parent)
   ORDER BY created_at DESC, id DESC LIMIT @limit`,
);
const cancelledLeases = prepared(
  "SELECT id FROM runs WHERE lease_owner = ? AND status = 'running' AND cancel_requested = 1",
);
const markCancelRequested = prepared(
  "UPDATE runs SET cancel_requested = 1, updated_at = ? WHERE id = ?",
);
const journalCancelRequested = prepared(
  "INSERT INTO events (run_id, type, step, data, at) VALUES (?, 'run.cancel-requested', NULL, ?, ?)",
);
/** A run's descendants still able to act whose cancel has not been requested yet. */
const liveDescendants = prepared(
  `WITH RECURSIVE tree(id) AS (
     SELECT id FROM runs WHERE parent_id = ?
     UNION ALL SELECT r.id FROM runs r JOIN tree t ON r.parent_id = t.id)
   SELECT runs.id FROM tree JOIN runs ON runs.id = tree.id
   WHERE runs.cancel_requested = 0 AND runs.status NOT IN (${TERMINAL_STATUSES.map((s) => `'${s}'`).join(", ")})`,
);
const setStatus = prepared(
  `UPDATE runs SET status = CASE WHEN @status = 'waiting' AND wake_requested = 1 THEN 'pending' ELSE @status END,
     result = @result, error = @error, wake_at = @wakeAt, updated_at = @now WHERE id = @id RETURNING status`,
);
const releaseLease = prepared(
  "UPDATE runs SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = ?",
);
const markWake = prepared(
  `UPDATE runs SET wake_requested = 1, updated_at = ?,
     status = CASE WHEN status = 'waiting' THEN 'pending' ELSE status END WHERE id = ?`,
);

/**
 * Creates the run, or returns the one holding its idempotency key. With
 * `claim`, a new run is leased to that worker in the same transaction
 * (journaled `run.resumed`, announced to no one) and returned with its journal.
 */
export function create(
  db: Database.Database,
  run: NewRun,
  announce: Announce,
  claim?: CreateClaim,
): CreatedRun {
  const result = creating(db).immediate(run, claim);
  // Only once committed: a wake-up for a run that rolled back would send workers looking for nothing.
  if (result.created && !result.claimed) announce.runnable();
  return result;
}

const createTransactions = new WeakMap<Database.Database, CreateTransaction>();
type CreateTransaction = Database.Transaction<(run: NewRun, claim?: CreateClaim) => CreatedRun>;

/** `create`'s transaction, made once per connection: better-sqlite3 builds four wrappers each time. */
function creating(db: Database.Database): CreateTransaction {
  let transaction = createTransactions.get(db);
  if (!transaction) {
    transaction = db.transaction((run: NewRun, claim?: CreateClaim) => createIn(db, run, claim));
    createTransactions.set(db, transaction);
  }
  return transaction;
}

function createIn(db: Database.Database, run: NewRun, claim: CreateClaim | undefined): CreatedRun {
  if (run.idempotencyKey) {
    const existing = byIdempotencyKey(db).get(run.idempotencyKey) as Row | undefined;
    if (existing) {
      checkKeyReuse(existing, run);
      return { run: rowToRun(existing, "sqlite"), created: false };
    }
  }
  const now = Date.now();
  const created = insert(db, run, now);
  if (created && claim) {
    const token = newToken();
    leaseNew(db).run({
      id: run.id,
      worker: claim.workerId,
      token,
      expires: now + claim.leaseMs,
      version: claim.agentVersion ?? null,
    });
    journal.append(db, run.id, [{ type: "run.resumed", data: resumedData(claim) }], now);
    const leased = rowToRun(byId(db).get(run.id) as Row, "sqlite");
    return {
      run: leased,
      created,
      claimed: { run: { ...leased, leaseToken: token }, journal: journal.read(db, run.id) },
    };
  }
  const row = byId(db).get(run.id) as Row;
  return { run: rowToRun(row, "sqlite"), created };
}

export function get(db: Database.Database, id: string): RunRecord | undefined {
  const row = byId(db).get(id) as Row | undefined;
  return row ? rowToRun(row, "sqlite") : undefined;
}

export function list(db: Database.Database, filter: RunFilter): RunRecord[] {
  const rows = filtered(db).all({
    status: filter.status ?? null,
    agent: filter.agent ?? null,
    parent: filter.parentId ?? null,
    limit: filter.limit ?? 100,
  }) as Row[];
  return rows.map((r) => rowToRun(r, "sqlite"));
}

export function requestCancel(
  db: Database.Database,
  runId: string,
  reason: string,
  announce: Announce,
): RunRecord {
  const { run, changed } = db
    .transaction(() => {
      const row = byId(db).get(runId) as Row | undefined;
      if (!row) throw new NotFoundError("run", runId);
      const current = rowToRun(row, "sqlite");
      if (current.cancelRequested || isTerminal(current.status)) {
        return { run: current, changed: [] as string[] };
      }
      const now = Date.now();
      markCancelRequested(db).run(now, runId);
      journalCancelRequested(db).run(runId, JSON.stringify({ reason }), now);
      // The whole tree at once: no child may start an effect after the request is durable.
      const below = (liveDescendants(db).all(runId) as { id: string }[]).map((r) => r.id);
      const inherited = JSON.stringify({ reason: `ancestor ${runId} cancelled: ${reason}` });
      for (const id of below) {
        markCancelRequested(db).run(now, id);
        journalCancelRequested(db).run(id, inherited, now);
      }
      return { run: { ...current, cancelRequested: true }, changed: [runId, ...below] };
    })
    .immediate();
  for (const id of changed) announce.cancel(id);
  return run;
}

/** Runs `worker` holds whose cancel has been requested. */
export function cancelRequested(db: Database.Database, worker: string): string[] {
  return (cancelledLeases(db).all(worker) as { id: string }[]).map((r) => r.id);
}

/** Inserts the run unless already present and journals its creation; returns whether it was new. */
export function insert(db: Database.Database, run: NewRun, now: number): boolean {
  const info = insertRun(db).run(...newRunValues(run), now, now, inputHash(run));
  if (info.changes === 0) return false;
  journalCreated(db).run(run.id, JSON.stringify(createdData(run)), now);
  return true;
}

/**
 * Applies a status change; a wait after a wake-up becomes pending instead.
 * Returns the status the run ended in.
 */
export function changeStatus(
  db: Database.Database,
  runId: string,
  s: StatusChange,
  now: number,
): string {
  const res = setStatus(db).get({
    status: s.status,
    result: toJsonText(s.result),
    error: toJsonText(s.error ?? undefined),
    wakeAt: s.wakeAt ?? null,
    now,
    id: runId,
  }) as { status: string };
  return res.status;
}

export function release(db: Database.Database, runId: string): void {
  releaseLease(db).run(runId);
}

/**
 * Marks a wake-up on the run: a waiting run becomes pending, and a running
 * one that suspends later is made pending instead (see `changeStatus`).
 */
export function wake(db: Database.Database, runId: string, now: number): void {
  markWake(db).run(now, runId);
}
