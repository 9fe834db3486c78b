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
