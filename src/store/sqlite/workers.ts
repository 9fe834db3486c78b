import { realpathSync } from "node:fs";
import type Database from "better-sqlite3";
import { StoreOwnedError } from "../../core/errors.js";
import { newToken } from "../../core/ids.js";
import { resumedData, rowToRun, versionParams } from "../rows.js";
import {
  TERMINAL_STATUSES,
  type AgentVersionInfo,
  type ClaimOptions,
  type ClaimedRun,
  type LeaseRenewal,
  type LiveWorkerAgent,
  type RunVersionCount,
} from "../types.js";
import * as journal from "./journal.js";
import { prepared, type Row } from "./sql.js";

/** A worker whose heartbeat is older than this is presumed dead even if its pid lives on. */
const OWNER_STALE_MS = 30_000;

const owner = prepared("SELECT * FROM worker_owner WHERE id = 1");
const putOwner = prepared(
  "INSERT OR REPLACE INTO worker_owner (id, worker_id, pid, heartbeat_at) VALUES (1, ?, ?, ?)",
);
const expireLeasesOf = prepared(
  "UPDATE runs SET lease_expires_at = 0 WHERE status = 'running' AND lease_owner = ?",
);
const deleteOwner = prepared("DELETE FROM worker_owner WHERE worker_id = ?");
/** The version a claim of the row's agent records (null: the claimer gave none). */
const PIN = `json_extract(@pins, '$."' || agent || '"')`;
const claimDue = prepared(
  `UPDATE runs SET status = 'running', lease_owner = @worker, lease_token = @token,
     lease_expires_at = @expires, wake_requested = 0, updated_at = @now,
     agent_version = coalesce(${PIN}, agent_version)
   WHERE id IN (
     SELECT id FROM runs
     WHERE agent IN (SELECT value FROM json_each(@agents))
       AND (status = 'pending' OR (status = 'waiting' AND wake_at <= @now)
            OR (status = 'running' AND lease_expires_at < @now))
       AND (agent_version IS NULL OR ${PIN} IS NULL
            OR agent || ' ' || agent_version IN (SELECT value FROM json_each(@accepted)))
     ORDER BY created_at, id LIMIT @limit)
   RETURNING *`,
);
const dropPresence = prepared("DELETE FROM worker_agents WHERE worker_id = ? OR expires_at < ?");
const putPresence = prepared(
  "INSERT INTO worker_agents (worker_id, agent, version, accepts, expires_at) VALUES (?, ?, ?, ?, ?)",
);
const livePresence = prepared("SELECT * FROM worker_agents WHERE expires_at >= ?");
const forgetPresence = prepared("DELETE FROM worker_agents WHERE worker_id = ?");
const versionCounts = prepared(
  `SELECT agent, agent_version AS version, count(*) AS count FROM runs
   WHERE agent IN (SELECT value FROM json_each(?)) AND agent_version IS NOT NULL
     AND status NOT IN (${TERMINAL_STATUSES.map((s) => `'${s}'`).join(", ")})
   GROUP BY agent, agent_version ORDER BY agent, agent_version`,
);
const heartbeat = prepared("UPDATE worker_owner SET heartbeat_at = ? WHERE worker_id = ?");
const renewLease = prepared(
  "UPDATE runs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? RETURNING cancel_requested",
);
const releaseLease = prepared(
  `UPDATE runs SET status = 'pending', lease_owner = NULL, lease_token = NULL,
     lease_expires_at = NULL, updated_at = ?
   WHERE id = ? AND lease_token = ? AND status = 'running'`,
);
const earliestWake = prepared(
  "SELECT min(wake_at) AS at FROM runs WHERE status = 'waiting' AND wake_at IS NOT NULL",
);

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Workers registered and not yet unregistered in this process, by store file
 * (by handle for an in-memory database, which no other handle can see). A
 * pid alone cannot tell a live worker of this process from one that was
 * never stopped; this can.
 */
const liveHere = new Map<string | Database.Database, string>();

function fileOf(db: Database.Database): string | Database.Database {
  return db.memory ? db : realpathSync(db.name);
}

export function register(db: Database.Database, location: string, workerId: string): void {
  const file = fileOf(db);
  // Immediate: it reads then writes, and a deferred upgrade fails at once if another process wrote.
  db.transaction(() => {
    const current = owner(db).get() as
      { worker_id: string; pid: number; heartbeat_at: number } | undefined;
    const now = Date.now();
    const live =
      current !== undefined &&
      current.worker_id !== workerId &&
      now - current.heartbeat_at < OWNER_STALE_MS &&
      (current.pid === process.pid
        ? liveHere.get(file) === current.worker_id
        : pidAlive(current.pid));
    if (live)
      throw new StoreOwnedError(
        location,
        current.pid,
        current.pid === process.pid ? current.worker_id : undefined,
      );
    putOwner(db).run(workerId, process.pid, now);
    // The previous owner is gone: nothing holds its leases any more.
    if (current && current.worker_id !== workerId) {
      expireLeasesOf(db).run(current.worker_id);
    }
  }).immediate();
  liveHere.set(file, workerId);
}

export function unregister(db: Database.Database, workerId: string): void {
  db.transaction(() => {
    deleteOwner(db).run(workerId);
    forgetPresence(db).run(workerId);
  }).immediate();
  forget(db, workerId);
}

/** Replaces the worker's presence (and clears expired ones of any worker). */
export function announce(
  db: Database.Database,
  workerId: string,
  agents: readonly AgentVersionInfo[],
  ttlMs: number,
): void {
  const now = Date.now();
  db.transaction(() => {
    dropPresence(db).run(workerId, now);
    const put = putPresence(db);
    for (const a of agents)
      put.run(workerId, a.agent, a.version, JSON.stringify(a.accepts), now + ttlMs);
  }).immediate();
}

export function liveAgents(db: Database.Database): LiveWorkerAgent[] {
  return (livePresence(db).all(Date.now()) as Row[]).map((r) => ({
    workerId: r.worker_id as string,
    agent: r.agent as string,
    version: r.version as string,
    accepts: JSON.parse(r.accepts as string) as string[],
  }));
}

export function runVersions(db: Database.Database, agents: readonly string[]): RunVersionCount[] {
  return (versionCounts(db).all(JSON.stringify(agents)) as Row[]).map((r) => ({
    agent: r.agent as string,
    version: r.version as string,
    count: Number(r.count),
  }));
}

/** This process's worker is gone (its store is closing), whatever the file still says. */
export function forget(db: Database.Database, workerId: string): void {
  const file = fileOf(db);
  if (liveHere.get(file) === workerId) liveHere.delete(file);
}

/** Claims runnable runs (inside the caller's transaction), journaling their resumption when asked. */
export function claim(db: Database.Database, options: ClaimOptions): ClaimedRun[] {
  const now = Date.now();
  const token = newToken();
  const { pins, accepted } = versionParams(options.versions);
  const rows = claimDue(db).all({
    worker: options.workerId,
    token,
    expires: now + options.leaseMs,
    now,
    agents: JSON.stringify(options.agents),
    limit: options.limit,
    pins,
    accepted: JSON.stringify(accepted),
  }) as Row[];
  const claimed = rows.map((r) => ({ ...rowToRun(r, "sqlite"), leaseToken: token }));
  if (!options.withJournals) return claimed;
  const versions = new Map(options.versions?.map((v) => [v.agent, v.version]));
  return claimed.map((run) => {
    const agentVersion = versions.get(run.agent);
    const data = resumedData({ workerId: options.workerId, agentVersion });
    journal.append(db, run.id, [{ type: "run.resumed", data }], now);
    return { ...run, journal: journal.read(db, run.id) };
  });
}

export function renewLeases(
  db: Database.Database,
  workerId: string,
  leases: readonly { runId: string; leaseToken: string }[],
  leaseMs: number,
): LeaseRenewal {
  const now = Date.now();
  return db
    .transaction(() => {
      heartbeat(db).run(now, workerId);
      const renew = renewLease(db);
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

export function releaseLeases(
  db: Database.Database,
  leases: readonly { runId: string; leaseToken: string }[],
): number {
  const now = Date.now();
  const release = releaseLease(db);
  return db
    .transaction(() =>
      leases.reduce((n, l) => n + release.run(now, l.runId, l.leaseToken).changes, 0),
    )
    .immediate();
}

export function nextWakeAt(db: Database.Database): number | null {
  const row = earliestWake(db).get() as { at: number | null };
  return row.at;
}
