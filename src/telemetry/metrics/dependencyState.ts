import type { Dependency } from "../../resilience/Dependency.js";

/**
 * Retries this worker may still make to a dependency in the budget's
 * current window: the larger of the floor and `ratio` × requests, less the
 * retries made. Counts other workers published at the last heartbeat are
 * not included, so on a fleet the shared budget may be lower.
 */
export function retryBudgetLeft(d: Dependency): number {
  const { requests, retries } = d.budget.local();
  const { ratio, minRetriesPerWindow } = d.budget.options;
  return Math.max(0, Math.floor(Math.max(minRetriesPerWindow, ratio * requests) - retries));
}
