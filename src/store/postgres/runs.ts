import type pg from "pg";
import { NotFoundError } from "../../core/errors.js";
import { rowToRun, toJsonText } from "../rows.js";
import type { Commit, NewRun, RunFilter, RunRecord } from "../types.js";
import { isTerminal } from "../types.js";
import { notifyCancel, notifyRunnable } from "./notify.js";
import { NOW_MS, type Queryable, type Row } from "./sql.js";
import { inTransaction } from "./transaction.js";

/** A status change and/or lease release for one run, merged from a batch's commits. */
export interface RunChange {
  runId: string;
  status?: Commit["status"];
  release: boolean;
}

export function create(pool: pg.Pool, run: NewRun): Promise<{ run: RunRecord; created: boolean }> {
  return inTransaction(pool, async (c) => {
    if (run.idempotencyKey) {
      const existing = await c.query<Row>("SELECT * FROM runs WHERE idempotency_key = $1", [
        run.idempotencyKey,
      ]);
      if (existing.rows[0]) return { run: rowToRun(existing.rows[0], "postgres"), created: false };
    }
    const created = await insert(c, [run]);
    if (created > 0) await notifyRunnable(c);
    // When a concurrent create with the same key won, the insert waited for its
    // commit and did nothing; this statement's fresh snapshot sees that run.
    const { rows } =
      created > 0 || !run.idempotencyKey
        ? await c.query<Row>("SELECT * FROM runs WHERE id = $1", [run.id])
        : await c.query<Row>("SELECT * FROM runs WHERE idempotency_key = $1", [run.idempotencyKey]);
    return { run: rowToRun(rows[0] as Row, "postgres"), created: created > 0 };
  });
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

/** Inserts the runs not already present and journals their creation; returns how many were new. */
export async function insert(c: pg.PoolClient, runs: readonly NewRun[]): Promise<number> {
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
 * Applies status changes and lease releases, at most one per run; returns the
 * status each changed run ended in.
 */
export async function applyChanges(
  db: Queryable,
  changes: readonly RunChange[],
): Promise<string[]> {
  if (changes.length === 0) return [];
  const { rows } = await db.query<{ status: string }>(
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
  return rows.map((r) => r.status);
}

/**
 * Marks a wake-up on each run: a waiting run becomes pending, and a running
 * one that suspends later is made pending instead (see `applyChanges`).
 */
export async function wake(db: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE runs SET wake_requested = true, updated_at = ${NOW_MS},
       status = CASE WHEN status = 'waiting' THEN 'pending' ELSE status END WHERE id = ANY($1)`,
    [ids],
  );
}
