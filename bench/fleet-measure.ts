/** Figures the fleet benchmark reports, computed from what its clients recorded. */

/** One LLM call as a client saw it. */
export interface CallRecord {
  /** ms since the run started. */
  at: number;
  tenant: string;
  agent: number;
  ok: boolean;
  inputTokens: number;
  outputTokens: number;
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
 * Useful throughput over the binding limit: tokens (and requests) of the
 * agents that completed — work done for an agent that then failed is waste —
 * per second of the run, divided by each limit's per-second rate; the
 * binding limit is the one used the most.
 */
export function goodputOfLimit(
  calls: readonly CallRecord[],
  completedAgents: ReadonlySet<number>,
  durationMs: number,
  limits: { rpm: number; tpm: number },
): { goodputOfLimit: number; binding: "rpm" | "tpm"; usefulTokens: number } {
  const useful = calls.filter((c) => c.ok && completedAgents.has(c.agent));
  const tokens = useful.reduce((n, c) => n + c.inputTokens + c.outputTokens, 0);
  const seconds = durationMs / 1000;
  const ofTpm = tokens / seconds / (limits.tpm / 60);
  const ofRpm = useful.length / seconds / (limits.rpm / 60);
  return ofTpm >= ofRpm
    ? { goodputOfLimit: round(ofTpm), binding: "tpm", usefulTokens: tokens }
    : { goodputOfLimit: round(ofRpm), binding: "rpm", usefulTokens: tokens };
}

/**
 * Fairness while every tenant still had work queued: tokens served per
 * tenant from the start until the first tenant ran out of work.
 */
export function contendedFairness(
  calls: readonly CallRecord[],
  tenants: readonly string[],
): { jainFairness: number; windowMs: number; tokensByTenant: Record<string, number> } {
  const lastByTenant = tenants.map((t) =>
    Math.max(0, ...calls.filter((c) => c.tenant === t).map((c) => c.at)),
  );
  const windowMs = Math.min(...lastByTenant);
  const tokensByTenant = Object.fromEntries(tenants.map((t) => [t, 0]));
  for (const c of calls)
    if (c.ok && c.at <= windowMs)
      tokensByTenant[c.tenant] = (tokensByTenant[c.tenant] ?? 0) + c.inputTokens + c.outputTokens;
  return {
    jainFairness: round(jainIndex(Object.values(tokensByTenant))),
    windowMs,
    tokensByTenant,
  };
}

/**
 * The busiest `windowMs` of admissions over the limit, per bucket, across
 * every process: above 1 means the processes together exceeded the limit.
 */
export function busiestWindowOverLimit(
  admissions: readonly { at: number; tokens: number }[],
  windowMs: number,
  limits: { rpm: number; tpm: number },
): { admittedOverLimit: number; requests: number; tokens: number } {
  const sorted = [...admissions].sort((a, b) => a.at - b.at);
  let best = { requests: 0, tokens: 0 };
  let start = 0;
  let tokens = 0;
  for (let end = 0; end < sorted.length; end++) {
    tokens += sorted[end]?.tokens ?? 0;
    while ((sorted[start]?.at ?? 0) <= (sorted[end]?.at ?? 0) - windowMs) {
      tokens -= sorted[start]?.tokens ?? 0;
      start++;
    }
    best = {
      requests: Math.max(best.requests, end - start + 1),
      tokens: Math.max(best.tokens, tokens),
    };
  }
  const perWindow = windowMs / 60_000;
  return {
    admittedOverLimit: round(
      Math.max(best.requests / (limits.rpm * perWindow), best.tokens / (limits.tpm * perWindow)),
    ),
    ...best,
  };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
