/* What workers tell the store and ask of it: claims, and the agents and versions they run. */

export interface ClaimOptions {
  workerId: string;
  agents: readonly string[];
  limit: number;
  leaseMs: number;
  /**
   * The worker's version of each agent: a run with a recorded version is
   * claimed only when its agent's entry accepts it, and each claim records
   * the entry's version. Agents without an entry claim any run (unversioned).
   */
  versions?: readonly AgentVersionInfo[];
  /**
   * Journal each run's `run.resumed` (this worker, its version of the
   * agent) in the claim itself and return each run with its journal: the
   * execution then starts with nothing to read or write first (on
   * PostgreSQL one round trip instead of three; on SQLite one transaction
   * instead of three, and one flush instead of two).
   */
  withJournals?: boolean;
}

/** One agent as a worker runs it: its version and the run versions it resumes. */
export interface AgentVersionInfo {
  agent: string;
  version: string;
  /** Its own version first, then the versions it is declared compatible with. */
  accepts: readonly string[];
}

/** An agent a live worker runs (its presence is renewed with its leases). */
export interface LiveWorkerAgent extends AgentVersionInfo {
  workerId: string;
}

/** Unfinished runs of one agent at one recorded version. */
export interface RunVersionCount {
  agent: string;
  version: string;
  count: number;
}
