/** Figures the fleet benchmark reports, computed from what its clients recorded. */

/** One successful LLM call as a client saw it. */
export interface CallRecord {
  /** ms from the start of the window to the answer. */
  at: number;
  thread: number;
  task: number;
  tenant: string;
  inputTokens: number;
  outputTokens: number;
}

export const taskKey = (thread: number, task: number): string => `${thread}:${task}`;

/** A key's limits per minute; its buckets hold one minute's worth and refill continuously. */
export interface KeyLimits {
  rpm: number;
  tpm: number;
}

/** Jain's index: 1 when every share is equal, 1/n when one party has everything. */
export function jainIndex(xs: readonly number[]): number {
  const sum = xs.reduce((a, b) => a + b, 0);
  const squares = xs.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares);
}

export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

/**
 * Useful work over the capacity the key could admit in the window: its
 * buckets start full and refill at their rate, so no client can be served
 * more than `limit + limit/min × window` (the simulator reserves max_tokens
 * at admission and the answers never exceed it, so its buckets never go into
 * debt): the figure is at most 1 by construction. Useful means answered
 * within the window, for a task that did not fail — work done for a task
 * that then failed is waste. Tasks still running when the window closed
 * count. The binding bucket is the one closer to its capacity.
 */
export function goodputOfAdmissible(
  calls: readonly CallRecord[],
  failedTasks: ReadonlySet<string>,
  windowMs: number,
  limits: KeyLimits,
): {
  goodputOfAdmissible: number;
  binding: "rpm" | "tpm";
  usefulCalls: number;
  usefulTokens: number;
  admissible: { requests: number; tokens: number };
} {
  const useful = calls.filter(
    (c) => c.at <= windowMs && !failedTasks.has(taskKey(c.thread, c.task)),
  );
  const tokens = useful.reduce((n, c) => n + c.inputTokens + c.outputTokens, 0);
  const minutes = windowMs / 60_000;
  const admissible = {
    requests: Math.floor(limits.rpm * (1 + minutes)),
    tokens: Math.floor(limits.tpm * (1 + minutes)),
  };
  const ofRpm = useful.length / admissible.requests;
  const ofTpm = tokens / admissible.tokens;
  return {
    goodputOfAdmissible: round(Math.max(ofRpm, ofTpm)),
    binding: ofTpm >= ofRpm ? "tpm" : "rpm",
    usefulCalls: useful.length,
    usefulTokens: tokens,
    admissible,
  };
}

/**
 * Jain's index over the useful tokens each tenant was served in the window,
 * and over its second half alone: once the key's initial bucket is spent,
 * every tenant is waiting for the same refill, so that half shows how the
 * scheduler shares a contended key; the whole window also shows who was
 * there first while the bucket was full.
 */
export function tenantFairness(
  calls: readonly CallRecord[],
  failedTasks: ReadonlySet<string>,
  windowMs: number,
  tenants: readonly string[],
): {
  jainFairness: number;
  jainFairnessSecondHalf: number;
  tokensByTenant: Record<string, number>;
} {
  const served = (from: number): Record<string, number> => {
    const out = Object.fromEntries(tenants.map((t) => [t, 0]));
    for (const c of calls)
      if (c.at >= from && c.at <= windowMs && !failedTasks.has(taskKey(c.thread, c.task)))
        out[c.tenant] = (out[c.tenant] ?? 0) + c.inputTokens + c.outputTokens;
    return out;
  };
  const tokensByTenant = served(0);
  return {
    jainFairness: round(jainIndex(Object.values(tokensByTenant))),
    jainFairnessSecondHalf: round(jainIndex(Object.values(served(windowMs / 2)))),
    tokensByTenant,
  };
}

/**
 * How far the processes sharing one limiter overdrew the key's buckets: the
 * most they admitted in any interval beyond what the bucket refilled in it,
 * over the bucket's capacity (one minute's worth). At most 1: together they
 * never took more than the provider's bucket held.
 */
export function admittedOverBucket(
  admissions: readonly { at: number; tokens: number }[],
  limits: KeyLimits,
): { admittedOverBucket: number; requests: number; tokens: number } {
  const sorted = [...admissions].sort((a, b) => a.at - b.at);
  const peak = (units: (a: { tokens: number }) => number, perMinute: number): number => {
    const rate = perMinute / 60_000;
    let cumulative = 0;
    let lowest = Infinity;
    let best = 0;
    for (const a of sorted) {
      // The interval may start at this admission: count from just before it.
      lowest = Math.min(lowest, cumulative - rate * a.at);
      cumulative += units(a);
      best = Math.max(best, cumulative - rate * a.at - lowest);
    }
    return best / perMinute;
  };
  const requests = round(peak(() => 1, limits.rpm));
  const tokens = round(peak((a) => a.tokens, limits.tpm));
  return { admittedOverBucket: Math.max(requests, tokens), requests, tokens };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
