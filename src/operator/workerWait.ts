import { settles, type LiveWorkerAgent, type RunRecord } from "../store/types.js";

/** A run no live worker will execute: no live worker defines its agent, or none at its version. */
export interface WorkerWait {
  runId: string;
  agent: string;
  /** The version the run is at (null: no worker has executed it yet, any version may). */
  version: string | null;
  /** The versions live workers run the agent at (empty: none defines it). */
  liveVersions: string[];
  message: string;
}

/** Whether a worker must still claim the run: it is not settled and no lease holds it. */
function needsWorker(run: RunRecord, now: number): boolean {
  if (settles(run.status)) return false;
  if (run.status !== "running") return true;
  return run.leaseExpiresAt !== null && run.leaseExpiresAt < now;
}

/**
 * Why the run waits for a worker that is not there, or null when a live
 * worker would take it (or it needs none). Workers that predate presence
 * announcements are not seen.
 */
export function workerWait(
  run: RunRecord,
  live: readonly LiveWorkerAgent[],
  now = Date.now(),
): WorkerWait | null {
  if (!needsWorker(run, now)) return null;
  const mine = live.filter((l) => l.agent === run.agent);
  const version = run.agentVersion;
  const wanted = `agent '${run.agent}'${version === null ? "" : ` version ${version}`}`;
  const liveVersions = [...new Set(mine.map((l) => l.version))];
  const base = { runId: run.id, agent: run.agent, version, liveVersions };
  if (mine.length === 0)
    return { ...base, message: `waiting for a worker with ${wanted}: no live worker defines it` };
  if (version !== null && !mine.some((l) => l.accepts.includes(version)))
    return {
      ...base,
      message: `waiting for a worker with ${wanted}: live workers run it at version ${liveVersions.join(", ")}`,
    };
  return null;
}
