import { spentBy } from "../deadletter/capture.js";
import type { JournalEvent, RunRecord, RunStatus, Store } from "../store/types.js";
import type { RunCost } from "./runView.js";

/** One line of a runs list: the run with what it cost and how old it is. */
export interface RunSummary {
  id: string;
  agent: string;
  status: RunStatus;
  tenant: string | null;
  parentId: string | null;
  createdAt: number;
  updatedAt: number;
  ageMs: number;
  cancelRequested: boolean;
  error: { code: string | null; message: string } | null;
  cost: RunCost;
}

/** Journals read at once while summarizing: enough to overlap I/O, few enough to leave the pool free. */
const PARALLEL_READS = 8;

/** Calls `fn` on each item, at most `limit` at a time, keeping the order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

export function runSummary(
  run: RunRecord,
  events: readonly JournalEvent[],
  now: number,
): RunSummary {
  return {
    id: run.id,
    agent: run.agent,
    status: run.status,
    tenant: run.tenant,
    parentId: run.parentId,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    ageMs: Math.max(0, now - run.createdAt),
    cancelRequested: run.cancelRequested,
    error: run.error ? { code: run.error.code ?? null, message: run.error.message } : null,
    cost: spentBy(events),
  };
}

/** Summaries of the runs, their costs read from their journals (LLM steps report usage and cost). */
export function runSummaries(
  store: Store,
  runs: readonly RunRecord[],
  now = Date.now(),
): Promise<RunSummary[]> {
  return mapLimited(runs, PARALLEL_READS, async (run) =>
    runSummary(run, await store.readJournal(run.id), now),
  );
}
