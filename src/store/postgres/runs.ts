import type pg from "pg";
import { NotFoundError } from "../../core/errors.js";
import { newToken } from "../../core/ids.js";
import {
  checkKeyReuse,
  createdData,
  inputHash,
  newRunValues,
  resumedData,
  rowToEvent,
  rowToRun,
  toJsonText,
} from "../rows.js";
import type { Commit, CreateClaim, CreatedRun, NewRun, RunFilter, RunRecord } from "../types.js";
import { isTerminal, TERMINAL_STATUSES } from "../types.js";
import { CHANNEL, notifyCancel } from "./notify.js";
import { pipeline } from "./pipeline.js";
import { NOW_MS, prepared, type Queryable, type Row, type Statement } from "./sql.js";
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
  const find: Statement = { text: FIND_CREATED, values: [run.id, run.idempotencyKey ?? null] };
  if (!claim) {
    const [inserted, found] = await pipeline(pool, [insert([run], true), find]);
    return createdOf(run, (inserted?.rowCount ?? 0) > 0, found);
  }
  const token = newToken();
  const { rows } = await pool.query<Row>(prepared(insertLeased(run, claim, token)));
  // No row: a run holds the idempotency key already (and nothing was written).
  if (rows.length === 0) return createdOf(run, false, await pool.query(find.text, find.values));
  const leased = rowToRun(rows[0] as Row, "postgres");
  return {
    run: leased,
    created: true,
    claimed: {
      run: { ...leased, leaseToken: token },
      journal: rows.map((r) =>
        rowToEvent(
          {
            id: r.event_id,
            run_id: r.id,
            type: r.event_type,
            step: null,
            data: r.event_data,
            at: r.event_at,
          },
          "postgres",
        ),
      ),
    },
  };
}

/** The run just created, or the one holding its idempotency key. */
const FIND_CREATED = `SELECT * FROM runs WHERE id = $1 OR idempotency_key = $2
  ORDER BY (id = $1) DESC LIMIT 1`;

/**
 * Creates a run leased to a worker. It returns only the columns `rowToRun`
 * reads that a new run does not fix: result, error and wake_at are NULL and
 * cancel_requested false, which is what `rowToRun` reads absent columns as
 * (fewer columns to describe and parse on every start).
 */
const INSERT_LEASED = `WITH ins AS (
    INSERT INTO runs (id, agent, status, parent_id, idempotency_key, tenant, input, created_at,
      updated_at, lease_owner, lease_token, lease_expires_at, agent_version, input_hash)
    VALUES ($1, $2, 'running', $3, $4, $5, $6, ${NOW_MS}, ${NOW_MS}, $8, $9, ${NOW_MS} + $10,
      $12, $13)
    ON CONFLICT DO NOTHING
    RETURNING id, agent, status, parent_id, idempotency_key, tenant, input, created_at, updated_at,
      lease_owner, lease_expires_at, agent_version),
  ev AS (
    INSERT INTO events (run_id, type, step, data, at)
    SELECT ins.id, e.type, NULL, e.data, ${NOW_MS}
    FROM ins, (VALUES (1, 'run.created', $7::jsonb), (2, 'run.resumed', $11::jsonb)) AS e(n, type, data)
    ORDER BY e.n RETURNING id, type, data, at)
  SELECT ins.*, ev.id AS event_id, ev.type AS event_type, ev.data AS event_data, ev.at AS event_at
  FROM ins, ev ORDER BY ev.id`;

/**
 * One statement that creates a run leased to `claim`'s worker and journals
 * its creation and its first execution; returns one row per event, each with
 * the run's columns (none when the idempotency key is taken).
 */
function insertLeased(run: NewRun, claim: CreateClaim, token: string): Statement {
  return {
    text: INSERT_LEASED,
    values: [
      ...newRunValues(run),
      JSON.stringify(createdData(run)),
      claim.workerId,
      token,
      claim.leaseMs,
      JSON.stringify(resumedData(claim)),
      claim.agentVersion ?? null,
      inputHash(run),
    ],
  };
}

function createdOf(run: NewRun, created: boolean, found: pg.QueryResult | undefined): CreatedRun {
  const row = found?.rows[0] as Row | undefined;
  if (!row) throw new NotFoundError("run", "(the run just created)");
  if (!created) checkKeyReuse(row, run);
  return { run: rowToRun(row, "postgres"), created };
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
    // The whole tree at once: no child may start an effect after the request is durable.
    const below = await c.query<{ id: string }>(
      `WITH RECURSIVE tree(id) AS (
         SELECT id FROM runs WHERE parent_id = $1
         UNION ALL SELECT r.id FROM runs r JOIN tree t ON r.parent_id = t.id)
       UPDATE runs SET cancel_requested = true, updated_at = ${NOW_MS}
       FROM tree WHERE runs.id = tree.id AND NOT runs.cancel_requested
         AND runs.status <> ALL($2::text[])
       RETURNING runs.id`,
      [runId, TERMINAL_STATUSES],
    );
    for (const { id } of below.rows) {
      await c.query(
        `INSERT INTO events (run_id, type, step, data, at) VALUES ($1, 'run.cancel-requested', NULL, $2, ${NOW_MS})`,
        [id, JSON.stringify({ reason: `ancestor ${runId} cancelled: ${reason}` })],
      );
      await notifyCancel(c, id);
    }
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
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[],
         $8::text[])
         WITH ORDINALITY AS t(id, agent, parent_id, idem, tenant, input, created, input_hash, ord)),
     ins AS (
       INSERT INTO runs (id, agent, status, parent_id, idempotency_key, tenant, input, created_at, updated_at,
         input_hash)
       SELECT id, agent, 'pending', parent_id, idem, tenant, input, ${NOW_MS}, ${NOW_MS}, input_hash FROM t
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
      runs.map((r) => JSON.stringify(createdData(r))),
      runs.map((r) => inputHash(r)),
    ],
  };
}

/**
 * How a change `t` (status, result, error, wake_at, release) applies to a run
 * row `r`: a status of "waiting" becomes "pending" when a wake-up arrived
 * since the claim, so no wake-up is lost.
 */
export const CHANGE_SET = `
  status = CASE WHEN t.status IS NULL THEN r.status
                WHEN t.status = 'waiting' AND r.wake_requested THEN 'pending' ELSE t.status END,
  result = CASE WHEN t.status IS NULL THEN r.result ELSE t.result END,
  error = CASE WHEN t.status IS NULL THEN r.error ELSE t.error END,
  wake_at = CASE WHEN t.status IS NULL THEN r.wake_at ELSE t.wake_at END,
  lease_owner = CASE WHEN t.release THEN NULL ELSE r.lease_owner END,
  lease_token = CASE WHEN t.release THEN NULL ELSE r.lease_token END,
  lease_expires_at = CASE WHEN t.release THEN NULL ELSE r.lease_expires_at END,
  updated_at = ${NOW_MS}`;

/** The columns of `CHANGE_SET`'s `t`, in order, for the changes given. */
export function changeColumns(changes: readonly RunChange[]): [unknown[], string][] {
  return [
    [changes.map((b) => b.runId), "text"],
    [changes.map((b) => b.status?.status ?? null), "text"],
    [changes.map((b) => toJsonText(b.status?.result)), "jsonb"],
    [changes.map((b) => toJsonText(b.status?.error ?? undefined)), "jsonb"],
    [changes.map((b) => b.status?.wakeAt ?? null), "bigint"],
    [changes.map((b) => b.release), "boolean"],
  ];
}

/** Applies status changes and lease releases, at most one per run. */
export function applyChanges(changes: readonly RunChange[]): Statement | undefined {
  if (changes.length === 0) return undefined;
  const columns = changeColumns(changes);
  return {
    text: `UPDATE runs r SET ${CHANGE_SET}
     FROM unnest(${columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ")})
       AS t(id, status, result, error, wake_at, release)
     WHERE r.id = t.id`,
    values: columns.map(([values]) => values),
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

/** Leased runs whose cancel has been requested: what a lost notification would have said. */
export async function cancelRequestedLeased(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    "SELECT id FROM runs WHERE cancel_requested AND lease_owner IS NOT NULL AND status <> ALL($1::text[])",
    [TERMINAL_STATUSES],
  );
  return rows.map((r) => r.id);
}
