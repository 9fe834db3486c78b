import type { Store } from "../../src/store/types.js";

/**
 * Notes when each run's cancel request became durable: the moment the
 * store's `requestCancel` returned (its commit done), first time per run.
 * Anything a tool starts after it is a start after the stop.
 */
export function recordCancelRequests(store: Store): Map<string, number> {
  const durable = new Map<string, number>();
  const request = store.requestCancel.bind(store);
  store.requestCancel = async (runId, reason) => {
    const run = await request(runId, reason);
    if (!durable.has(runId)) durable.set(runId, Date.now());
    return run;
  };
  return durable;
}
