import type { VersionsAtStep } from "../core/errors.js";
import type { AgentVersionInfo, JournalEvent, Store } from "../store/types.js";
import type { Agent } from "./Agent.js";

/** What a worker knows of its agents: enough to say which versions it runs. */
export interface AgentCatalog {
  agentNames(): string[];
  agentByName(name: string): Agent | undefined;
}

/** The version of each agent the catalog defines, and the run versions it resumes. */
export function versionsOf(catalog: AgentCatalog): AgentVersionInfo[] {
  return catalog.agentNames().flatMap((name) => {
    const agent = catalog.agentByName(name);
    return agent ? [{ agent: name, version: agent.version, accepts: agent.accepts }] : [];
  });
}

/** Unfinished runs of one agent at a version the worker does not resume. */
export interface OtherVersionRuns {
  agent: string;
  /** The version the runs are at. */
  version: string;
  /** The worker's version of the agent. */
  workerVersion: string;
  count: number;
}

/**
 * Unfinished runs of the catalog's agents recorded at versions it does not
 * accept: runs this worker will never resume, which need a worker at their
 * version (or a `compatibleWith` that lists it).
 */
export async function otherVersionRuns(
  store: Store,
  catalog: AgentCatalog,
): Promise<OtherVersionRuns[]> {
  const mine = new Map(versionsOf(catalog).map((v) => [v.agent, v]));
  const counts = await store.runVersions([...mine.keys()]);
  return counts.flatMap((c) => {
    const own = mine.get(c.agent);
    return own && !own.accepts.includes(c.version)
      ? [{ agent: c.agent, version: c.version, workerVersion: own.version, count: c.count }]
      : [];
  });
}

/** One line per agent and version, for a worker's start-up warning. */
export function describeOtherVersionRuns(waiting: readonly OtherVersionRuns[]): string {
  return waiting
    .map(
      (w) =>
        `${w.count} unfinished run(s) of agent '${w.agent}' at version ${w.version} ` +
        `(this worker runs ${w.workerVersion}; keep a worker at ${w.version} until they finish)`,
    )
    .join("; ");
}

/**
 * The versions a non-determinism is between: the one whose execution
 * journaled the step (the last `run.resumed` before the step's first event)
 * and the one replaying it now.
 */
export function versionsAtStep(
  events: readonly JournalEvent[],
  step: string,
  agent: string,
  current: string | null,
): VersionsAtStep {
  let recorded: string | null = null;
  for (const e of events) {
    if (e.step === step) break;
    if (e.type === "run.resumed") {
      const v = (e.data as { agentVersion?: unknown } | null)?.agentVersion;
      recorded = typeof v === "string" ? v : null;
    }
  }
  return { agent, recorded, current };
}
