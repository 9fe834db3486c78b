import type pg from "pg";
import { NotFoundError } from "../../core/errors.js";
import { newToken } from "../../core/ids.js";
import { rowToEvent, rowToRun, toJsonText } from "../rows.js";
import type { Commit, CreateClaim, CreatedRun, NewRun, RunFilter, RunRecord } from "../types.js";
import { isTerminal } from "../types.js";
import { CHANNEL, notifyCancel } from "./notify.js";
import { pipeline } from "./pipeline.js";
import { NOW_MS, type Queryable, type Row, type Statement } from "./sql.js";
import { inTransaction } from "./transaction.js";

/** A status change and/or lease release for one run, merged from a batch's commits. */
export interface RunChange {
  runId: string;
  status?: Commit["status"];
  release: boolean;
}

/**
 * Creates the run (or finds the one holding its idempotency key) in one round
 * trip: the insert journals `run.created` and announces the run in the same
 * statement, and the read behind it sees whichever run holds the key. With
 * `claim`, a new run is created leased to that worker instead (journaled
 * `run.resumed`, announced to no one) and returned with its journal.
 */
export async function create(pool: pg.Pool, run: NewRun, claim?: CreateClaim): Promise<CreatedRun> {
  const find: Statement = {
    text: `SELECT * FROM runs WHERE id = $1 OR idempotency_key = $2
       ORDER BY (id = $1) DESC LIMIT 1`,
    values: [run.id, run.idempotencyKey ?? null],
  };
  if (!claim) {
    const [inserted, found] = await pipeline(pool, [insert([run], true), find]);
    return createdOf(inserted, found);
  }
  const token = newToken();
  const [inserted, , , journal, found] = await pipeline(
    pool,
    [
      insert([run]),
      {
        text: `UPDATE runs SET status = 'running', lease_owner = $2, lease_token = $3,
           lease_expires_at = ${NOW_MS} + $4 WHERE id = $1 AND status = 'pending'`,
        values: [run.id, claim.workerId, token, claim.leaseMs],
      },
      {
        text: `INSERT INTO events (run_id, type, step, data, at)
           SELECT id, 'run.resumed', NULL, $2, ${NOW_MS} FROM runs WHERE id = $1 AND lease_token = $3`,
        values: [run.id, JSON.stringify({ worker: claim.workerId }), token],
      },
      { text: "SELECT * FROM events WHERE run_id = $1 ORDER BY id", values: [run.id] },
      find,
    ],
    true,
  );
  const out = createdOf(inserted, found);
  if (!out.created) return out;
  return {
    ...out,
    claimed: {
      run: { ...out.run, leaseToken: token },
      journal: (journal?.rows ?? []).map((r: Row) => rowToEvent(r, "postgres")),
    },
  };
}

function createdOf(
  inserted: pg.QueryResult | undefined,
  found: pg.QueryResult | undefined,
): CreatedRun {
  const row = found?.rows[0] as Row | undefined;
  if (!row) throw new NotFoundError("run", "(the run just created)");
  return { run: rowToRun(row, "postgres"), created: (inserted?.rowCount ?? 0) > 0 };
}

export async function get(db: Queryable, id: string): Promise<RunRecord | undefined> {
  const [row] = (await db.query<Row>("SELECT * FROM runs WHERE id = $1", [id])).rows;
  return row ? rowToRun(row, "postgres") : undefined;
}

export async function list(db: Queryable, filter: RunFilter): Promise<RunRecord[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM runs WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR agent = $2)
       AND ($3::text IS NULL OR parent_id = $3) ORDER BY created_at DESC, id DESC LIMIT $4`,
    [filter.status ?? null, filter.agent ?? null, filter.parentId ?? null, filter.limit ?? 100],
  );
  return rows.map((r) => rowToRun(r, "postgres"));
}

export function requestCancel(pool: pg.Pool, runId: string, reason: string): Promise<RunRecord> {
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query<Row>("SELECT * FROM runs WHERE id = $1 FOR UPDATE", [runId]);
    if (!rows[0]) throw new NotFoundError("run", runId);
    const current = rowToRun(rows[0], "postgres");
    if (current.cancelRequested || isTerminal(current.status)) {
      return current;
    }
    await c.query(`UPDATE runs SET cancel_requested = true, updated_at = ${NOW_MS} WHERE id = $1`, [
      runId,
    ]);
    await c.query(
      `INSERT INTO events (run_id, type, step, data, at) VALUES ($1, 'run.cancel-requested', NULL, $2, ${NOW_MS})`,
      [runId, JSON.stringify({ reason })],
    );
    await notifyCancel(c, runId);
    return { ...current, cancelRequested: true };
  });
}

/**
 * Inserts the runs not already present and journals their creation, in one
 * statement; each created run returns one row. `announce` wakes idle workers
 * from the statement itself (inside a batch, the batch announces once).
 */
export function insert(runs: readonly NewRun[], announce = false): Statement {
  return {
    text: `WITH t AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[])
         WITH ORDINALITY AS t(id, agent, parent_id, idem, tenant, input, created, ord)),
     ins AS (
       INSERT INTO runs (id, agent, status, parent_id, idempotency_key, tenant, input, created_at, updated_at)
       SELECT id, agent, 'pending', parent_id, idem, tenant, input, ${NOW_MS}, ${NOW_MS} FROM t
       ON CONFLICT DO NOTHING RETURNING id)
     INSERT INTO events (run_id, type, step, data, at)
     SELECT t.id, 'run.created', NULL, t.created, ${NOW_MS} FROM t JOIN ins ON ins.id = t.id ORDER BY t.ord
     RETURNING run_id${announce ? `, pg_notify('${CHANNEL}', 'runnable')` : ""}`,
    values: [
      runs.map((r) => r.id),
      runs.map((r) => r.agent),
      runs.map((r) => r.parentId ?? null),
      runs.map((r) => r.idempotencyKey ?? null),
      runs.map((r) => r.tenant ?? null),
      runs.map((r) => JSON.stringify(r.input)),
      runs.map((r) =>
        JSON.stringify({
          ...r.created,
          agent: r.agent,
          parentId: r.parentId ?? null,
          deadline: r.deadline ?? null,
        }),
      ),
    ],
  };
}

/**
 * Applies status changes and lease releases, at most one per run.
 */
export function applyChanges(changes: readonly RunChange[]): Statement | undefined {
  if (changes.length === 0) return undefined;
  return {
    text: `UPDATE runs r SET
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
     WHERE r.id = t.id`,
    values: [
      changes.map((b) => b.runId),
      changes.map((b) => b.status?.status ?? null),
      changes.map((b) => toJsonText(b.status?.result)),
      changes.map((b) => toJsonText(b.status?.error ?? undefined)),
      changes.map((b) => b.status?.wakeAt ?? null),
      changes.map((b) => b.release),
    ],
  };
}

/**
 * Marks a wake-up on each run: a waiting run becomes pending, and a running
 * one that suspends later is made pending instead (see `applyChanges`).
 */
export function wake(ids: readonly string[]): Statement | undefined {
  if (ids.length === 0) return undefined;
  return {
    text: `UPDATE runs SET wake_requested = true, updated_at = ${NOW_MS},
       status = CASE WHEN status = 'waiting' THEN 'pending' ELSE status END WHERE id = ANY($1)`,
    values: [ids],
  };
}
