import { newToken } from "../../core/ids.js";
import { rowToEvent, rowToRun, versionParams } from "../rows.js";
import {
  TERMINAL_STATUSES,
  type AgentVersionInfo,
  type ClaimOptions,
  type ClaimedRun,
  type JournalEvent,
  type LeaseRenewal,
  type LiveWorkerAgent,
  type RunVersionCount,
} from "../types.js";
import type pg from "pg";
import { pipeline } from "./pipeline.js";
import { NOW_MS, type Queryable, type Row } from "./sql.js";

/** $6 ->> agent: the version a claim of the row's agent records (null: the claimer gave none). */
export const CLAIM = `UPDATE runs SET status = 'running', lease_owner = $1, lease_token = $2,
    lease_expires_at = ${NOW_MS} + $3, wake_requested = false, updated_at = ${NOW_MS},
    agent_version = COALESCE($6::jsonb ->> agent, agent_version)
  WHERE id IN (
    SELECT id FROM runs
    WHERE agent = ANY($4)
      AND (status = 'pending' OR (status = 'waiting' AND wake_at <= ${NOW_MS})
           OR (status = 'running' AND lease_expires_at < ${NOW_MS}))
      AND (agent_version IS NULL OR $6::jsonb ->> agent IS NULL
           OR agent || ' ' || agent_version = ANY($7::text[]))
    ORDER BY created_at, id LIMIT $5
    FOR UPDATE SKIP LOCKED)
  RETURNING *,
    EXISTS (SELECT 1 FROM budget_reservations b WHERE b.run_id = runs.id) AS holds_budget`;

/**
 * After the claim, in the same transaction but a statement of its own:
 * `run.resumed` journaled for each run the claim took (as `resumedData`
 * writes it: no agentVersion when the claimer gave none), and every such
 * run's journal. A statement of its own, because its snapshot must be taken
 * once the claim holds the runs' rows: a step commit that held a row's lock
 * and committed while the claim waited for it is seen; one after it is
 * refused by its fence. (One statement's snapshot predates its own locks,
 * and missed such a commit.) The events it inserts are not in its snapshot
 * of `events`, so they come from the insert's own RETURNING. The claimed
 * runs are found among the running ones (runs_claimable's leading column):
 * lease_token has no index, and a scan of every run ever made per claim
 * grows with the store.
 */
export const JOURNALS_OF_CLAIMED = `WITH claimed AS (
    SELECT id, agent FROM runs WHERE status = 'running' AND lease_token = $1),
  resumed AS (
    INSERT INTO events (run_id, type, step, data, at)
    SELECT c.id, 'run.resumed', NULL,
      jsonb_strip_nulls(jsonb_build_object('worker', $2::text, 'agentVersion', $3::jsonb ->> c.agent)),
      ${NOW_MS}
    FROM claimed c ORDER BY c.id
    RETURNING id, run_id, type, step, data, at)
  SELECT e.id, e.run_id, e.type, e.step, e.data, e.at
  FROM events e WHERE e.run_id IN (SELECT id FROM claimed)
  UNION ALL SELECT r.id, r.run_id, r.type, r.step, r.data, r.at FROM resumed r`;

/**
 * Claims runnable runs; `holdsBudget` lists those a previous execution left
 * holding budget reservations, which the caller releases.
 */
export async function claim(
  pool: pg.Pool,
  options: ClaimOptions,
): Promise<{ runs: ClaimedRun[]; holdsBudget: string[] }> {
  const token = newToken();
  const { pins, accepted } = versionParams(options.versions);
  const claimed = {
    text: CLAIM,
    values: [
      options.workerId,
      token,
      options.leaseMs,
      options.agents,
      options.limit,
      pins,
      accepted,
    ],
  };
  let runRows: Row[];
  let journals: Map<string, JournalEvent[]> | undefined;
  if (options.withJournals) {
    // Both statements in one round trip, one transaction.
    const [runs, events] = await pipeline(
      pool,
      [claimed, { text: JOURNALS_OF_CLAIMED, values: [token, options.workerId, pins] }],
      true,
    );
    runRows = (runs?.rows ?? []) as Row[];
    journals = journalsOf((events?.rows ?? []) as Row[]);
  } else runRows = (await pool.query<Row>(claimed.text, claimed.values)).rows;
  return {
    runs: runRows.map((r) => {
      const run = { ...rowToRun(r, "postgres"), leaseToken: token };
      return journals ? { ...run, journal: journals.get(run.id) ?? [] } : run;
    }),
    holdsBudget: runRows.filter((r) => r.holds_budget === true).map((r) => r.id as string),
  };
}

/** The event rows of a claim with journals, by run, each in journal order. */
function journalsOf(rows: readonly Row[]): Map<string, JournalEvent[]> {
  const byRun = new Map<string, JournalEvent[]>();
  for (const r of rows) {
    const event = rowToEvent(r, "postgres");
    const journal = byRun.get(event.runId);
    if (journal) journal.push(event);
    else byRun.set(event.runId, [event]);
  }
  for (const journal of byRun.values()) journal.sort((a, b) => a.id - b.id);
  return byRun;
}

export async function renewLeases(
  db: Queryable,
  leases: readonly { runId: string; leaseToken: string }[],
  leaseMs: number,
): Promise<LeaseRenewal> {
  if (leases.length === 0) return { lost: [], cancelRequested: [] };
  // Rows are locked in id order, as commits lock them: two orders deadlock.
  const { rows } = await db.query<Row>(
    `WITH locked AS (
       SELECT r.id FROM runs r
       JOIN unnest($1::text[], $2::text[]) AS l(id, token)
         ON r.id = l.id AND r.lease_token = l.token
       ORDER BY r.id FOR UPDATE OF r)
     UPDATE runs r SET lease_expires_at = ${NOW_MS} + $3
     FROM locked WHERE r.id = locked.id
     RETURNING r.id, r.lease_token, r.cancel_requested`,
    [leases.map((l) => l.runId), leases.map((l) => l.leaseToken), leaseMs],
  );
  const held = new Set(rows.map((r) => `${r.id as string}/${r.lease_token as string}`));
  return {
    lost: leases.filter((l) => !held.has(`${l.runId}/${l.leaseToken}`)).map((l) => l.runId),
    cancelRequested: rows.filter((r) => r.cancel_requested).map((r) => r.id as string),
  };
}

export async function releaseLeases(
  db: Queryable,
  leases: readonly { runId: string; leaseToken: string }[],
): Promise<number> {
  const { rowCount } = await db.query(
    `WITH locked AS (
       SELECT r.id FROM runs r
       JOIN unnest($1::text[], $2::text[]) AS l(id, token)
         ON r.id = l.id AND r.lease_token = l.token
       WHERE r.status = 'running'
       ORDER BY r.id FOR UPDATE OF r)
     UPDATE runs r SET status = 'pending', lease_owner = NULL, lease_token = NULL,
       lease_expires_at = NULL, updated_at = ${NOW_MS}
     FROM locked WHERE r.id = locked.id`,
    [leases.map((l) => l.runId), leases.map((l) => l.leaseToken)],
  );
  return rowCount ?? 0;
}

export async function nextWakeAt(db: Queryable): Promise<number | null> {
  const [row] = (
    await db.query<Row>(
      "SELECT min(wake_at) AS at FROM runs WHERE status = 'waiting' AND wake_at IS NOT NULL",
    )
  ).rows;
  return row?.at === null || row?.at === undefined ? null : Number(row.at);
}

/**
 * Replaces the worker's presence (and clears expired ones of other workers)
 * in one statement; what it deletes and what it upserts never overlap.
 */
export async function announce(
  db: Queryable,
  workerId: string,
  agents: readonly AgentVersionInfo[],
  ttlMs: number,
): Promise<void> {
  await db.query(
    `WITH a AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS a(agent text, version text, accepts jsonb)),
     gone AS (
       DELETE FROM worker_agents w
       WHERE (w.worker_id = $1 AND w.agent NOT IN (SELECT agent FROM a))
          OR (w.worker_id <> $1 AND w.expires_at < ${NOW_MS}))
     INSERT INTO worker_agents (worker_id, agent, version, accepts, expires_at)
     SELECT $1, a.agent, a.version, ARRAY(SELECT jsonb_array_elements_text(a.accepts)), ${NOW_MS} + $3
     FROM a
     ON CONFLICT (worker_id, agent) DO UPDATE
       SET version = excluded.version, accepts = excluded.accepts, expires_at = excluded.expires_at`,
    [workerId, JSON.stringify(agents), ttlMs],
  );
}

export async function forget(db: Queryable, workerId: string): Promise<void> {
  await db.query("DELETE FROM worker_agents WHERE worker_id = $1", [workerId]);
}

export async function liveAgents(db: Queryable): Promise<LiveWorkerAgent[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM worker_agents WHERE expires_at >= ${NOW_MS} ORDER BY worker_id, agent`,
  );
  return rows.map((r) => ({
    workerId: r.worker_id as string,
    agent: r.agent as string,
    version: r.version as string,
    accepts: r.accepts as string[],
  }));
}

export async function runVersions(
  db: Queryable,
  agents: readonly string[],
): Promise<RunVersionCount[]> {
  const { rows } = await db.query<Row>(
    `SELECT agent, agent_version AS version, count(*) AS count FROM runs
     WHERE agent = ANY($1) AND agent_version IS NOT NULL AND status <> ALL($2::text[])
     GROUP BY agent, agent_version ORDER BY agent, agent_version`,
    [agents, TERMINAL_STATUSES],
  );
  return rows.map((r) => ({
    agent: r.agent as string,
    version: r.version as string,
    count: Number(r.count),
  }));
}
